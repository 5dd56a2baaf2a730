import AsyncHTTPClient
import Crypto
import CryptoExtras
import Foundation
import Hummingbird
import LeadsyncCore
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

/// Several locations in one appliance (issue 9): three sandboxes as three GHL locations; C
/// routes into A's CallTools account. Each event lands in its own location's rows and account;
/// an event for a location not configured is answered `ignored` and touches nothing.
@Suite(.serialized) struct LocationsTests {
    static let ids = ["locA0001", "locB0002", "locC0003"]
    static let admin = String(repeating: "a", count: 40)

    struct Rig {
        var dir: String
        var sandboxes: [SandboxServer]
        var env: [String: String]
        var file: LocationsFile
        var key = Curve25519.Signing.PrivateKey()

        func shutdown() async {
            for s in sandboxes { await s.stop() }
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    static func rig(eastGHLRate: String = "1000/1") async throws -> Rig {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("leadsync-loc-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var sandboxes: [SandboxServer] = []
        var env: [String: String] = [:]
        for (i, id) in ids.enumerated() {
            let state = SandboxState(locationId: id, ghlToken: "ghl-token-\(i)", calltoolsKey: "ct-key-\(i)")
            await state.setLimits(ghl: nil, calltools: nil)
            sandboxes.append(try await SandboxServer.start(state: state))
            env["TOKEN_\(i)"] = "ghl-token-\(i)"
            env["CT_KEY_\(i)"] = "ct-key-\(i)"
        }
        try Fixtures.server.write(toFile: dir + "/a.yaml", atomically: true, encoding: .utf8)
        // B sends cold leads to another bucket: its rules are its own.
        try Fixtures.server.replacingOccurrences(of: "bucket: cold", with: "bucket: active").write(
            toFile: dir + "/b.yaml", atomically: true, encoding: .utf8)
        let yaml = """
            locations:
              - id: \(ids[0])
                name: East
                rules: a.yaml
                ghl: { token_env: TOKEN_0, base_url: "\(sandboxes[0].baseURL)", rate_limit: \(eastGHLRate) }
                calltools: { key_env: CT_KEY_0, base_url: "\(sandboxes[0].baseURL)", rate_limit: 1000/1 }
              - id: \(ids[1])
                rules: b.yaml
                ghl: { token_env: TOKEN_1, base_url: "\(sandboxes[1].baseURL)", rate_limit: 1000/1 }
                calltools: { key_env: CT_KEY_1, base_url: "\(sandboxes[1].baseURL)", rate_limit: 1000/1 }
              - id: \(ids[2])
                rules: a.yaml
                ghl: { token_env: TOKEN_2, base_url: "\(sandboxes[2].baseURL)", rate_limit: 1000/1 }
                # A's CallTools account: the same silo and key.
                calltools: { key_env: CT_KEY_0, base_url: "\(sandboxes[0].baseURL)", rate_limit: 1000/1 }
            """
        try yaml.write(toFile: dir + "/leadsync.yaml", atomically: true, encoding: .utf8)
        let file = try LocationsFile.load(dir + "/leadsync.yaml", env: env)
        return Rig(dir: dir, sandboxes: sandboxes, env: env, file: file)
    }

    static func event(_ contact: String, location: String, tags: [String], n: Int) -> String {
        var o = JSONObject()
        o["type"] = .string("ContactTagUpdate")
        o["locationId"] = .string(location)
        o["id"] = .string(contact)
        o["firstName"] = .string("Ana")
        o["phone"] = .string("+1415555\(String(1000 + n))")
        o["tags"] = .array(tags.map(JSON.string))
        o["dndSettings"] = .object(JSONObject())
        o["dnd"] = .bool(false)
        o["timestamp"] = .string(Timestamp(milliseconds: Fixtures.wallClock().milliseconds - 1000).iso8601)
        o["webhookId"] = .string("wh-\(contact)-\(n)")
        return JSONWriter.encode(.object(o))
    }

    static func post(
        _ http: HTTPClient, port: Int, path: String, body: String = "", key: Curve25519.Signing.PrivateKey? = nil,
        method: HTTPMethod = .POST, bearer: String? = nil
    ) async throws -> (UInt, String) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        if method == .POST { request.body = .bytes(ByteBuffer(string: body)) }
        request.headers.add(name: "content-type", value: "application/json")
        if let key {
            request.headers.add(
                name: "x-ghl-signature", value: try key.signature(for: Array(body.utf8)).base64EncodedString())
        }
        if let bearer { request.headers.add(name: "authorization", value: "Bearer \(bearer)") }
        let response = try await http.execute(request, timeout: .seconds(10))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 22))
        return (response.status.code, text)
    }

    @Test func eachLocationRoutesIntoItsOwnAccountAndUnknownLocationsTouchNothing() async throws {
        try await Self.withRig() { rig, http, store in
            for (i, s) in rig.sandboxes.enumerated() {
                await s.state.putGHLContact(
                    try #require(
                        JSONParser.parse(Self.event("c\(i)", location: Self.ids[i], tags: [], n: i)).objectValue))
            }
            let appliance = try LocationsTests.appliance(rig.file, store: store, http: http, key: rig.key)
            #expect(appliance.servers.map(\.location) == Self.ids)
            try await LocationsTests.serving(appliance) { port in
                for s in rig.sandboxes { await s.state.clearRequests() }
                for i in 0..<3 {
                    let (status, answer) = try await Self.post(
                        http, port: port, path: "/webhook/ghl",
                        body: Self.event("c\(i)", location: Self.ids[i], tags: ["cold lead"], n: i), key: rig.key)
                    #expect(status == 200 && answer.contains("accepted"))
                }
                // A: cold → 11237 in A's account. B: its own rules (active, 11252) in B's account.
                // C: A's rules file, A's CallTools account (shared), nothing in C's CallTools.
                func buckets(_ s: SandboxServer) async -> [String: [Int]] {
                    var out: [String: [Int]] = [:]
                    for (_, c) in await s.state.calltoolsContacts() {
                        guard let crm = c["crm_id"]?.stringValue else { continue }
                        out[crm] =
                            c["buckets"]?.arrayValue?.compactMap { v -> Int? in
                                if case .number(let n) = v { Int(n) } else { nil }
                            } ?? []
                    }
                    return out
                }
                try await eventually("every location routed") {
                    let a = await buckets(rig.sandboxes[0])
                    let b = await buckets(rig.sandboxes[1])
                    return a["c0"] == [11237] && a["c2"] == [11237] && b["c1"] == [11252]
                }
                // And each written back to its own GHL location ("in-dialer"), so nothing is in flight.
                try await eventually("the write-backs") {
                    for (i, s) in rig.sandboxes.enumerated() {
                        let tags = await s.state.ghlContact("c\(i)")?["tags"]?.arrayValue ?? []
                        guard tags.contains(.string("in-dialer")) else { return false }
                    }
                    return true
                }
                try await eventually("every inbox drained") {
                    try Self.ids.allSatisfy { try store.scoped(location: $0, account: "").inboxCounts().pending == 0 }
                }
                #expect(await buckets(rig.sandboxes[2]).isEmpty)
                #expect(await buckets(rig.sandboxes[1]).keys.sorted() == ["c1"])

                // A correctly signed event of a location not configured: ignored, nothing stored,
                // nothing called, counted without a location.
                let before = try Self.inboxRows(store)
                for s in rig.sandboxes { await s.state.clearRequests() }
                let (status, answer) = try await Self.post(
                    http, port: port, path: "/webhook/ghl",
                    body: Self.event("z9", location: "locZ9999", tags: ["cold lead"], n: 9), key: rig.key)
                #expect(status == 200 && answer.contains("ignored"))
                // Unsigned: refused before anything else.
                let (unsigned, _) = try await Self.post(
                    http, port: port, path: "/webhook/ghl",
                    body: Self.event("z9", location: "locZ9999", tags: ["cold lead"], n: 10))
                #expect(unsigned == 401)
                try await Task.sleep(for: .milliseconds(200))
                #expect(try Self.inboxRows(store) == before)
                for s in rig.sandboxes { #expect(await s.state.requests.isEmpty) }

                // Every row under its location; each location's stats count its own.
                for (i, id) in Self.ids.enumerated() {
                    let scoped = store.scoped(location: id, account: rig.file.locations[i].account)
                    #expect(try scoped.stats().contacts == 1)
                    #expect(try scoped.contact("c\(i)").applied.calltoolsId != nil)
                    #expect(try scoped.contact("c\((i + 1) % 3)").applied == .new)
                }
                #expect(rig.file.locations[0].account == rig.file.locations[2].account)
                #expect(rig.file.locations[0].account != rig.file.locations[1].account)

                // Admin endpoints name their location when there are several.
                let (noLocation, why) = try await Self.post(
                    http, port: port, path: "/sync/stats", method: .GET, bearer: Self.admin)
                #expect(noLocation == 400 && why.contains("?location="))
                let (ok, stats) = try await Self.post(
                    http, port: port, path: "/sync/stats?location=\(Self.ids[1])", method: .GET, bearer: Self.admin)
                #expect(ok == 200 && stats.contains("\"contacts\":1"))
                let (unknown, _) = try await Self.post(
                    http, port: port, path: "/sync/stats?location=nope", method: .GET, bearer: Self.admin)
                #expect(unknown == 404)

                // Metrics: one page, each location labelled; the unknown one counted under "".
                let (_, metrics) = try await Self.post(http, port: port, path: "/metrics", method: .GET)
                for id in Self.ids {
                    #expect(metrics.contains("leadsync_webhooks_total{location=\"\(id)\",outcome=\"accepted\"} 1"))
                }
                #expect(
                    metrics.contains("leadsync_webhooks_ignored_total{location=\"\",reason=\"unknown_location\"} 1"))
                // The operator page: one sign-in for every location, a switcher naming each.
                var login = HTTPClientRequest(url: "http://127.0.0.1:\(port)/ui/login")
                login.method = .POST
                login.headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
                login.body = .bytes(ByteBuffer(string: "token=\(Self.admin)"))
                let signedIn = try await http.execute(login, timeout: .seconds(10))
                let session = try #require(signedIn.headers["set-cookie"].first?.split(separator: ";").first)
                var page = HTTPClientRequest(url: "http://127.0.0.1:\(port)/ui?location=\(Self.ids[1])")
                page.headers.add(name: "cookie", value: String(session))
                let west = try await http.execute(page, timeout: .seconds(10))
                let html = String(buffer: try await west.body.collect(upTo: 1 << 22))
                #expect(west.status.code == 200)
                #expect(west.headers["set-cookie"].first?.hasPrefix("leadsync_location=\(Self.ids[1]);") == true)
                #expect(html.contains("aria-current=\"location\">\(Self.ids[1])</a>"))
                #expect(html.contains("East (\(Self.ids[0]))"))
                let (ready, readiness) = try await Self.post(http, port: port, path: "/readyz", method: .GET)
                #expect(ready == 200)
                for id in Self.ids { #expect(readiness.contains(id)) }
            }
        }
    }

    /// GHL's own webhook examples (every key its pages show) reach the location they name, and
    /// hostile `locationId`s (a huge number, an object, an array, empty, non-ASCII, 100 kB) are
    /// answered, stored nowhere and counted: nothing crashes the front.
    @Test func officialExamplesAndHostileLocationsThroughTheFront() async throws {
        try await Self.withRig { rig, http, store in
            let appliance = try Self.appliance(rig.file, store: store, http: http, key: rig.key)
            try await Self.serving(appliance) { port in
                for (n, type) in GHLDocuments.webhookTypes.enumerated() {
                    guard case .object(var o) = try GHLDocuments.webhookExample(type) else {
                        Issue.record("\(type): not an object")
                        continue
                    }
                    // As GHL documents it (its own location, not ours): ignored.
                    let (asIs, answer) = try await Self.post(
                        http, port: port, path: "/webhook/ghl", body: JSONWriter.encode(.object(o)), key: rig.key)
                    #expect(asIs == 200 && answer.contains("ignored"), "\(type)")
                    // The same event for our location, fresh: accepted into that location's inbox.
                    o["locationId"] = .string(Self.ids[1])
                    o["timestamp"] = .string(Timestamp(milliseconds: Fixtures.wallClock().milliseconds - 1000).iso8601)
                    o["webhookId"] = .string("official-\(n)")
                    let (ours, accepted) = try await Self.post(
                        http, port: port, path: "/webhook/ghl", body: JSONWriter.encode(.object(o)), key: rig.key)
                    #expect(ours == 200 && accepted.contains("accepted"), "\(type): \(accepted)")
                }
                let west = store.scoped(location: Self.ids[1], account: "")
                let westEvents = try west.inboxCounts()
                #expect(westEvents.pending + westEvents.done + westEvents.dead == GHLDocuments.webhookTypes.count)
                let hostile: [String] = [
                    "1" + String(repeating: "9", count: 400), #"{"id":"locB0002"}"#, #"["locB0002"]"#, #""""#,
                    #""lôcB0002 ✓""#, "\"" + String(repeating: "x", count: 100_000) + "\"", "null", "true",
                ]
                for (i, value) in hostile.enumerated() {
                    let body =
                        #"{"type":"ContactTagUpdate","id":"h\#(i)","webhookId":"hostile-\#(i)","tags":["cold lead"],"#
                        + #""timestamp":"\#(Timestamp(milliseconds: Fixtures.wallClock().milliseconds - 1000).iso8601)","#
                        + #""locationId":\#(value)}"#
                    let (status, _) = try await Self.post(
                        http, port: port, path: "/webhook/ghl", body: body, key: rig.key)
                    #expect([200, 400].contains(status), "hostile locationId \(value.prefix(40)): \(status)")
                }
                #expect(try Self.inboxRows(store) == GHLDocuments.webhookTypes.count)
                let (healthy, _) = try await Self.post(http, port: port, path: "/healthz", method: .GET)
                #expect(healthy == 200)
            }
        }
    }

    /// A first import of one location (East, its GHL budget at 5 calls a second) does not hold
    /// up a live lead of another (West): West's lead is in its bucket while East's pass runs.
    @Test func oneLocationsImportDoesNotDelayAnothersLiveLeads() async throws {
        try await Self.withRig(eastGHLRate: "5/1") { rig, http, store in
            for c in 0..<300 {
                var o = try #require(
                    JSONParser.parse(Self.event("e\(c)", location: Self.ids[0], tags: ["cold lead"], n: 100 + c))
                        .objectValue)
                o["type"] = nil
                await rig.sandboxes[0].state.putGHLContact(o)
            }
            await rig.sandboxes[1].state.putGHLContact(
                try #require(JSONParser.parse(Self.event("w1", location: Self.ids[1], tags: [], n: 1)).objectValue))
            let appliance = try LocationsTests.appliance(rig.file, store: store, http: http, key: rig.key)
            try await LocationsTests.serving(appliance) { port in
                let (started, _) = try await Self.post(
                    http, port: port, path: "/sync/trigger?location=\(Self.ids[0])&full=true", bearer: Self.admin)
                #expect(started == 202)
                let east = store.scoped(location: Self.ids[0], account: rig.file.locations[0].account)
                try await eventually("East's import under way") { try east.stats().contacts >= 5 }
                let sent = ContinuousClock.now
                let (status, _) = try await Self.post(
                    http, port: port, path: "/webhook/ghl",
                    body: Self.event("w1", location: Self.ids[1], tags: ["cold lead"], n: 2), key: rig.key)
                #expect(status == 200)
                try await eventually("West's lead in its bucket", timeout: .seconds(5)) {
                    let contacts = await rig.sandboxes[1].state.calltoolsContacts().values
                    return contacts.contains { $0["crm_id"]?.stringValue == "w1" }
                }
                let took = ContinuousClock.now - sent
                // East's pass is still running: West did not wait for it.
                #expect(try east.runningRun() != nil)
                #expect(try east.stats().contacts < 300)
                #expect(took < .seconds(3), "West's lead took \(took)")
            }
        }
    }

    /// Rows of single-location mode go to the location marked `existing_data`; with several
    /// locations and no mark the appliance will not start (it does not guess).
    @Test func singleLocationDataNeedsItsLocationNamed() async throws {
        try await Self.withRig { rig, http, store in
            try store.recordOutcome(
                "old1", state: AppliedState(calltoolsId: 4, fields: [:], buckets: [11237]), audit: [], completing: [],
                at: Fixtures.wallClock())
            var config = ServerConfiguration()
            config.port = 0
            let verifier = try WebhookVerifier(ed25519PEM: rig.key.publicKey.pemRepresentation)
            let logger = Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() })
            #expect {
                try Appliance.build(
                    file: rig.file, configuration: config, store: store, verifier: verifier, http: http, logger: logger,
                    now: { Fixtures.wallClock() })
            } throws: { "\($0)".contains("mark its location") && "\($0)".contains("existing_data: true") }
            #expect(try store.stats().contacts == 1)  // nothing moved
            var marked = rig.file
            marked.locations[1].existingData = true
            _ = try Appliance.build(
                file: marked, configuration: config, store: store, verifier: verifier, http: http, logger: logger,
                now: { Fixtures.wallClock() })
            #expect(try store.stats().contacts == 0)
            #expect(try store.scoped(location: Self.ids[1], account: "").stats().contacts == 1)
        }
    }

    /// Three sandboxes as three locations, an HTTP client and the database, for `body`; all
    /// of it stopped and removed afterwards, whether `body` threw or not.
    static func withRig(
        eastGHLRate: String = "1000/1", _ body: (Rig, HTTPClient, LeadsyncDatabase) async throws -> Void
    ) async throws {
        let rig = try await Self.rig(eastGHLRate: eastGHLRate)
        let http = UpstreamHTTP.makeClient()
        let store = try LeadsyncDatabase.open(path: rig.dir + "/leadsync.sqlite")
        do {
            try await body(rig, http, store)
        } catch {
            store.close()
            try? await http.shutdown()
            await rig.shutdown()
            throw error
        }
        store.close()
        try? await http.shutdown()
        await rig.shutdown()
    }

    /// An appliance over `file` as the tests run it: any free port, no schedule, the admin token.
    static func appliance(
        _ file: LocationsFile, store: LeadsyncDatabase, http: HTTPClient, key: Curve25519.Signing.PrivateKey,
        configure: (inout ServerConfiguration) -> Void = { _ in }
    ) throws -> Appliance {
        var config = ServerConfiguration()
        config.port = 0
        config.syncInterval = nil
        config.fullSyncHour = nil
        config.adminToken = admin
        configure(&config)
        return try Appliance.build(
            file: file, configuration: config, store: store,
            verifier: try WebhookVerifier(ed25519PEM: key.publicKey.pemRepresentation), http: http,
            logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }), now: { Fixtures.wallClock() })
    }

    /// Runs `appliance` (listener, workers, schedules) until `body`, given its port, returns.
    static func serving(_ appliance: Appliance, _ body: (Int) async throws -> Void) async throws {
        let (ports, sink) = AsyncStream<Int>.makeStream()
        let app = appliance.application { port in
            sink.yield(port)
            sink.finish()
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [app], logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() })))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var port = 0
            for await p in ports { port = p }
            do {
                try await body(port)
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    static func inboxRows(_ store: LeadsyncDatabase) throws -> Int {
        var total = 0
        for id in ids {
            let c = try store.scoped(location: id, account: "").inboxCounts()
            total += c.pending + c.done + c.dead + c.held
        }
        let unscoped = try store.inboxCounts()
        return total + unscoped.pending + unscoped.done + unscoped.dead + unscoped.held
    }

    @Test func theFileSaysWhatIsWrongInOneLine() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("leadsync-lf-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func load(_ yaml: String, env: [String: String] = ["T": "t", "K": "k"]) -> String {
            try? yaml.write(toFile: dir + "/l.yaml", atomically: true, encoding: .utf8)
            do {
                _ = try LocationsFile.load(dir + "/l.yaml", env: env)
                return "ok"
            } catch {
                return error.description.replacingOccurrences(of: dir + "/", with: "")
            }
        }
        let good = """
            locations:
              - id: loc1
                rules: r.yaml
                ghl: { token_env: T }
                calltools: { key_env: K }
            """
        #expect(load(good) == "ok")
        #expect(
            load(good, env: ["T": "t"])
                == "l.yaml:5: location loc1: key_env: the variable K (the CallTools API key) is not set")
        #expect(
            load(good.replacingOccurrences(of: "rules:", with: "rulez:")).hasPrefix("l.yaml:3: unknown key 'rulez'"))
        #expect(load(good.replacingOccurrences(of: "id: loc1", with: "id: \"a b\"")).contains("must be 1-64 letters"))
        #expect(load(good + "\n" + good.replacingOccurrences(of: "locations:\n", with: "")).contains("listed twice"))
        #expect(load("locations: []") == "l.yaml:1: 'locations' must be a non-empty list")
        #expect(
            load(good.replacingOccurrences(of: "token_env: T", with: "oauth: true")).contains("needs GHL_CLIENT_ID"))
        // The location chooser: one location needs no name; an unknown one lists the known.
        #expect(load(good) == "ok")
        let file = try LocationsFile.load(dir + "/l.yaml", env: ["T": "t", "K": "k"])
        #expect(try file.location(nil).id == "loc1")
        #expect(throws: LocationsFile.Error.self) { try file.location("nope") }
        #expect(file.locations[0].environment["GHL_API_KEY"] == "t")
        #expect(file.locations[0].environment["GHL_LOCATION_ID"] == "loc1")
    }
}
