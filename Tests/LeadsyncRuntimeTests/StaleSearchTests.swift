import Foundation
import LeadsyncCore
import LeadsyncStore
import LeadsyncSync
import LeadsyncTestSupport
import LeadsyncValues
import Testing

@testable import LeadsyncRuntime
@testable import LeadsyncSandbox

/// GHL's search index lags its writes. A pass that reads a page before a webhook for one of its
/// contacts is applied must not act on the page's older data: it would put a lead who has just
/// asked not to be called back into a bucket.
@Suite(.serialized) struct StaleSearchTests {
    static let clock: @Sendable () -> Timestamp = { Fixtures.wallClock() }

    static let lead =
        #"{"id":"s1","type":"lead","phone":"+14155550151","tags":["cold lead"],"dnd":false,"#
        + #""dndSettings":{"Call":{"status":"inactive"}}}"#

    func buckets(_ h: ExecutorHarness) async -> [Int] {
        await h.server.state.calltoolsContacts().values.filter { $0["crm_id"]?.stringValue == "s1" }.flatMap {
            $0["buckets"]?.arrayValue?.compactMap { v -> Int? in
                if case .number(let n) = v { return Int(exactly: n) }
                return nil
            } ?? []
        }
    }

    func pass(_ h: ExecutorHarness) async throws -> SyncPass.Progress {
        var plan = SyncPass.Plan()
        return try await h.pass(rules: Fixtures.coldLeadsFile, now: Self.clock).run(SyncPass.Options(), plan: &plan)
    }

    @Test func aPassNeverUndoesANewerDndUpdate() async throws {
        try await ExecutorHarness.with(rules: Fixtures.coldLeadsFile, now: Self.clock) { h in
            let state = h.server.state
            await state.setLimits(ghl: nil, calltools: nil)
            await state.putGHLContact(try #require(JSONParser.parse(Self.lead).objectValue))
            await state.setSearchLag(milliseconds: 5_000)

            // A first pass dials the lead.
            _ = try await pass(h)
            #expect(await buckets(h) == [11237])

            // The lead asks not to be called. GHL has it at once, its search index not yet; the
            // ContactDndUpdate webhook is applied.
            let dnd = Self.lead.replacingOccurrences(of: "inactive", with: "active")
            await state.putGHLContact(try #require(JSONParser.parse(dnd).objectValue))
            let event = try InboundContact.decode(
                try JSONParser.parse(
                    dnd.replacingOccurrences(of: #"{"id""#, with: #"{"type":"ContactDndUpdate","id""#)))
            _ = try await h.executor.process(
                event.contact, source: .webhook("ContactDndUpdate"), observedAt: Self.clock())
            #expect(await buckets(h) == [])

            // A pass straight after: its page still says "inactive".
            await state.clearRequests()
            let progress = try await pass(h)
            let search = try #require(
                await state.requests.first { $0.path == "/contacts/search" }?.status)
            #expect(search == 200)
            #expect(progress.rereads == 1)
            #expect(await buckets(h) == [])
            let gets = await state.requests.filter { $0.method == "GET" }.map(\.path)
            #expect(gets == ["/contacts/s1"])
            let trail = try h.store.auditTrail("s1").map(\.summary)
            #expect(
                trail.contains {
                    $0.hasPrefix("re-read before acting (GHL search data of ")
                        && $0.contains("is older than the state applied from")
                })
        }
    }

    /// Without a newer applied state, a pass acts on its page and reads nothing more. What it
    /// applied counts as seen when it was applied (the page may be that new), so a webhook older
    /// than that is read again rather than taken over it.
    @Test func aPassOnDataNewerThanTheStateReadsNothingMore() async throws {
        try await ExecutorHarness.with(rules: Fixtures.coldLeadsFile, now: Self.clock) { h in
            let state = h.server.state
            await state.setLimits(ghl: nil, calltools: nil)
            await state.putGHLContact(try #require(JSONParser.parse(Self.lead).objectValue))
            let before = Self.clock()
            _ = try await pass(h)
            let stored = try h.store.contact("s1")
            let seen = try #require(stored.seenAt)
            #expect(seen >= before)
            // Compared with the next page: its request time less the index lag.
            let from = try #require(stored.seenFrom)
            #expect(from.milliseconds < seen.milliseconds - SyncPass.searchLag / 2)
            await state.clearRequests()
            let progress = try await pass(h)
            #expect(progress.rereads == 0)
            #expect(await state.requests.filter { $0.method == "GET" }.isEmpty)
            #expect(await buckets(h) == [11237])
        }
    }
}
