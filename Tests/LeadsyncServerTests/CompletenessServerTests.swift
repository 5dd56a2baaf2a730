import Foundation
import LeadsyncCore
import LeadsyncSandbox
import LeadsyncStore
import LeadsyncTestSupport
import LeadsyncValues
import Testing

@testable import LeadsyncServer

/// Through the server: by GHL's schemas, only `ContactDndUpdate` carries `dndSettings`. A
/// `ContactTagUpdate` that would dial a contact whose GHL record has Call DND never does.
@Suite(.serialized) struct CompletenessServerTests {
    func seed(_ h: ServerHarness, _ id: String, phone: String, call: String) async {
        var c = JSONObject()
        c["id"] = .string(id)
        c["type"] = .string("lead")
        c["firstName"] = .string("Ana")
        c["phone"] = .string(phone)
        c["dnd"] = .bool(false)
        c["tags"] = .array([.string("cold lead")])
        c["dndSettings"] = .object(JSONObject(["Call": .object(JSONObject(["status": .string(call)]))]))
        await h.state.putGHLContact(c)
    }

    @Test func aTagUpdateNeverPutsACallDNDContactIntoABucket() async throws {
        try await ServerHarness.with(rules: Fixtures.callDND) { h in
            await seed(h, "dnc1", phone: "+14155550170", call: "active")
            await seed(h, "dnc2", phone: "+14155550171", call: "permanent")
            await seed(h, "ok1", phone: "+14155550172", call: "inactive")
            try await h.running(emitter: false) { port in
                for (id, phone) in [("dnc1", "+14155550170"), ("dnc2", "+14155550171"), ("ok1", "+14155550172")] {
                    let status = try await h.post(port: port, ServerHarness.event(id: id, phone: phone))
                    #expect(status == 200)
                }
                try await eventually("the inbox to drain") { try h.store.inboxCounts().pending == 0 }
            }
            #expect(await h.calltoolsCount(crm: "dnc1") == 0)
            #expect(await h.calltoolsCount(crm: "dnc2") == 0)
            #expect(await h.calltoolsBuckets()["ok1"] == [11237])
            // Each was read in full before dialing; the trail shows what the read found.
            let gets = await h.state.requests.filter { $0.method == "GET" && $0.path.hasPrefix("/contacts/") }
            #expect(Set(gets.map(\.path)) == ["/contacts/dnc1", "/contacts/dnc2", "/contacts/ok1"])
            let trail = try h.store.auditTrail("dnc1").filter { $0.kind == .reread }.map(\.summary)
            #expect(trail.count == 1)
            #expect(trail.first?.contains("a ContactTagUpdate webhook may leave out dndSettings") == true)
            #expect(try h.store.inboxCounts().dead == 0)
        }
    }

    /// `ContactDndUpdate` carries the settings itself: no read.
    @Test func aDndUpdateIsDecidedOnItsOwnSettings() async throws {
        try await ServerHarness.with(rules: Fixtures.callDND) { h in
            await seed(h, "u1", phone: "+14155550180", call: "inactive")
            var o = JSONObject()
            o["type"] = .string("ContactDndUpdate")
            o["locationId"] = .string("sandboxLocation0001")
            o["id"] = .string("u1")
            o["phone"] = .string("+14155550180")
            o["tags"] = .array([.string("cold lead")])
            o["dnd"] = .bool(false)
            o["dndSettings"] = .object(JSONObject(["Call": .object(JSONObject(["status": .string("inactive")]))]))
            o["timestamp"] = .string(Fixtures.wallClock().iso8601)
            o["webhookId"] = .string(UUID().uuidString)
            let body = JSONWriter.encode(.object(o))
            try await h.running(emitter: false) { port in
                #expect(try await h.post(port: port, body) == 200)
                try await eventually("the inbox to drain") { try h.store.inboxCounts().pending == 0 }
            }
            #expect(await h.calltoolsBuckets()["u1"] == [11237])
            #expect(await h.state.requests.filter { $0.method == "GET" && $0.path.hasPrefix("/contacts/") }.isEmpty)
        }
    }
}

/// One phone on two GHL contacts is one CallTools contact: a Call DND on either keeps the number
/// out of every bucket through the server too, in both orders.
@Suite(.serialized) struct SharedPhoneServerTests {
    func seed(_ h: ServerHarness, _ id: String, phone: String, call: String, tags: [String]) async {
        var c = JSONObject()
        c["id"] = .string(id)
        c["type"] = .string("lead")
        c["phone"] = .string(phone)
        c["dnd"] = .bool(false)
        c["tags"] = .array(tags.map(JSON.string))
        c["dndSettings"] = .object(JSONObject(["Call": .object(JSONObject(["status": .string(call)]))]))
        await h.state.putGHLContact(c)
    }

    /// A tag update dials `lead`; `dnc`, with the same phone, has Call DND in GHL and an earlier
    /// tag update (no dndSettings in it) recorded nothing conclusive. The lead is never dialled.
    @Test func aTagUpdateNeverDialsAPhoneAnotherContactSaidNoFor() async throws {
        try await ServerHarness.with(rules: Fixtures.callDND) { h in
            await seed(h, "dnc", phone: "+14155550192", call: "active", tags: ["newsletter"])
            await seed(h, "lead", phone: "+14155550192", call: "inactive", tags: ["cold lead"])
            try await h.running(emitter: false) { port in
                let first = ServerHarness.event(id: "dnc", tags: ["newsletter"], phone: "+14155550192")
                #expect(try await h.post(port: port, first) == 200)
                try await eventually("the inbox to drain") { try h.store.inboxCounts().pending == 0 }
                #expect(try await h.post(port: port, ServerHarness.event(id: "lead", phone: "(415) 555-0192")) == 200)
                try await eventually("the inbox to drain") { try h.store.inboxCounts().pending == 0 }
            }
            #expect(await h.state.calltoolsContacts().isEmpty)
            #expect(try h.store.inboxCounts().dead == 0)
            let trail = try h.store.auditTrail("lead").map(\.summary)
            #expect(trail.contains { $0.contains("excluded by do-not-call") })
        }
    }

    /// The lead is in its bucket; then `dnc` (same phone) turns Call DND on: its
    /// `ContactDndUpdate` takes the shared CallTools contact out of the bucket.
    @Test func aDndUpdateOnTheOtherContactTakesThePhoneOut() async throws {
        try await ServerHarness.with(rules: Fixtures.callDND) { h in
            await seed(h, "lead", phone: "+14155550193", call: "inactive", tags: ["cold lead"])
            try await h.running(emitter: false) { port in
                #expect(try await h.post(port: port, ServerHarness.event(id: "lead", phone: "+14155550193")) == 200)
                try await eventually("the inbox to drain") { try h.store.inboxCounts().pending == 0 }
                #expect(await h.calltoolsBuckets()["lead"] == [11237])

                await seed(h, "dnc", phone: "+14155550193", call: "permanent", tags: [])
                var o = JSONObject()
                o["type"] = .string("ContactDndUpdate")
                o["locationId"] = .string("sandboxLocation0001")
                o["id"] = .string("dnc")
                o["phone"] = .string("+14155550193")
                o["tags"] = .array([])
                o["dnd"] = .bool(false)
                o["dndSettings"] = .object(
                    JSONObject(["Call": .object(JSONObject(["status": .string("permanent")]))]))
                o["timestamp"] = .string(Fixtures.wallClock().iso8601)
                o["webhookId"] = .string(UUID().uuidString)
                #expect(try await h.post(port: port, JSONWriter.encode(.object(o))) == 200)
                try await eventually("the inbox to drain") { try h.store.inboxCounts().pending == 0 }
            }
            let held = await h.state.calltoolsContacts()
            #expect(held.count == 1)
            #expect(held.values.first?["buckets"]?.arrayValue?.isEmpty == true)
            // The DND update carried its settings: no read was needed to act on it.
            let gets = await h.state.requests.filter { $0.method == "GET" && $0.path == "/contacts/dnc" }
            #expect(gets.isEmpty)
        }
    }
}

/// A contact waiting for an earlier create to settle is retried when the wait is over, without
/// spending an attempt: never a dead letter for it, even with one attempt allowed.
@Suite(.serialized) struct SettleServerTests {
    @Test func aSettlingCreateIsRetriedNotDeadLettered() async throws {
        try await ServerHarness.with(configure: { $0.maxAttempts = 1 }, createSettle: .milliseconds(800)) { h in
            await h.seed("st1", phone: "+14155550190")
            // A create for st1 was in flight a moment ago (a crash mid-create).
            try h.store.recordCreateIntent("st1", at: Fixtures.wallClock())
            try await h.running(emitter: false) { port in
                #expect(try await h.post(port: port, ServerHarness.event(id: "st1", phone: "+14155550190")) == 200)
                try await eventually("the inbox to drain") { try h.store.inboxCounts().pending == 0 }
            }
            #expect(try h.store.inboxCounts().dead == 0)
            #expect(await h.calltoolsBuckets()["st1"] == [11237])
            #expect(await h.calltoolsCount(crm: "st1") == 1)
        }
    }
}
