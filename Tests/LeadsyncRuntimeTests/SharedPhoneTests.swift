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

/// Two GHL contacts with one phone are one CallTools contact: a do-not-call on either keeps the
/// number out of every bucket, whichever is processed first and whatever the source left out.
@Suite(.serialized) struct SharedPhoneTests {
    static let phone = "+14155550190"

    /// `dnc` has Call DND in GHL; `lead` is a cold lead with the same phone, typed differently.
    func seed(_ h: ExecutorHarness) async throws {
        let dnc = try JSONParser.parse(
            #"{"id":"dnc","type":"lead","firstName":"Ana","phone":"+14155550190","tags":[],"dnd":false,"dndSettings":{"Call":{"status":"active","message":"","code":""}}}"#
        )
        let lead = try JSONParser.parse(
            #"{"id":"lead","type":"lead","firstName":"Ben","phone":"(415) 555-0190","tags":["cold lead"],"dnd":false,"dndSettings":{"Call":{"status":"inactive","message":"","code":""}}}"#
        )
        await h.server.state.putGHLContact(try #require(dnc.objectValue))
        await h.server.state.putGHLContact(try #require(lead.objectValue))
    }

    /// As GHL search answers when it leaves out dndSettings.
    func fromSearch(_ id: String, _ phone: String, tags: [String]) throws -> Contact {
        let tagList = tags.map { "\"\($0)\"" }.joined(separator: ",")
        return try InboundContact.decode(
            try JSONParser.parse(
                #"{"id":"\#(id)","type":"lead","phone":"\#(phone)","tags":[\#(tagList)],"dnd":false}"#),
            defaultEventType: "batch", expecting: .api
        ).contact
    }

    func excludedBy(_ outcome: Executor.Outcome, _ h: ExecutorHarness) throws -> [String] {
        let rules = try ExecutorHarness.compile(Fixtures.coldLeadsFile)
        return outcome.decision.matchedExclusions.map { rules.exclusions[$0].name }
    }

    /// The Call-DND contact first (its search data shows nothing): the cold lead reads it whole,
    /// finds the do-not-call, and is not created.
    @Test func theDoNotCallContactFirst() async throws {
        try await ExecutorHarness.with(rules: Fixtures.coldLeadsFile) { h in
            try await seed(h)
            let first = try await h.executor.process(try fromSearch("dnc", Self.phone, tags: []), source: .search)
            #expect(first.action == .skipped)
            #expect(try h.store.phoneRecord("dnc") == PhoneRecord(phone: Self.phone, exclusions: [], complete: false))

            let second = try await h.executor.process(
                try fromSearch("lead", "(415) 555-0190", tags: ["cold lead"]), source: .search)
            #expect(second.decision.buckets.isEmpty)
            #expect(try excludedBy(second, h) == ["do-not-call"])
            #expect(second.decision.trace.notes.contains { $0.contains("matched GHL contact dnc") })
            #expect(second.rereads == 2)  // itself, then the other contact with its phone
            #expect(await h.server.state.calltoolsContacts().isEmpty)
            let gets = await h.server.state.requests.filter { $0.method == "GET" && !$0.path.hasPrefix("/api/") }
            #expect(gets.map(\.path) == ["/contacts/lead", "/contacts/dnc"])
            // The read settled the other contact's record for the next time.
            #expect(
                try h.store.phoneRecord("dnc")
                    == PhoneRecord(phone: Self.phone, exclusions: ["do-not-call"], complete: true))
            let trail = try h.store.auditTrail("lead").map(\.summary)
            #expect(
                trail.contains {
                    $0.contains("GHL contact dnc has the same phone; read it whole: excluded by do-not-call")
                })
        }
    }

    /// The cold lead first (dialled), then the Call-DND contact: it reads itself whole, finds the
    /// do-not-call, and takes the shared CallTools contact out of its bucket.
    @Test func theDialledContactFirst() async throws {
        try await ExecutorHarness.with(rules: Fixtures.coldLeadsFile) { h in
            try await seed(h)
            let first = try await h.executor.process(
                try fromSearch("lead", "(415) 555-0190", tags: ["cold lead"]), source: .search)
            #expect(first.action == .created)
            let created = try #require(await h.server.state.calltoolsContacts().first)
            #expect(created.value["buckets"]?.arrayValue?.count == 1)

            let second = try await h.executor.process(try fromSearch("dnc", Self.phone, tags: []), source: .search)
            #expect(try excludedBy(second, h) == ["do-not-call"])
            #expect(second.action == .updated)
            let after = await h.server.state.calltoolsContacts()
            #expect(after.count == 1)
            #expect(after.values.first?["buckets"]?.arrayValue?.isEmpty == true)
            let patches = await h.server.state.requests.filter { $0.method == "PATCH" }
            #expect(patches.map(\.path) == ["/api/contacts/\(created.key)/"])
            #expect(try h.store.contact("dnc").applied.calltoolsId == created.key)

            // The cold lead again, unchanged: it stays out now.
            let third = try await h.executor.process(
                try fromSearch("lead", "(415) 555-0190", tags: ["cold lead"]), source: .search)
            #expect(third.decision.buckets.isEmpty)
            #expect(try excludedBy(third, h) == ["do-not-call"])
            #expect(await h.server.state.calltoolsContacts().values.first?["buckets"]?.arrayValue?.isEmpty == true)
        }
    }

    /// Both at once, many times over: whichever wins the phone, the number ends in no bucket.
    @Test func bothAtOnce() async throws {
        for round in 0..<10 {
            try await ExecutorHarness.with(rules: Fixtures.coldLeadsFile) { h in
                try await seed(h)
                let dnc = try fromSearch("dnc", Self.phone, tags: [])
                let lead = try fromSearch("lead", "(415) 555-0190", tags: ["cold lead"])
                let executor = h.executor
                async let a = executor.process(round % 2 == 0 ? dnc : lead, source: .search)
                async let b = executor.process(round % 2 == 0 ? lead : dnc, source: .search)
                _ = try await (a, b)
                let held = await h.server.state.calltoolsContacts().values
                #expect(held.allSatisfy { $0["buckets"]?.arrayValue?.isEmpty ?? true }, "round \(round)")
                #expect(held.count <= 1)
            }
        }
    }

    /// Two contacts with one phone and no exclusion: one CallTools contact, in its bucket.
    @Test func twoCleanContactsShareOneCallToolsContact() async throws {
        try await ExecutorHarness.with(rules: Fixtures.coldLeadsFile) { h in
            for id in ["a", "b"] {
                let c = try JSONParser.parse(
                    #"{"id":"\#(id)","phone":"+14155550191","tags":["cold lead"],"dnd":false,"dndSettings":{"Call":{"status":"inactive"}}}"#
                )
                await h.server.state.putGHLContact(try #require(c.objectValue))
                let contact = try InboundContact.decode(c, defaultEventType: "batch", expecting: .api).contact
                _ = try await h.executor.process(contact, source: .read)
            }
            let held = await h.server.state.calltoolsContacts()
            #expect(held.count == 1)
            #expect(held.values.first?["buckets"]?.arrayValue?.count == 1)
            #expect(try h.store.contact("b").applied.calltoolsId == held.keys.first)
        }
    }

    /// `by_phone: false` keeps an exclusion to its own contact.
    @Test func byPhoneFalseKeepsAnExclusionToItsContact() async throws {
        let file = Fixtures.coldLeadsFile.replacingOccurrences(
            of: "  - name: do-not-call\n", with: "  - name: do-not-call\n    by_phone: false\n")
        #expect(file != Fixtures.coldLeadsFile)
        let rules = try ExecutorHarness.compile(file)
        #expect(rules.exclusions.first { $0.name == "do-not-call" }?.byPhone == false)
        #expect(
            !RulesCompiler.compile(
                source: file.replacingOccurrences(of: "by_phone: false", with: "by_phone: 3"), file: "r.yaml"
            ).diagnostics.isEmpty)
        let engine = Engine(rules: rules)
        let lead = try fromSearch("lead", Self.phone, tags: ["cold lead"])
        let index = try #require(rules.exclusions.firstIndex { $0.name == "do-not-call" })
        // The engine itself: an exclusion from the phone is taken as matched, with a note.
        let state = ContactState(phoneExclusions: [PhoneExclusion(exclusion: index, contactId: "dnc")])
        let decision = engine.evaluate(lead, state: state, now: Fixtures.now)
        #expect(decision.buckets.isEmpty)
        #expect(decision.trace.notes == ["exclusion 'do-not-call' matched GHL contact dnc, which has the same phone"])
    }
}
