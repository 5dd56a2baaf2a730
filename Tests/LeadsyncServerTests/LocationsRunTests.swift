import AsyncHTTPClient
import Crypto
import CryptoExtras
import Foundation
import Hummingbird
import LeadsyncCore
import LeadsyncRules
import LeadsyncSandbox
import LeadsyncStore
import LeadsyncSync
import LeadsyncTestSupport
import LeadsyncUpstream
import LeadsyncValues
import LeadsyncWebhooks
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Testing

@testable import LeadsyncServer

/// Issue 9's done-when, at a size CI can afford (`scripts/locations-check.sh` runs it at full
/// size): three locations in one appliance, each with its own rules and CallTools account; the
/// third reached by OAuth with an access token that expires every few seconds throughout. Signed
/// webhooks (a contact's tags changing several times) and then a full pass per location; every
/// contact of every location must end where `dry-run` of its GHL data under its location's rules
/// says, with no dead letter, no GHL budget exceeded (the sandboxes, one per location, count) and
/// no more 401s than token expiries.
///
/// `LEADSYNC_LOCATIONS_WEBHOOKS` (default 300, spread over the three locations) and
/// `LEADSYNC_LOCATIONS_TOKEN_SECONDS` (default 2) set the size; the webhooks are spread over
/// three token lifetimes, so the token expires again and again while they are applied.
@Suite(.serialized) struct LocationsRunTests {
    static let ids = ["locEast0001", "locWest0002", "locOAuth0003"]
    static let secretKey = "locations-run-secret-key-0123456789abcdef"

    static let rules: [String] = [
        Fixtures.server,
        // West: cold leads go to another bucket, and newsletters are dialled too.
        Fixtures.server.replacingOccurrences(of: "bucket: cold", with: "bucket: active")
            + """

              - name: newsletter
                when: { tags: { has: newsletter } }
                bucket: cold
            """,
        Fixtures.server,
    ]

    static func environment(_ name: String, _ fallback: Int) -> Int {
        ProcessInfo.processInfo.environment[name].flatMap(Int.init) ?? fallback
    }

    @Test func threeLocationsRouteEveryContactAsDryRunSays() async throws {
        let webhooks = Self.environment("LEADSYNC_LOCATIONS_WEBHOOKS", 300)
        let tokenSeconds = Self.environment("LEADSYNC_LOCATIONS_TOKEN_SECONDS", 2)
        let perLocation = max(webhooks / 3, 3)
        let contacts = max(perLocation * 2 / 5, 2)  // about 2.5 events per contact
        let quiet = max(contacts / 10, 1)  // contacts that get no webhook: only the pass finds them
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("leadsync-run-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let started = ContinuousClock.now
        var sandboxes: [SandboxServer] = []
        var env = [
            "GHL_CLIENT_ID": "sandbox-client-id", "GHL_CLIENT_SECRET": "sandbox-client-secret",
            "LEADSYNC_SECRET_KEY": Self.secretKey,
        ]
        var yaml = "locations:\n"
        for (i, id) in Self.ids.enumerated() {
            let state = SandboxState(locationId: id, ghlToken: "ghl-token-\(i)", calltoolsKey: "ct-key-\(i)")
            // GHL's real burst limit, per location (each sandbox is one location); CallTools unlimited.
            await state.setLimits(ghl: (100, 10_000), calltools: nil)
            if i == 2 { await state.enableOAuth(SandboxOAuthApp(accessTokenSeconds: tokenSeconds)) }
            let server = try await SandboxServer.start(state: state)
            sandboxes.append(server)
            env["TOKEN_\(i)"] = "ghl-token-\(i)"
            env["CT_KEY_\(i)"] = "ct-key-\(i)"
            try Self.rules[i].write(toFile: dir + "/rules-\(i).yaml", atomically: true, encoding: .utf8)
            let auth = i == 2 ? "oauth: true" : "token_env: TOKEN_\(i)"
            yaml += """
                  - id: \(id)
                    rules: rules-\(i).yaml
                    ghl: { \(auth), base_url: "\(server.baseURL)", rate_limit: 100/10 }
                    calltools: { key_env: CT_KEY_\(i), base_url: "\(server.baseURL)", rate_limit: 1000/1 }

                """
        }
        try yaml.write(toFile: dir + "/leadsync.yaml", atomically: true, encoding: .utf8)
        let file = try LocationsFile.load(dir + "/leadsync.yaml", env: env)
        let http = UpstreamHTTP.makeClient()
        let store = try LeadsyncDatabase.open(path: dir + "/leadsync.sqlite")
        let key = Curve25519.Signing.PrivateKey()
        var rng = SplitMix(seed: 9)
        let tagSets: [[String]] = [["cold lead"], ["cold lead", "customer"], ["newsletter"], [], ["cold lead"]]
        // Every contact's GHL data, and its event history.
        var events: [(location: Int, body: String)] = []
        for (l, s) in sandboxes.enumerated() {
            for c in 0..<(contacts + quiet) {
                await s.state.putGHLContact(Self.contact(l, c, tags: c >= contacts ? ["cold lead"] : []))
            }
            for n in 0..<perLocation {
                let c = Int(rng.next() % UInt64(contacts))
                events.append((l, Self.event(l, c, tags: tagSets[Int(rng.next() % UInt64(tagSets.count))], n: n)))
            }
        }
        do {
            let appliance = try LocationsTests.appliance(file, store: store, http: http, key: key) { config in
                config.retryBase = .milliseconds(50)
            }
            try await LocationsTests.serving(appliance) { port in
                // Connect the OAuth location as GHL's redirect would.
                let code = await sandboxes[2].state.issueCode()
                let (installed, _) = try await LocationsTests.post(
                    http, port: port, path: "/oauth/callback?code=\(code)", method: .GET)
                try #require(installed == 200)
                // The webhooks, in order, each after its contact's GHL data changed to match, spread
                // over three token lifetimes.
                let pace = Duration.seconds(tokenSeconds * 3) / max(events.count, 1)
                let sendStart = ContinuousClock.now
                for (i, e) in events.enumerated() {
                    try await Task.sleep(until: sendStart + pace * i, clock: .continuous)
                    let o = try #require(JSONParser.parse(e.body).objectValue)
                    await sandboxes[e.location].state.putGHLContact(o)
                    let (status, _) = try await LocationsTests.post(
                        http, port: port, path: "/webhook/ghl", body: e.body, key: key)
                    #expect(status == 200, "webhook \(i)")
                }
                try await eventually("every inbox drained", timeout: .seconds(max(60, webhooks / 5))) {
                    try Self.ids.allSatisfy { try store.scoped(location: $0, account: "").inboxCounts().pending == 0 }
                }
                // A full pass per location, at once: each spends its own budget.
                for id in Self.ids {
                    let (status, _) = try await LocationsTests.post(
                        http, port: port, path: "/sync/trigger?location=\(id)&full=true", method: .POST,
                        bearer: LocationsTests.admin)
                    try #require(status == 202)
                }
                try await eventually("every pass finished", timeout: .seconds(max(60, webhooks / 5))) {
                    try Self.ids.allSatisfy {
                        try store.scoped(location: $0, account: "").lastFinishedRun(mode: "full") != nil
                    }
                }
            }
            // What dry-run says of each contact's GHL data under its location's rules, against
            // what its CallTools account holds.
            var differ: [String] = []
            var routed = 0
            for (l, s) in sandboxes.enumerated() {
                let compiled = RulesCompiler.compile(source: Self.rules[l], file: "rules-\(l).yaml")
                let rules = try #require(compiled.rules)
                let engine = Engine(rules: rules)
                var held: [String: [Int]] = [:]
                for (_, c) in await s.state.calltoolsContacts() {
                    guard let crm = c["crm_id"]?.stringValue else { continue }
                    held[crm] =
                        c["buckets"]?.arrayValue?.compactMap { v -> Int? in
                            if case .number(let n) = v { Int(n) } else { nil }
                        }.sorted() ?? []
                }
                for c in 0..<(contacts + quiet) {
                    let id = Self.contactId(l, c)
                    let data = try #require(await s.state.ghlContact(id))
                    let contact = try InboundContact.decode(.object(data), expecting: .api).contact
                    let decision = engine.evaluate(contact, now: Fixtures.wallClock())
                    let want = decision.buckets.compactMap { i -> Int? in
                        if case .id(let n) = rules.buckets[i].reference { n } else { nil }
                    }.sorted()
                    let have = held[id] ?? []
                    if want != have { differ.append("\(id): dry-run \(want), CallTools \(have)") }
                    if !want.isEmpty { routed += 1 }
                }
            }
            #expect(differ.isEmpty, "\(differ.prefix(10))")
            var dead = 0
            for id in Self.ids { dead += try store.scoped(location: id, account: "").inboxCounts().dead }
            #expect(dead == 0)
            var throttled: [Int] = []
            for s in sandboxes {
                throttled.append(
                    await s.state.requests.filter { $0.status == 429 && !$0.path.hasPrefix("/api/") }.count)
            }
            #expect(throttled == [0, 0, 0], "GHL 429s per location: \(throttled)")
            let oauth = await sandboxes[2].state.oauthCounts
            let refused = await sandboxes[2].state.requests.filter { $0.status == 401 }.count
            let elapsed = ContinuousClock.now - started
            let expiries = Int(elapsed / .seconds(tokenSeconds)) + 1
            #expect(oauth.reusedRefused == 0)
            #expect(refused <= expiries, "401s: \(refused), expiries: \(expiries)")
            #expect(oauth.refreshed >= 1)
            var ghlCalls: [Int] = []
            for s in sandboxes { ghlCalls.append(await s.state.requests.filter { !$0.path.hasPrefix("/api/") }.count) }
            print(
                "locations check: 3 locations, \(events.count) webhooks, \((contacts + quiet) * 3) contacts, \(routed) routed; "
                    + "\(differ.count) differ from dry-run; \(dead) dead letters; GHL calls per location \(ghlCalls), "
                    + "429s \(throttled); OAuth token \(tokenSeconds) s: \(oauth.refreshed) refreshes, \(refused) 401s; "
                    + "\(elapsed.components.seconds) s")
        } catch {
            store.close()
            try? await http.shutdown()
            for s in sandboxes { await s.stop() }
            throw error
        }
        store.close()
        try? await http.shutdown()
        for s in sandboxes { await s.stop() }
        try? FileManager.default.removeItem(atPath: dir)
    }

    static func contactId(_ l: Int, _ c: Int) -> String { "L\(l)c\(c)" }

    static func contact(_ l: Int, _ c: Int, tags: [String]) -> JSONObject {
        var o = JSONObject()
        o["id"] = .string(contactId(l, c))
        o["firstName"] = .string("Lead \(c)")
        o["phone"] = .string("+1415555\(String(format: "%04d", l * 3000 + c))")
        o["tags"] = .array(tags.map(JSON.string))
        return o
    }

    static func event(_ l: Int, _ c: Int, tags: [String], n: Int) -> String {
        var o = contact(l, c, tags: tags)
        o["type"] = .string("ContactTagUpdate")
        o["locationId"] = .string(ids[l])
        // Newer each time, all in the past: the last event is the contact's GHL state.
        o["timestamp"] = .string(
            Timestamp(milliseconds: Fixtures.wallClock().milliseconds - 600_000 + Int64(n)).iso8601)
        o["dateUpdated"] = o["timestamp"]
        o["webhookId"] = .string("wh-\(l)-\(n)")
        return JSONWriter.encode(.object(o))
    }
}
