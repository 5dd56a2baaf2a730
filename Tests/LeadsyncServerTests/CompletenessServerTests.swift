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
