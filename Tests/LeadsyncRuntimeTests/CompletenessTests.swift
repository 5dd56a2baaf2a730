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

/// Never dial a contact who asked not to be called, whatever the source left out: a decision to
/// dial on data that may lack `dndSettings` re-reads the contact first, and a failed re-read
/// dials no one.
@Suite(.serialized) struct CompletenessTests {
    static let now = Timestamp(iso8601: "2026-11-29T12:00:00Z")!

    func pass(_ h: ExecutorHarness) throws -> SyncPass { try h.pass(rules: Fixtures.coldLeadsFile, now: { Self.now }) }

    /// A full pass over schema-complete sandbox contacts, with search answering with and without
    /// `dndSettings`: no Call-DND contact reaches CallTools either way, and CallTools ends the
    /// same as the engine says for the full contacts.
    @Test(arguments: [false, true])
    func aFullPassNeverDialsACallDNDContact(searchOmitsDnd: Bool) async throws {
        try await ExecutorHarness.with(rules: Fixtures.coldLeadsFile) { h in
            let state = h.server.state
            await state.setLimits(ghl: nil, calltools: nil)
            await state.setSearchOmitsDndSettings(searchOmitsDnd)
            let count = 400
            await SandboxPopulation.seed(state, count: count)

            var plan = SyncPass.Plan()
            let progress = try await pass(h).run(SyncPass.Options(), plan: &plan)
            #expect(progress.failed == 0)
            #expect(progress.contacts == count)

            let rules = try #require(RulesCompiler.compile(source: Fixtures.coldLeadsFile, file: "c.yaml").rules)
            let engine = Engine(rules: rules)
            var expected = Set<String>()
            var callDND = Set<String>()
            for i in 0..<count {
                let full = try #require(await state.ghlContact(SandboxPopulation.id(i)))
                let contact = try InboundContact.decode(.object(full), expecting: .api).contact
                if SandboxPopulation.hasCallDND(i) { callDND.insert(contact.id) }
                // A contact with the phone of a Call-DND contact is one number that said no.
                if let other = SandboxPopulation.sharesPhoneWith(i), SandboxPopulation.hasCallDND(other) {
                    callDND.insert(contact.id)
                    continue
                }
                if !engine.evaluate(contact, now: Self.now).buckets.isEmpty { expected.insert(contact.id) }
            }
            #expect(callDND.count > 30)
            // Some contacts the engine alone would dial share a Call-DND contact's phone.
            let sharing = (0..<count).filter { SandboxPopulation.sharesPhoneWith($0) != nil && $0 % 3 == 0 }
            #expect(sharing.count >= 2)
            let phones = await state.calltoolsContacts().values.flatMap {
                $0["_phone_numbers"]?.arrayValue?.compactMap(\.stringValue) ?? []
            }
            #expect(phones.count == Set(phones).count)
            let crmIds = Set(await state.calltoolsContacts().values.compactMap { $0["crm_id"]?.stringValue })
            #expect(crmIds.isDisjoint(with: callDND))
            #expect(crmIds == expected)

            // The cost: one GET per contact that would be dialled on search data lacking dndSettings.
            let gets = await state.requests.filter { $0.method == "GET" && $0.path.hasPrefix("/contacts/") }.count
            #expect(gets == progress.rereads)
            if searchOmitsDnd {
                #expect(progress.rereads >= expected.count)
            } else {
                #expect(progress.rereads < expected.count / 2)
            }
        }
    }

    /// The re-read finds Call DND: the contact is not created, and the trail says why.
    @Test func aSearchResultWithoutDndSettingsIsReadBeforeItIsDialled() async throws {
        try await ExecutorHarness.with(rules: Fixtures.coldLeadsFile) { h in
            let full = try JSONParser.parse(
                #"{"id":"d1","type":"lead","firstName":"Ana","phone":"+14155550132","tags":["cold lead"],"dnd":false,"dndSettings":{"Call":{"status":"permanent","message":"","code":""}}}"#
            )
            await h.server.state.putGHLContact(try #require(full.objectValue))
            let fromSearch = try InboundContact.decode(
                try JSONParser.parse(
                    #"{"id":"d1","type":"lead","firstName":"Ana","phone":"+14155550132","tags":["cold lead"],"dnd":false}"#
                ),
                defaultEventType: "batch", expecting: .api
            ).contact
            let outcome = try await h.executor.process(fromSearch, source: .search)
            #expect(outcome.decision.buckets.isEmpty)
            #expect(outcome.rereads == 1)
            let rules = try #require(RulesCompiler.compile(source: Fixtures.coldLeadsFile, file: "c.yaml").rules)
            #expect(outcome.decision.matchedExclusions.map { rules.exclusions[$0].name } == ["do-not-call"])
            #expect(await h.server.state.calltoolsContacts().isEmpty)
            let ghl = await h.server.state.requests.filter { !$0.path.hasPrefix("/api/") }
            #expect(ghl.map { "\($0.method) \($0.path)" } == ["GET /contacts/d1"])
            let trail = try h.store.auditTrail("d1").map(\.summary)
            #expect(
                trail.contains {
                    $0.contains("re-read before dialing (GHL search may leave out dndSettings)")
                        && $0.contains(#""Call":{"status":"permanent""#)
                })
        }
    }

    /// GHL sends empty fields as null as often as it leaves them out: a search result whose
    /// `dndSettings` is null or `{}` carries no setting, and is read before it is dialled.
    @Test(arguments: ["null", "{}"])
    func aSearchResultWithEmptyDndSettingsIsReadBeforeItIsDialled(sent: String) async throws {
        try await ExecutorHarness.with(rules: Fixtures.coldLeadsFile) { h in
            await h.server.state.putGHLContact(
                try #require(
                    JSONParser.parse(
                        #"{"id":"d6","phone":"+14155550137","tags":["cold lead"],"dndSettings":{"Call":{"status":"active"}}}"#
                    ).objectValue))
            let fromSearch = try InboundContact.decode(
                try JSONParser.parse(
                    #"{"id":"d6","phone":"+14155550137","tags":["cold lead"],"dndSettings":"# + sent + "}"),
                defaultEventType: "batch", expecting: .api
            ).contact
            let outcome = try await h.executor.process(fromSearch, source: .search)
            #expect(outcome.rereads == 1)
            #expect(outcome.decision.buckets.isEmpty)
            #expect(await h.server.state.calltoolsCreates.isEmpty)
        }
    }

    /// The same contact with its dndSettings given in full: no re-read.
    @Test func aContactWithItsDndSettingsIsNotReadAgain() async throws {
        try await ExecutorHarness.with(rules: Fixtures.coldLeadsFile) { h in
            let contact = try InboundContact.decode(
                try JSONParser.parse(
                    #"{"id":"d2","phone":"+14155550133","tags":["cold lead"],"dnd":false,"dndSettings":{"Call":{"status":"inactive"}}}"#
                ), defaultEventType: "batch", expecting: .api
            ).contact
            await h.server.state.putGHLContact(try #require(JSONParser.parse(#"{"id":"d2"}"#).objectValue))
            let outcome = try await h.executor.process(contact, source: .search)
            #expect(outcome.rereads == 0)
            #expect(outcome.action == .created)
            let ghl = await h.server.state.requests.filter { $0.method == "GET" && !$0.path.hasPrefix("/api/") }
            #expect(ghl.isEmpty)
        }
    }

    /// The re-read fails: the contact waits (a transient failure), and nothing reaches CallTools.
    @Test func aFailedReReadDialsNoOne() async throws {
        try await ExecutorHarness.with(rules: Fixtures.coldLeadsFile) { h in
            var faults = Faults()
            faults.errorRate = 1
            faults.pathPrefix = "/contacts/d3"
            faults.method = "GET"
            await h.server.state.setFaults(faults)
            let contact = try InboundContact.decode(
                try JSONParser.parse(#"{"id":"d3","phone":"+14155550134","tags":["cold lead"]}"#),
                defaultEventType: "ContactTagUpdate", expecting: .api
            ).contact
            do {
                _ = try await h.executor.process(contact, source: .webhook("ContactTagUpdate"))
                Issue.record("a contact was processed without its DND settings")
            } catch let error as Executor.Failure {
                #expect(error.transient)
                #expect(error.message.contains("not dialled yet"))
            }
            #expect(await h.server.state.calltoolsContacts().isEmpty)
            #expect(await h.server.state.calltoolsCreates.isEmpty)
        }
    }

    /// The re-read answers a DND GHL's schema does not allow (`"Call": "active"`): the contact is
    /// refused, not taken for "no DND", and nothing reaches CallTools.
    @Test func aReReadWithUnreadableDndDialsNoOne() async throws {
        try await ExecutorHarness.with(rules: Fixtures.coldLeadsFile) { h in
            await h.server.state.putGHLContact(
                try #require(
                    JSONParser.parse(
                        #"{"id":"d5","phone":"+14155550136","tags":["cold lead"],"dndSettings":{"Call":"active"}}"#
                    ).objectValue))
            let contact = try InboundContact.decode(
                try JSONParser.parse(#"{"id":"d5","phone":"+14155550136","tags":["cold lead"]}"#),
                defaultEventType: "batch", expecting: .api
            ).contact
            do {
                _ = try await h.executor.process(contact, source: .search)
                Issue.record("a contact was processed on a DND it could not read")
            } catch let error as Executor.Failure {
                #expect(!error.transient)
                #expect(
                    error.message
                        == #"re-read contact: 'dndSettings.Call' must be an object, found string "active": "#
                        + "leadsync does not act on a contact whose DND it cannot read")
            }
            #expect(await h.server.state.calltoolsCreates.isEmpty)
        }
    }

    /// A pass meets contacts whose DND cannot be read, as search returns them: each is counted
    /// failed, its trail says why, and only the readable lead is dialled.
    @Test func aPassRefusesContactsWhoseDndCannotBeRead() async throws {
        try await ExecutorHarness.with(rules: Fixtures.coldLeadsFile) { h in
            let state = h.server.state
            await state.setLimits(ghl: nil, calltools: nil)
            for text in [
                #"{"id":"u1","type":"lead","phone":"+14155550141","tags":["cold lead"],"dnd":false,"dndSettings":"active"}"#,
                #"{"id":"u2","type":"lead","phone":"+14155550142","tags":["cold lead"],"dnd":"yes"}"#,
                #"{"id":"u3","type":"lead","phone":"+14155550143","tags":["cold lead"],"dnd":false,"dndSettings":{"Call":{"status":7}}}"#,
                #"{"id":"ok","type":"lead","phone":"+14155550144","tags":["cold lead"],"dnd":"false","dndSettings":{"Call":{"status":"Inactive"}}}"#,
            ] {
                await state.putGHLContact(try #require(JSONParser.parse(text).objectValue))
            }
            var plan = SyncPass.Plan()
            let progress = try await pass(h).run(SyncPass.Options(), plan: &plan)
            #expect(progress.contacts == 4)
            #expect(progress.failed == 3)
            let crmIds = await state.calltoolsContacts().values.compactMap { $0["crm_id"]?.stringValue }
            #expect(crmIds == ["ok"])
            let trail = try h.store.auditTrail("u3").map(\.summary)
            #expect(
                trail == [
                    "not evaluated: GHL search returned an unusable contact: 'dndSettings.Call.status' must be a "
                        + "string, found number 7: leadsync does not act on a contact whose DND it cannot read"
                ])
        }
    }

    /// `completeness: trust_when_absent` skips the re-read, as documented (and warned about).
    @Test func trustWhenAbsentSkipsTheReRead() async throws {
        let rules = Fixtures.coldLeadsFile + "\ncompleteness: { trust_when_absent: [dndSettings] }\n"
        let compiled = try #require(RulesCompiler.compile(source: rules, file: "c.yaml").rules)
        #expect(compiled.completeness.trustedWhenAbsent == ["dndSettings"])
        let contact = try InboundContact.decode(
            try JSONParser.parse(#"{"id":"d4","phone":"+14155550135","tags":["cold lead"]}"#), expecting: .api
        ).contact
        let decision = Engine(rules: compiled).evaluate(contact, now: Self.now)
        #expect(compiled.fieldsToComplete(contact, source: .search, decision: decision).isEmpty)
        let strict = try #require(RulesCompiler.compile(source: Fixtures.coldLeadsFile, file: "c.yaml").rules)
        #expect(strict.fieldsToComplete(contact, source: .search, decision: decision) == ["dndSettings"])
        #expect(strict.fieldsToComplete(contact, source: .read, decision: decision).isEmpty)
        #expect(strict.fieldsToComplete(contact, source: .webhook("ContactDndUpdate"), decision: decision).isEmpty)
        #expect(
            strict.fieldsToComplete(contact, source: .webhook("ContactTagUpdate"), decision: decision) == [
                "dndSettings"
            ])
    }
}
