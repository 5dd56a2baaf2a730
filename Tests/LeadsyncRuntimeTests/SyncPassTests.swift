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

@Suite(.serialized) struct SyncPassTests {
    /// 1,200 contacts: three pages. Every third is a cold lead with a phone.
    static func seed(_ state: SandboxState, count: Int = 1200) async {
        // GHL's real budget (100 per 10 s) would make this test wait; rate limits are tested elsewhere.
        await state.setLimits(ghl: nil, calltools: nil)
        for i in 0..<count {
            var c = JSONObject()
            c["id"] = .string(String(format: "gc%05d", i))
            c["firstName"] = .string("N\(i)")
            c["phone"] = .string(String(format: "+1415555%04d", i))
            c["tags"] = .array(i % 3 == 0 ? [.string("cold lead")] : [.string("newsletter")])
            c["dateUpdated"] = .string(Timestamp(milliseconds: 1_700_000_000_000 + Int64(i) * 1000).iso8601)
            await state.putGHLContact(c)
        }
    }

    func pass(_ h: ExecutorHarness) throws -> SyncPass { try h.pass() }

    @Test func aFullPassThenAnUnchangedOneCostsOnlyTheSearchPages() async throws {
        try await ExecutorHarness.with { h in
            await Self.seed(h.server.state)
            var plan = SyncPass.Plan()
            let first = try await pass(h).run(SyncPass.Options(), plan: &plan)
            #expect(first.contacts == 1200 && first.pages == 3)
            #expect(first.created == 400 && first.failed == 0)
            #expect(await h.server.state.calltoolsContacts().count == 400)

            await h.server.state.clearRequests()
            let second = try await pass(h).run(SyncPass.Options(), plan: &plan)
            #expect(second.unchanged + second.skipped == 1200)
            let requests = await h.server.state.requests
            #expect(requests.filter { $0.path.hasPrefix("/api/") }.isEmpty)
            #expect(requests.map { "\($0.method) \($0.path)" } == Array(repeating: "POST /contacts/search", count: 3))
        }
    }

    @Test func aCancelledPassResumesFromItsCheckpoint() async throws {
        try await ExecutorHarness.with { h in
            await Self.seed(h.server.state)
            let sync = try pass(h)
            let task = Task {
                var plan = SyncPass.Plan()
                return try await sync.run(
                    SyncPass.Options(), plan: &plan,
                    onPage: { p in
                        if p.pages == 1 { withUnsafeCurrentTask { $0?.cancel() } }
                    })
            }
            await #expect(throws: CancellationError.self) { _ = try await task.value }
            let interrupted = try #require(try h.store.interruptedRun(mode: "full"))
            #expect(interrupted.counts["contacts"] == 500)
            #expect(interrupted.checkpoint != nil)

            await h.server.state.clearRequests()
            var plan = SyncPass.Plan()
            let resumed = try await sync.run(SyncPass.Options(), plan: &plan)
            #expect(resumed.resumed)
            #expect(resumed.contacts == 1200)
            // Only the two remaining pages were read, and nobody was created twice.
            #expect(await h.server.state.requests.filter { $0.path == "/contacts/search" }.count == 2)
            #expect(await h.server.state.calltoolsContacts().count == 400)
            #expect(try h.store.interruptedRun(mode: "full") == nil)
        }
    }

    @Test func aDryRunPlansAndWritesNothing() async throws {
        try await ExecutorHarness.with { h in
            await Self.seed(h.server.state, count: 30)
            var plan = SyncPass.Plan()
            let p = try await pass(h).run(
                {
                    var o = SyncPass.Options(); o.dryRun = true; return o
                }(), plan: &plan)
            #expect(p.contacts == 30)
            #expect(plan.creates == ["cold": 10])
            #expect(plan.byRule == ["cold": 10])
            #expect(await h.server.state.requests.filter { $0.path.hasPrefix("/api/") }.isEmpty)
            #expect(try h.store.stats().contacts == 0)
            #expect(try h.store.interruptedRun(mode: "full") == nil)
        }
    }

    @Test func anIncrementalPassOnlyReadsWhatChanged() async throws {
        try await ExecutorHarness.with { h in
            await Self.seed(h.server.state, count: 20)
            var plan = SyncPass.Plan()
            var options = SyncPass.Options()
            options.mode = .incremental(since: Timestamp(milliseconds: 1_700_000_000_000 + 15_000))
            let p = try await pass(h).run(options, plan: &plan)
            #expect(p.contacts == 5)
            let body = await h.server.state.requests.first { $0.path == "/contacts/search" }?.body
            #expect(
                body?["filters"]
                    == .array([
                        .object(
                            JSONObject([
                                "field": .string("dateUpdated"), "operator": .string("range"),
                                "value": .object(JSONObject(["gte": .string("2023-11-14T22:13:35.000Z")])),
                            ]))
                    ]))
        }
    }
}

@Suite(.serialized) struct ImportDirectoryTests {
    @Test func aLargeImportReadsTheContactListInsteadOfLookingUpEachPhone() async throws {
        try await ExecutorHarness.with { h in
            await SyncPassTests.seed(h.server.state)  // 1,200 GHL contacts, 400 routed
            // CallTools already has 100 of the routed contacts (by phone) and 150 others: one list page.
            for i in stride(from: 0, to: 300, by: 3) {
                await h.server.state.putCallToolsContact(
                    JSONObject(["mobile_phone_number": .string(String(format: "+1415555%04d", i))]))
            }
            for i in 0..<150 {
                await h.server.state.putCallToolsContact(
                    JSONObject(["mobile_phone_number": .string(String(format: "+1212555%04d", i))]))
            }
            await h.server.state.clearRequests()
            var plan = SyncPass.Plan()
            let p = try await SyncPassTests().pass(h).run(SyncPass.Options(), plan: &plan)
            #expect(p.directoryPages == 1)
            #expect(p.created == 300 && p.updated == 100 && p.failed == 0)
            let ct = await h.server.state.requests.filter { $0.path.hasPrefix("/api/contacts/") }
            // One list page, then one call per contact: no phone lookups.
            #expect(ct.filter { $0.method == "GET" }.map(\.query) == [["page": "1", "page_size": "250"]])
            #expect(ct.filter { $0.method == "POST" }.count == 300)
            #expect(ct.filter { $0.method == "PATCH" }.count == 100)
            #expect(await h.server.state.calltoolsContacts().count == 550)

            // The next pass knows every contact: no list read, no CallTools call.
            await h.server.state.clearRequests()
            let again = try await SyncPassTests().pass(h).run(SyncPass.Options(), plan: &plan)
            #expect(again.directoryPages == 0)
            #expect(await h.server.state.requests.filter { $0.path.hasPrefix("/api/") }.isEmpty)
        }
    }

    /// GHL says its daily budget is spent: a command-line pass stops at its checkpoint with a
    /// message that says until when, and the run can be resumed.
    @Test func aSpentDailyBudgetStopsACommandLinePassAtItsCheckpoint() async throws {
        // No GHL write-backs: with the day spent, each would wait out GHL's 429s.
        try await ExecutorHarness.with(
            rules: Fixtures.executor.replacingOccurrences(of: "ghl_tags: { add: [in-calltools] }", with: "")
        ) { h in
            await SyncPassTests.seed(h.server.state, count: 1200)
            await h.server.state.setGHLDaily(limit: 1)  // the first page spends the day
            var plan = SyncPass.Plan()
            do {
                _ = try await SyncPassTests().pass(h).run(SyncPass.Options(), plan: &plan)
                Issue.record("the pass ignored a spent daily budget")
            } catch let failure as SyncPass.Failure {
                #expect(failure.message.contains("GHL's daily request budget is spent until"))
                #expect(failure.message.contains("resumes from there when run again"))
            }
            let searches = await h.server.state.requests.filter { $0.path == "/contacts/search" }
            #expect(searches.count == 1)
            let run = try #require(try h.store.interruptedRun(mode: "full"))
            #expect(run.checkpoint != nil)
        }
    }
}
