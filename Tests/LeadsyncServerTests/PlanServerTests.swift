import Foundation
import LeadsyncSandbox
import LeadsyncStore
import LeadsyncTestSupport
import LeadsyncValues
import Testing

@testable import LeadsyncServer

/// `POST /rules/plan`: admin only, the file as the body, the plan as `plan --json` gives it; a
/// file that does not compile is a 422 with its errors; nothing changes either way.
@Suite struct PlanServerTests {
    @Test func thePlanOfAnEditOverTheServersContacts() async throws {
        let admin = String(repeating: "p", count: 32)
        try await ServerHarness.with(configure: { $0.adminToken = admin }) { h in
            await h.seed("p1", phone: "+14155550231")
            await h.seed("p2", phone: "+14155550232")
            try await h.running(emitter: false) { port in
                for (id, phone) in [("p1", "+14155550231"), ("p2", "+14155550232")] {
                    #expect(try await h.post(port: port, ServerHarness.event(id: id, phone: phone)) == 200)
                }
                try await eventually("both in Cold") {
                    let b = await h.calltoolsBuckets()
                    let done = try h.store.inboxCounts().done
                    return b["p1"] == [11237] && b["p2"] == [11237] && done == 2
                }
                // The live rules were recorded at start.
                #expect(try h.store.liveRules()?.hash == h.server.rules.current.hash)
                let edited = Fixtures.server.replacingOccurrences(of: "has: cold lead", with: "has: warm lead")
                let auth = [("Authorization", "Bearer \(admin)")]
                let r = try await h.postText(port: port, "/rules/plan", edited, headers: auth)
                #expect(r.status == 200, "\(r.body)")
                let plan = try JSONParser.parse(Array(r.body.utf8))
                #expect(plan["moved"] == .number(2))
                #expect(plan["moves"]?.arrayValue?.first?["from"] == .array([.string("cold")]))
                #expect(plan["moves"]?.arrayValue?.first?["to"] == .array([]))
                #expect(plan["rules_stopping"]?["cold"] == .number(2))
                #expect(plan["calls"]?["removals"] == .number(2))
                let unchanged = try await h.postText(port: port, "/rules/plan", Fixtures.server, headers: auth)
                #expect(try JSONParser.parse(Array(unchanged.body.utf8))["moved"] == .number(0))
                let broken = try await h.postText(port: port, "/rules/plan", "version: 1\nrules: 7\n", headers: auth)
                #expect(broken.status == 422)
                #expect(try await h.postText(port: port, "/rules/plan", edited, headers: []).status == 401)
                // Nothing moved.
                #expect(await h.calltoolsBuckets()["p1"] == [11237])
            }
        }
    }

    /// `GET /sync/stats` during a pass: its progress and ETA at the CallTools budget. The pass is
    /// as its checkpoint leaves it in the store (a real pass under load is too quick or too slow
    /// to catch mid-way reliably): 300 of 1,200 contacts done, 100 created and 50 changed.
    @Test func aRunningPassHasAnETA() async throws {
        let admin = String(repeating: "e", count: 32)
        try await ServerHarness.with(configure: { $0.adminToken = admin }) { h in
            let id = try h.store.startRun(mode: "full", at: Fixtures.wallClock())
            try h.store.checkpoint(
                run: id, cursor: "null",
                counts: ["pages": 1, "contacts": 300, "created": 100, "updated": 50, "unchanged": 150, "total": 1200])
            try await h.running(emitter: false) { port in
                let r = try await h.get(port: port, "/sync/stats", headers: [("Authorization", "Bearer \(admin)")])
                let pass = try JSONParser.parse(Array(r.body.utf8))["running_pass"]
                #expect(pass?["id"] == .number(Double(id)))
                #expect(pass?["contacts"] == .number(300))
                #expect(pass?["total"] == .number(1200))
                // 250 calls for 300 contacts so far; 900 left at that rate: 750 calls.
                #expect(pass?["calltools_calls_left"] == .number(750))
                // The harness's budget (1000 per second) holds them all: no wait.
                #expect(pass?["eta_seconds"] == .number(0))
            }
        }
    }
}
