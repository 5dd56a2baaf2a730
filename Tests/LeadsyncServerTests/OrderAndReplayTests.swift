import Foundation
import LeadsyncCore
import LeadsyncSandbox
import LeadsyncStore
import LeadsyncTestSupport
import LeadsyncValues
import Testing

@testable import LeadsyncServer

/// Old events never win: an event older than what a contact's state was decided on is not
/// applied from its payload (GHL is read instead), and a signed event older than the replay
/// window is answered 200 `ignored` and never stored.
@Suite(.serialized) struct OrderAndReplayTests {
    static func event(id: String, phone: String, tags: [String], at: Timestamp) -> String {
        var o = JSONObject()
        o["type"] = .string("ContactTagUpdate")
        o["locationId"] = .string("sandboxLocation0001")
        o["id"] = .string(id)
        o["firstName"] = .string("Ana")
        o["phone"] = .string(phone)
        o["tags"] = .array(tags.map(JSON.string))
        o["timestamp"] = .string(at.iso8601)
        o["webhookId"] = .string(UUID().uuidString)
        return JSONWriter.encode(.object(o))
    }

    static func minutesAgo(_ m: Int64) -> Timestamp {
        Timestamp(milliseconds: Fixtures.wallClock().milliseconds - m * 60_000)
    }

    /// A newer `ContactTagUpdate` puts the lead in Cold Leads; an older one, delivered after it
    /// (a late GHL retry), would take it out. It does not: the contact is read from GHL, which
    /// still has the tag, and stays in its bucket.
    @Test func anOlderEventAfterANewerOneRollsNothingBack() async throws {
        try await ServerHarness.with { h in
            var c = JSONObject()
            c["id"] = .string("o1")
            c["firstName"] = .string("Ana")
            c["phone"] = .string("+14155550150")
            c["tags"] = .array([.string("cold lead")])
            await h.state.putGHLContact(c)
            try await h.running(emitter: false) { port in
                let newer = Self.event(id: "o1", phone: "+14155550150", tags: ["cold lead"], at: Self.minutesAgo(1))
                #expect(try await h.post(port: port, newer) == 200)
                try await eventually("the inbox to drain") { try h.store.inboxCounts().pending == 0 }
                #expect(await h.calltoolsBuckets()["o1"] == [11237])
                let seen = try #require(try h.store.contact("o1").seenAt)
                #expect(seen == Self.minutesAgo(1) || abs(seen.milliseconds - Self.minutesAgo(1).milliseconds) < 5_000)

                await h.state.clearRequests()
                let older = Self.event(id: "o1", phone: "+14155550150", tags: [], at: Self.minutesAgo(10))
                #expect(try await h.post(port: port, older) == 200)
                try await eventually("the inbox to drain") { try h.store.inboxCounts().pending == 0 }
            }
            #expect(await h.calltoolsBuckets()["o1"] == [11237])
            let reads = await h.state.requests.filter { $0.method == "GET" && $0.path == "/contacts/o1" }
            #expect(reads.count == 1)
            #expect(await h.state.requests.filter { $0.method == "PATCH" }.isEmpty)
            #expect(try h.store.inboxCounts().dead == 0)
        }
    }

    /// Without the rule the same older event, had it been newer, would have taken the lead out:
    /// the test above can fail.
    @Test func aNewerEventWithoutTheTagTakesTheLeadOut() async throws {
        try await ServerHarness.with { h in
            await h.seed("o2", phone: "+14155550151")
            try await h.running(emitter: false) { port in
                let first = Self.event(id: "o2", phone: "+14155550151", tags: ["cold lead"], at: Self.minutesAgo(10))
                #expect(try await h.post(port: port, first) == 200)
                try await eventually("the inbox to drain") { try h.store.inboxCounts().pending == 0 }
                #expect(await h.calltoolsBuckets()["o2"] == [11237])
                let later = Self.event(id: "o2", phone: "+14155550151", tags: [], at: Self.minutesAgo(1))
                #expect(try await h.post(port: port, later) == 200)
                try await eventually("the inbox to drain") { try h.store.inboxCounts().pending == 0 }
            }
            #expect(await h.calltoolsBuckets()["o2"] == [])
        }
    }

    /// A signed event captured 25 hours ago and sent again: 200 `ignored`, nothing stored.
    @Test func aTwentyFiveHourOldEventIsIgnored() async throws {
        try await ServerHarness.with { h in
            await h.seed("r1", phone: "+14155550152")
            try await h.running(emitter: false) { port in
                let old = Self.event(id: "r1", phone: "+14155550152", tags: ["cold lead"], at: Self.minutesAgo(25 * 60))
                let (status, answer) = try await h.postWithAnswer(port: port, old)
                #expect(status == 200)
                #expect(answer == #"{"status":"ignored"}"#)
                // One inside the window is taken.
                let fresh = Self.event(
                    id: "r1", phone: "+14155550152", tags: ["cold lead"], at: Self.minutesAgo(23 * 60))
                #expect(try await h.postWithAnswer(port: port, fresh).answer == #"{"status":"accepted"}"#)
                try await eventually("the inbox to drain") { try h.store.inboxCounts().pending == 0 }
                let metrics = try await h.get(port: port, "/metrics").body
                #expect(metrics.contains(#"leadsync_webhooks_ignored_total{reason="too-old"} 1"#))
            }
            #expect(try h.store.inboxCounts().done == 1)
        }
    }

    /// Weak secrets are refused at start, without echoing them.
    @Test func weakSecretsAreRefused() throws {
        for name in ["LEADSYNC_ADMIN_TOKEN", "LEADSYNC_WORKFLOW_SECRET"] {
            do {
                _ = try ServerConfiguration.fromEnvironment([name: "hunter2-is-not-a-secret"])
                Issue.record("\(name) of 23 characters was taken")
            } catch {
                #expect(error.description.hasPrefix("\(name) must be at least 32 characters (it has 23)"))
                #expect(!error.description.contains("hunter2"))
            }
            let strong = String(repeating: "k7", count: 16)
            let c = try ServerConfiguration.fromEnvironment([name: strong])
            #expect((name == "LEADSYNC_ADMIN_TOKEN" ? c.adminToken : c.workflowSecret) == strong)
        }
        #expect(throws: ServerConfiguration.Error.self) {
            try ServerConfiguration.fromEnvironment(["LEADSYNC_EVENT_MAX_AGE_HOURS": "0"])
        }
        #expect(
            try ServerConfiguration.fromEnvironment(["LEADSYNC_EVENT_MAX_AGE_HOURS": "2"]).eventMaxAge == .seconds(7200)
        )
    }
}
