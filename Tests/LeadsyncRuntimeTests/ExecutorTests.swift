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

/// The executor against the sandbox: exact calls, convergence, crash safety, faults.
@Suite(.serialized) struct ExecutorTests {
    /// Ana's create intent, and the contact CallTools made from it before the process died
    /// without recording the answer. Returns its CallTools id.
    static func createdBeforeACrash(_ h: ExecutorHarness) async throws -> Int {
        try h.store.recordCreateIntent("g1", at: Timestamp(milliseconds: 0))
        return await h.server.state.putCallToolsContact(
            JSONObject([
                "first_name": .string("Ana"), "mobile_phone_number": .string("+14155550132"),
                "crm_id": .string("g1"), "buckets": .array([.number(11237)]),
            ]))
    }

    static let ana = #"{"id":"g1","firstName":"Ana","phone":"(415) 555-0132","tags":["cold lead"]}"#

    @Test func aNewContactIsResolvedLookedUpAndCreatedThenCostsNothing() async throws {
        try await ExecutorHarness.with { h in
            let first = try await h.executor.process(try await h.contact(Self.ana))
            #expect(first.action == .created)
            #expect(first.calltoolsCalls == 2)
            let requests = await h.ctRequests
            #expect(
                requests.map { "\($0.method) \($0.path)" } == [
                    "GET /api/buckets/", "GET /api/alltags/", "POST /api/alltags/", "GET /api/contacts/",
                    "POST /api/contacts/",
                ])
            let create = try #require(requests.last?.body)
            #expect(
                JSONWriter.encode(create)
                    == #"{"first_name":"Ana","mobile_phone_number":"+14155550132","crm_id":"g1","buckets":[11237],"tags":[501]}"#
            )
            // The GHL write-back went through the tag endpoint.
            let ghl = await h.server.state.requests.filter { !$0.path.hasPrefix("/api/") }
            #expect(ghl.map { "\($0.method) \($0.path)" } == ["POST /contacts/g1/tags"])

            // Again, with GHL now carrying the write-back tag (as its webhook would): zero calls.
            await h.server.state.clearRequests()
            let again = try await h.executor.process(
                try await h.contact(
                    #"{"id":"g1","firstName":"Ana","phone":"(415) 555-0132","tags":["cold lead","in-calltools"]}"#))
            #expect(again.action == .unchanged)
            #expect(again.calltoolsCalls == 0 && again.ghlCalls == 0)
            #expect(await h.server.state.requests.isEmpty)
            #expect(try h.store.contact("g1").applied.calltoolsId == 1001)
        }
    }

    /// "Cold lead" is first met as a tag to remove (CallTools lacks it, so it is remembered as
    /// absent); the next contact that must carry it gets it created and set, in this executor
    /// and in one built later on the same database.
    @Test func aTagFirstMetAsARemovalIsCreatedForTheFirstContactThatNeedsIt() async throws {
        try await ExecutorHarness.with { h in
            let active = #"{"id":"g0","firstName":"Bo","phone":"(415) 555-0100","tags":["active"]}"#
            #expect(try await h.executor.process(try await h.contact(active)).action == .created)
            #expect(await h.server.state.tags.map(\.name) == ["Active client"])
            await h.server.state.clearRequests()
            #expect(try await h.executor.process(try await h.contact(Self.ana)).action == .created)
            let requests = await h.ctRequests
            #expect(
                requests.map { "\($0.method) \($0.path)" } == [
                    "GET /api/alltags/", "POST /api/alltags/", "GET /api/contacts/", "POST /api/contacts/",
                ])
            let cold = try #require(await h.server.state.tags.first { $0.name == "Cold lead" }?.id)
            #expect(requests.last?.body?["tags"] == .array([.number(Double(cold))]))

            try await ExecutorHarness.with(store: h.store, server: h.server) { later in
                let bea = #"{"id":"g2","firstName":"Bea","phone":"(415) 555-0199","tags":["cold lead"]}"#
                let outcome = try await later.executor.process(try await later.contact(bea))
                #expect(outcome.action == .created)
                let create = await h.server.state.calltoolsCreates.last
                #expect(create?.body?["tags"] == .array([.number(Double(cold))]))
            }
        }
    }

    @Test func aChangeIsOnePatchWithOnlyTheChange() async throws {
        try await ExecutorHarness.with { h in
            try await h.executor.process(try await h.contact(Self.ana))
            await h.server.state.clearRequests()
            let changed = try await h.executor.process(
                try await h.contact(
                    #"{"id":"g1","firstName":"Anna","phone":"(415) 555-0132","tags":["cold lead","in-calltools"]}"#))
            #expect(changed.action == .updated && changed.calltoolsCalls == 1)
            let requests = await h.ctRequests
            #expect(requests.map { "\($0.method) \($0.path)" } == ["PATCH /api/contacts/1001/"])
            #expect(requests.first?.body == .object(JSONObject(["first_name": .string("Anna")])))
        }
    }

    @Test func becomingAClientMovesBucketsAndMarks() async throws {
        try await ExecutorHarness.with { h in
            try await h.executor.process(try await h.contact(Self.ana))
            let moved = try await h.executor.process(
                try await h.contact(
                    #"{"id":"g1","firstName":"Ana","phone":"(415) 555-0132","tags":["cold lead","active","in-calltools"]}"#
                )
            )
            #expect(moved.action == .updated)
            let ct = await h.server.state.calltoolsContacts()[1001]
            #expect(ct?["buckets"] == .array([.number(11252)]))
            #expect(try h.store.contact("g1").markedCustomer)
            // The mark is sticky: without the active tag it still never returns to Cold.
            let later = try await h.executor.process(try await h.contact(Self.ana))
            #expect(later.decision.buckets.isEmpty)
            #expect(await h.server.state.calltoolsContacts()[1001]?["buckets"] == .array([]))
        }
    }

    @Test func aCreateWhoseAnswerIsLostNeverMakesASecondContact() async throws {
        try await ExecutorHarness.with { h in
            // CallTools performs the create, then the connection drops before the answer.
            var f = Faults()
            f.resetsAfterHandling = 1
            f.pathPrefix = "/api/contacts/"
            f.method = "POST"
            await h.server.state.setFaults(f)
            await #expect(throws: Executor.Failure.self) { try await h.executor.process(try await h.contact(Self.ana)) }
            // The intent was committed before the create; the id never came back.
            #expect(try h.store.contact("g1").applied == AppliedState(createPending: true))
            #expect(await h.server.state.calltoolsContacts().count == 1)

            // The retry looks the contact up by phone and adopts it: still one CallTools contact.
            let retry = try await h.executor.process(try await h.contact(Self.ana))
            #expect(await h.server.state.calltoolsContacts().count == 1)
            let stored = try h.store.contact("g1").applied
            #expect(stored.calltoolsId == 1001 && !stored.createPending)
            #expect(retry.calltoolsCalls == 1)  // the lookup; the create had set everything already
            #expect(await h.server.state.calltoolsCreates.count == 1)
        }
    }

    @Test func aRestartFindsAPendingCreateByPhone() async throws {
        try await ExecutorHarness.with { h in
            // A previous process recorded its intent, CallTools created the contact, then it died.
            let existing = try await Self.createdBeforeACrash(h)
            let outcome = try await h.executor.process(try await h.contact(Self.ana))
            #expect(await h.server.state.calltoolsContacts().count == 1)
            #expect(try h.store.contact("g1").applied.calltoolsId == existing)
            #expect(outcome.action == .updated)  // the tag was still missing
            #expect(await h.server.state.calltoolsCreates.isEmpty)
        }
    }

    /// A contact someone typed into CallTools by hand, its number in a local form: the lookup by
    /// the E.164 number finds it, and it is adopted, not created a second time.
    @Test func aHandEnteredNumberInAnotherFormIsFoundNotDuplicated() async throws {
        try await ExecutorHarness.with { h in
            let existing = await h.server.state.putCallToolsContact(
                JSONObject(["first_name": .string("Ana"), "mobile_phone_number": .string("(415) 555-0132")]))
            let outcome = try await h.executor.process(try await h.contact(Self.ana))
            #expect(outcome.action == .updated)
            #expect(await h.server.state.calltoolsContacts().count == 1)
            #expect(try h.store.contact("g1").applied.calltoolsId == existing)
            let lookup = try #require(await h.ctRequests.first { $0.path == "/api/contacts/" })
            #expect(lookup.query["phone_number"] == "+14155550132")
            #expect(await h.server.state.calltoolsCreates.isEmpty)
        }
    }

    @Test func aPendingCreateForAContactNoLongerRoutedLeavesItsBucket() async throws {
        try await ExecutorHarness.with { h in
            // The create happened before a crash; by the restart, Ana asked not to be called.
            let existing = try await Self.createdBeforeACrash(h)
            let dnd = #"{"id":"g1","firstName":"Ana","phone":"(415) 555-0132","tags":["cold lead"],"dnd":true}"#
            _ = try await h.executor.process(try await h.contact(dnd))
            let stored = try h.store.contact("g1")
            #expect(stored.applied.calltoolsId == existing && !stored.applied.createPending)
            #expect(await h.server.state.calltoolsContacts()[existing]?["buckets"] == .array([]))
            // A pending create that never happened is simply forgotten.
            try h.store.recordCreateIntent("g2", at: Timestamp(milliseconds: 0))
            let other = #"{"id":"g2","firstName":"Bo","phone":"(415) 555-0199","tags":[],"dnd":true}"#
            _ = try await h.executor.process(try await h.contact(other))
            #expect(try h.store.contact("g2").applied == AppliedState())
            #expect(await h.server.state.calltoolsContacts().count == 1)
        }
    }

    @Test func aRecentCreateIntentWaitsForTheCreateToSettleBeforeLookingUp() async throws {
        try await ExecutorHarness.with { h in
            let now = Timestamp(iso8601: "2026-11-29T12:00:00Z")!
            let ct = CallToolsClient(
                baseURL: h.server.baseURL, apiKey: "sandbox-calltools-key", client: h.http,
                budget: TokenBucket(capacity: 1000, period: .seconds(1)))
            let compiled = try #require(RulesCompiler.compile(source: Fixtures.executor, file: "e.yaml").rules)
            let clock = Clock(now)
            let executor = try Executor(
                rules: compiled, store: h.store, calltools: ct, ghl: nil, now: { clock.now }, createSettle: .seconds(30)
            )
            // The create was sent 10 s ago and its outcome is unknown: it may still be in flight.
            try h.store.recordCreateIntent("g1", at: Timestamp(milliseconds: now.milliseconds - 10_000))
            let contact = try await h.contact(Self.ana)
            await #expect {
                try await executor.process(contact)
            } throws: { error in
                guard let failure = error as? Executor.Failure else { return false }
                return failure.transient && failure.message.contains("may still be in flight")
            }
            #expect(await h.ctRequests.filter { $0.path == "/api/contacts/" }.isEmpty)  // no lookup, no create
            // 30 s after the intent, the lookup runs (and finds nothing: the create never arrived).
            clock.now = Timestamp(milliseconds: now.milliseconds + 20_001)
            let outcome = try await executor.process(contact)
            #expect(outcome.action == .created)
            #expect(await h.ctRequests.filter { $0.path == "/api/contacts/" }.map(\.method) == ["GET", "POST"])
        }
    }

    final class Clock: @unchecked Sendable {
        private let lock = NSLock()
        private var value: Timestamp
        init(_ t: Timestamp) { value = t }
        var now: Timestamp {
            get { lock.withLock { value } }
            set { lock.withLock { value = newValue } }
        }
    }

    @Test func rateLimitsAndServerErrorsEndInTheRightState() async throws {
        try await ExecutorHarness.with { h in
            var f = Faults()
            f.burst429 = 2
            f.retryAfterSeconds = 1
            await h.server.state.setFaults(f)
            let start = ContinuousClock.now
            let outcome = try await h.executor.process(try await h.contact(Self.ana))
            #expect(outcome.action == .created)
            #expect(ContinuousClock.now - start >= .milliseconds(950))
            let statuses = await h.server.state.requests.map(\.status)
            #expect(statuses.prefix(2) == [429, 429])
            #expect(await h.server.state.calltoolsContacts().count == 1)
        }
    }

    @Test func anExcludedContactIsNeverCreated() async throws {
        try await ExecutorHarness.with { h in
            let outcome = try await h.executor.process(
                try await h.contact(#"{"id":"g9","phone":"4155550132","dnd":true,"tags":["cold lead"]}"#))
            #expect(outcome.action == .skipped && outcome.calltoolsCalls == 0)
            #expect(await h.server.state.calltoolsContacts().isEmpty)
            #expect(try h.store.auditTrail("g9").map(\.kind) == [.decision, .outcome])
        }
    }

    @Test func theAuditTrailExplainsEverything() async throws {
        try await ExecutorHarness.with { h in
            try await h.executor.process(try await h.contact(Self.ana))
            // Latencies vary: compare with the milliseconds masked.
            func trail(_ id: String) throws -> [String] {
                try h.store.auditTrail(id).map { entry in
                    entry.summary.replacingOccurrences(
                        of: #" in \d+ ms"#, with: " in _ ms", options: .regularExpression)
                }
            }
            #expect(
                try trail("g1") == [
                    "batch: buckets [cold] by cold",
                    "GET /api/buckets/ → 200 in _ ms", "GET /api/alltags/ → 200 in _ ms",
                    "POST /api/alltags/ → 201 in _ ms",
                    "GET /api/contacts/ → 200 in _ ms", "no CallTools contact with this phone",
                    "POST /api/contacts/ → 201 in _ ms", "created CallTools contact 1001",
                    "POST /contacts/g1/tags → 201 in _ ms", "GHL tags +in-calltools", "created (2 CallTools calls)",
                ])
            // The same decision again, with nothing to do, writes nothing more.
            let again = #"{"id":"g1","firstName":"Ana","phone":"(415) 555-0132","tags":["cold lead","in-calltools"]}"#
            try await h.executor.process(try await h.contact(again))
            #expect(try trail("g1").count == 11)
            // An excluded contact's decision is recorded once, not on every pass.
            let excluded = #"{"id":"g9","dnd":true,"tags":["cold lead"]}"#
            try await h.executor.process(try await h.contact(excluded))
            try await h.executor.process(try await h.contact(excluded))
            #expect(try h.store.auditTrail("g9").map(\.kind) == [.decision, .outcome])
            // A different decision is recorded even when it costs no call.
            try await h.executor.process(try await h.contact(#"{"id":"g9","dnd":false,"tags":["newsletter"]}"#))
            #expect(try h.store.auditTrail("g9").map(\.kind) == [.decision, .outcome, .decision, .outcome])
        }
    }
}
