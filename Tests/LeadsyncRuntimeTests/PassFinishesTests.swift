import AsyncHTTPClient
import Foundation
import LeadsyncCore
import LeadsyncRules
import LeadsyncStore
import LeadsyncSync
import LeadsyncTestSupport
import LeadsyncValues
import Testing

@testable import LeadsyncRuntime
@testable import LeadsyncSandbox
@testable import LeadsyncUpstream

/// A pass finishes what it starts: a contact left waiting on a create's settle time, or on a
/// transient fault, is come back to before the pass ends, and the pass exits clean.
@Suite(.serialized) struct PassFinishesTests {

    func pass(_ h: ExecutorHarness, now: @escaping @Sendable () -> Timestamp) throws -> SyncPass {
        try h.pass(now: now)
    }

    /// A create intent younger than the settle time (a crash mid-create, just before this run):
    /// the pass waits it out, looks the contact up, and ends with nothing failed.
    @Test func aPassWaitsForAFreshIntentToSettleThenFinishesIt() async throws {
        // 10 s: the pass reaches this contact (its first) before, even on a loaded machine (CI once
        // took 3.2 s to get there; a full local suite, with the plan and kill tests beside it,
        // more than 6 s).
        try await ExecutorHarness.with(createSettle: .seconds(10), now: { Fixtures.wallClock() }) { h in
            await SyncPassTests.seed(h.server.state, count: 30)
            // gc00000 is a cold lead: an earlier run recorded its intent a moment ago.
            try h.store.recordCreateIntent("gc00000", at: Fixtures.wallClock())
            var plan = SyncPass.Plan()
            var waits: [String] = []
            var errors: [String] = []
            let progress = try await pass(h, now: { Fixtures.wallClock() }).run(
                SyncPass.Options(), plan: &plan, onError: { errors.append("\($0)") }, onWait: { waits.append($0) })
            #expect(errors.isEmpty)
            #expect(progress.failed == 0)
            #expect(progress.recovered == 1)
            #expect(progress.created == 10)
            #expect(progress.waited > .zero)  // how long depends on when the pass got there
            #expect(waits.count == 1)
            #expect(waits.first?.hasPrefix("waiting ") == true)
            #expect(waits.first?.hasSuffix(" s for 1 create to settle") == true)
            let crm = await h.server.state.calltoolsContacts().values.compactMap { $0["crm_id"]?.stringValue }
            #expect(crm.count == 10 && Set(crm).count == 10)
            #expect(try h.store.pendingCreateIds().isEmpty)
        }
    }

    /// An intent an interrupted run left on a page before its checkpoint: the next pass reads
    /// that contact again and finishes it, though its page is never read again.
    @Test func aPassFinishesIntentsLeftBeforeItsCheckpoint() async throws {
        try await ExecutorHarness.with { h in
            await SyncPassTests.seed(h.server.state, count: 30)
            var plan = SyncPass.Plan()
            // A create intent for gc00003, as if its create was cut off by a kill an hour ago.
            try h.store.recordCreateIntent("gc00003", at: Timestamp(iso8601: "2026-11-29T11:00:00Z")!)
            var options = SyncPass.Options()
            options.mode = .incremental(since: Timestamp(iso8601: "2030-01-01T00:00:00Z")!)  // reads no contact
            let progress = try await pass(h, now: { Timestamp(iso8601: "2026-11-29T12:00:00Z")! }).run(
                options, plan: &plan)
            #expect(progress.failed == 0 && progress.recovered == 1)
            #expect(try h.store.pendingCreateIds().isEmpty)
            let gets = await h.server.state.requests.filter { $0.method == "GET" && $0.path == "/contacts/gc00003" }
            #expect(gets.count == 1)
            let crm = await h.server.state.calltoolsContacts().values.compactMap { $0["crm_id"]?.stringValue }
            #expect(crm.filter { $0 == "gc00003" }.count == 1)
        }
    }

    /// CallTools answering 30 % 500, 5 % 429 (`Retry-After: 1`) and 5 % resets: at most three
    /// passes back to back converge, with no duplicate and no request inside a served
    /// Retry-After.
    @Test func passesConvergeUnderUpstreamFaults() async throws {
        try await ExecutorHarness.with(createSettle: .milliseconds(300), now: { Fixtures.wallClock() }) { h in
            let n = 150
            await SyncPassTests.seed(h.server.state, count: n)
            var faults = Faults()
            faults.errorRate = 0.30
            faults.throttleRate = 0.05
            faults.resetRate = 0.05
            faults.retryAfterSeconds = 1
            faults.pathPrefix = "/api/"
            await h.server.state.setFaults(faults)
            var options = SyncPass.Options()
            options.maxWait = .seconds(60)
            var last = SyncPass.Progress()
            var passes = 0
            for _ in 0..<3 {
                var plan = SyncPass.Plan()
                passes += 1
                last = try await pass(h, now: { Fixtures.wallClock() }).run(options, plan: &plan)
                if last.failed == 0 { break }
            }
            #expect(last.failed == 0, "still failing after \(passes) passes")
            let crm = await h.server.state.calltoolsContacts().values.compactMap { $0["crm_id"]?.stringValue }
            #expect(crm.count == n / 3 && Set(crm).count == n / 3, "a duplicate or a missing contact")
            // No CallTools request arrived inside a Retry-After the sandbox served.
            let ct = await h.server.state.requests.filter { $0.path.hasPrefix("/api/") }
            var served = 0
            for r in ct where r.status == 429 {
                guard let after = r.retryAfter else { continue }
                served += 1
                // Requests the client had sent before the 429 reached it (8 run at once) arrive
                // just after it, later still on a loaded machine: 600 ms of grace for those, then
                // nothing until Retry-After is over. A client that ignored it would land some of
                // its continuous stream of requests in the remaining 380 ms.
                let until = r.at + .milliseconds(Int64(after * 1000))
                let early = ct.filter { $0.at > r.at + .milliseconds(600) && $0.at < until - .milliseconds(20) }
                #expect(
                    early.isEmpty,
                    "\(early.count) requests inside a Retry-After, first \((early.first?.at ?? r.at) - r.at) after the 429"
                )
            }
            #expect(served > 0, "no 429 was served: the test shows nothing")
        }
    }
}
