import Foundation
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
}
