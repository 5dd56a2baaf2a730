import Foundation
import LeadsyncSandbox
import LeadsyncTestSupport
import LeadsyncValues
import Testing

@testable import LeadsyncServer

/// Rules that read custom fields: the catalog is fetched once for the whole server, and again
/// when a webhook carries a field GHL added since (then the rule sees it by its key).
@Suite(.serialized) struct CatalogTests {
    static func event(_ id: String, phone: String, fields: [(String, String)]) -> String {
        var o = JSONObject()
        o["type"] = .string("ContactUpdate")
        o["locationId"] = .string("sandboxLocation0001")
        o["id"] = .string(id)
        o["firstName"] = .string("Ana")
        o["phone"] = .string(phone)
        o["tags"] = .array([.string("cold lead")])
        o["customFields"] = .array(
            fields.map { .object(JSONObject(["id": .string($0.0), "value": .string($0.1)])) })
        o["timestamp"] = .string(Fixtures.wallClock().iso8601)
        o["webhookId"] = .string(UUID().uuidString)
        return JSONWriter.encode(.object(o))
    }

    @Test func theCatalogIsFetchedOnceAndAgainForAFieldAddedSince() async throws {
        try await ServerHarness.with(rules: Fixtures.customField) { h in
            await h.state.setCustomFields([.init(id: "cfTier", key: "contact.tier", name: "Tier")])
            try await h.running(emitter: false) { port in
                func fetches() async -> Int {
                    await h.state.requests.filter { $0.path.hasSuffix("/customFields") }.count
                }
                // A known field: one fetch; the rule reading `budget` does not match.
                #expect(
                    try await h.post(port: port, Self.event("k1", phone: "+14155550141", fields: [("cfTier", "gold")]))
                        == 200)
                try await eventually("k1 in the cold bucket") { await h.calltoolsBuckets()["k1"] == [11237] }
                #expect(await fetches() == 1)
                // GHL gains a field; a webhook carries it: fetched again, and the rule sees it by key
                // (both rules apply: neither stops the other).
                await h.state.setCustomFields([
                    .init(id: "cfTier", key: "contact.tier", name: "Tier"),
                    .init(id: "cfBudget", key: "contact.budget", name: "Budget"),
                ])
                #expect(
                    try await h.post(
                        port: port, Self.event("k2", phone: "+14155550142", fields: [("cfBudget", "high")]))
                        == 200)
                try await eventually("k2 in the active bucket too") {
                    Set(await h.calltoolsBuckets()["k2"] ?? []) == [11237, 11252]
                }
                #expect(await fetches() == 2)
                // Known fields again: no further fetch.
                #expect(
                    try await h.post(port: port, Self.event("k3", phone: "+14155550143", fields: [("cfBudget", "low")]))
                        == 200)
                try await eventually("k3 in the cold bucket") { await h.calltoolsBuckets()["k3"] == [11237] }
                #expect(await fetches() == 2)
                // An id GHL does not define: one more fetch, then never again for that id.
                for (i, id) in ["k4", "k5"].enumerated() {
                    let body = Self.event(id, phone: "+1415555015\(i)", fields: [("cfGone", "x")])
                    #expect(try await h.post(port: port, body) == 200)
                    try await eventually("\(id) in the cold bucket") { await h.calltoolsBuckets()[id] == [11237] }
                }
                #expect(await fetches() == 3)
            }
        }
    }
}
