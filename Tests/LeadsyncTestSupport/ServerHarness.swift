import AsyncHTTPClient
import Crypto
import CryptoExtras
import Foundation
import HTTPTypes
import Hummingbird
import LeadsyncAuth
import LeadsyncCore
import LeadsyncRules
import LeadsyncRuntime
import LeadsyncSandbox
import LeadsyncServer
import LeadsyncStore
import LeadsyncUpstream
import LeadsyncValues
import LeadsyncWebhooks
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// A server wired to an in-process sandbox, on a temporary database; the pieces tests poke.
public final class ServerHarness: @unchecked Sendable {
    public let dir: String
    public let rulesPath: String
    public let dbPath: String
    public let sandbox: SandboxServer
    public let http: HTTPClient
    public let store: LeadsyncDatabase
    public private(set) var server: LeadsyncServer
    /// Builds a server as a new process would (same store, rules, clients, configuration).
    private let makeServer: @Sendable () -> LeadsyncServer
    public let key = Curve25519.Signing.PrivateKey()
    public let emitter: SandboxWebhookEmitter
    public let ghl: GHLClient

    public var state: SandboxState { sandbox.state }

    public init(
        rules: String = Fixtures.server, configure: (inout ServerConfiguration) -> Void = { _ in },
        readOnlyStore: Bool = false, retry: RetryPolicy = RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(5)),
        createSettle: Duration = .zero, oauth: SandboxOAuthApp? = nil
    ) async throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("leadsync-server-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        rulesPath = dir + "/rules.yaml"
        dbPath = dir + "/leadsync.sqlite"
        try rules.write(toFile: rulesPath, atomically: true, encoding: .utf8)
        let state = SandboxState()
        await state.setLimits(ghl: nil, calltools: nil)
        sandbox = try await SandboxServer.start(state: state)
        http = UpstreamHTTP.makeClient()
        if readOnlyStore {
            try LeadsyncDatabase.open(path: dbPath).close()
            store = try LeadsyncDatabase.openReadOnly(path: dbPath)
        } else {
            store = try LeadsyncDatabase.open(path: dbPath)
        }
        var config = ServerConfiguration()
        config.port = 0
        config.syncInterval = nil
        config.fullSyncHour = nil
        config.retryBase = .milliseconds(20)
        configure(&config)
        var upstreams = UpstreamSettings(
            ghlToken: state.ghlToken, ghlLocationId: state.locationId, ghlBaseURL: sandbox.baseURL,
            calltoolsKey: state.calltoolsKey, calltoolsBaseURL: sandbox.baseURL, ghlRate: (1000, 1),
            calltoolsRate: (1000, 1))
        upstreams.retry = retry
        upstreams.createSettle = createSettle
        upstreams.breaker = Self.fastBreaker
        if let oauth {
            // A Marketplace app: GHL is reached with the tokens an install stores.
            await state.enableOAuth(oauth)
            upstreams.ghlToken = ""
            upstreams.oauth = .init(clientId: oauth.clientId, clientSecret: oauth.clientSecret, redirectURI: nil)
            upstreams.vault = try TokenVault(secret: Self.secretKey)
        }
        let setup = ServerSetup(
            configuration: config, rulesPath: rulesPath, store: store, upstreams: upstreams,
            verifier: try WebhookVerifier(ed25519PEM: key.publicKey.pemRepresentation), http: http,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), now: { Fixtures.wallClock() })
        // What `serve` does at start; a restart builds it again on the same database.
        let first = try LeadsyncServer.build(setup)
        ghl = first.ghl!
        makeServer = { (try? LeadsyncServer.build(setup)) ?? first }
        server = first
        emitter = SandboxWebhookEmitter(
            client: http, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), key: key)
    }

    /// The `LEADSYNC_SECRET_KEY` of OAuth harnesses.
    public static let secretKey = "test-secret-key-0123456789abcdefghijklmnop"

    /// Breakers that open after five failures and probe every 100-300 ms (the default probes
    /// after 5 s, then up to every minute).
    public static let fastBreaker: CircuitBreaker.Settings = {
        var b = CircuitBreaker.Settings()
        b.probeFirst = .milliseconds(100)
        b.probeCap = .milliseconds(300)
        return b
    }()

    /// A new server on the same database: what a restart does.
    public func restart() { server = makeServer() }

    /// A harness, `body`, then the harness shut down and awaited whether `body` threw or not:
    /// the next test of a serialised suite never overlaps this one's server.
    public static func with<T>(
        rules: String = Fixtures.server, configure: (inout ServerConfiguration) -> Void = { _ in },
        readOnlyStore: Bool = false, retry: RetryPolicy = RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(5)),
        createSettle: Duration = .zero, oauth: SandboxOAuthApp? = nil, _ body: (ServerHarness) async throws -> T
    ) async throws -> T {
        let h = try await ServerHarness(
            rules: rules, configure: configure, readOnlyStore: readOnlyStore, retry: retry, createSettle: createSettle,
            oauth: oauth)
        return try await withCleanup {
            try await body(h)
        } cleanup: {
            await h.shutdown()
        }
    }

    public func shutdown() async {
        store.close()
        try? await http.shutdown()
        await sandbox.stop()
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// The router alone, no workers: what intake stored stays in the inbox for the test to see.
    public func routerOnly() -> some ApplicationProtocol {
        Application(router: server.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }

    public func signed(_ body: String) -> HTTPFields {
        var h = HTTPFields()
        h[HTTPField.Name("x-ghl-signature")!] = emitter.sign(Array(body.utf8))
        h[.contentType] = "application/json"
        return h
    }

    public static func event(
        _ type: String = "ContactTagUpdate", id: String = "c1", webhookId: String = UUID().uuidString,
        tags: [String] = ["cold lead"], phone: String? = "+14155550100"
    ) -> String {
        var o = JSONObject()
        o["type"] = .string(type)
        o["locationId"] = .string("sandboxLocation0001")
        o["id"] = .string(id)
        o["firstName"] = .string("Ana")
        if let phone { o["phone"] = .string(phone) }
        o["tags"] = .array(tags.map(JSON.string))
        o["timestamp"] = .string(Fixtures.wallClock().iso8601)
        o["webhookId"] = .string(webhookId)
        return JSONWriter.encode(.object(o))
    }

    /// Commits one event to the inbox as intake would (a marketplace `ContactTagUpdate` unless
    /// said otherwise), without going through HTTP.
    public func enqueue(
        _ body: String, contact: String, webhookId: String? = nil, eventType: String = "ContactTagUpdate",
        source: String = "marketplace"
    ) async throws {
        _ = try await store.enqueue(
            [
                NewInboxEvent(
                    webhookId: webhookId, contactId: contact, eventType: eventType, source: source, body: body)
            ],
            at: Fixtures.wallClock())
    }

    /// A workflow webhook's event, as intake stores it.
    public func enqueueWorkflow(_ body: String, contact: String) async throws {
        try await enqueue(body, contact: contact, eventType: "workflow", source: "workflow")
    }

    /// The contact in sandbox GHL too (write-backs go there; a missing one is a 404).
    public func seed(_ id: String, phone: String = "+14155550100") async {
        var c = JSONObject()
        c["id"] = .string(id)
        c["firstName"] = .string("Ana")
        c["phone"] = .string(phone)
        c["tags"] = .array([])
        await state.putGHLContact(c)
    }

    /// Runs the whole server (HTTP, workers, and the emitter unless `emitter` is false: it runs
    /// once per harness) until `body` returns.
    public func running<T: Sendable>(
        emitter withEmitter: Bool = true, _ body: @Sendable (Int) async throws -> T
    ) async throws
        -> T
    {
        let (ports, sink) = AsyncStream<Int>.makeStream()
        let emitter = self.emitter
        let app = server.application(extraServices: withEmitter ? [emitter] : []) { port in
            emitter.setTarget("http://127.0.0.1:\(port)/webhook/ghl")
            sink.yield(port)
            sink.finish()
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [app], logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() })))
        return try await withThrowingTaskGroup(of: T?.self) { tasks in
            tasks.addTask {
                try await group.run()
                return nil
            }
            var port = 0
            for await p in ports { port = p }
            let result: T
            do {
                result = try await body(port)
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            while let r = try await tasks.next() { if r == nil { break } }
            return result
        }
    }

    /// POSTs a signed marketplace webhook; returns the status and the answer.
    public func postWithAnswer(
        port: Int, _ body: String, timeout: TimeAmount = .seconds(10)
    ) async throws -> (status: UInt, answer: String) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/webhook/ghl")
        request.method = .POST
        request.headers.add(name: "x-ghl-signature", value: emitter.sign(Array(body.utf8)))
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await http.execute(request, timeout: timeout)
        let answer = try await response.body.collect(upTo: 1 << 16)
        return (response.status.code, String(buffer: answer))
    }

    /// GETs `path` from the running server: the status and the body.
    public func get(
        port: Int, _ path: String, headers: [(String, String)] = []
    ) async throws -> (status: UInt, body: String) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        for (k, v) in headers { request.headers.add(name: k, value: v) }
        let response = try await http.execute(request, timeout: .seconds(10))
        return (response.status.code, String(buffer: try await response.body.collect(upTo: 1 << 22)))
    }

    /// POSTs `body` to `path` on the running server: the status and the answer.
    public func postText(
        port: Int, _ path: String, _ body: String, headers: [(String, String)] = []
    ) async throws -> (status: UInt, body: String) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = .POST
        for (k, v) in headers { request.headers.add(name: k, value: v) }
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await http.execute(request, timeout: .seconds(30))
        return (response.status.code, String(buffer: try await response.body.collect(upTo: 1 << 22)))
    }

    /// POSTs a signed marketplace webhook; returns the status.
    public func post(port: Int, _ body: String) async throws -> UInt {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/webhook/ghl")
        request.method = .POST
        request.headers.add(name: "x-ghl-signature", value: emitter.sign(Array(body.utf8)))
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await http.execute(request, timeout: .seconds(10))
        _ = try await response.body.collect(upTo: 1 << 16)
        return response.status.code
    }

    /// CallTools contacts by `crm_id`: their buckets.
    public func calltoolsBuckets() async -> [String: [Int]] {
        var out: [String: [Int]] = [:]
        for (_, c) in await state.calltoolsContacts() {
            guard let crm = c["crm_id"]?.stringValue else { continue }
            out[crm, default: []] +=
                c["buckets"]?.arrayValue?.compactMap { v -> Int? in
                    if case .number(let n) = v { return Int(n) }
                    return nil
                } ?? []
        }
        return out
    }

    public func calltoolsCount(crm: String) async -> Int {
        await state.calltoolsContacts().values.filter { $0["crm_id"]?.stringValue == crm }.count
    }
}

extension ByteBuffer {
    public var text: String { String(buffer: self) }
}
