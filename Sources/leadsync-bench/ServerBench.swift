import AsyncHTTPClient
import Crypto
import CryptoExtras
import Foundation
import Hummingbird
import LeadsyncCLI
import LeadsyncCore
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
import Synchronization

/// The server benchmarks' Swift half (scripts/bench-server.sh drives them):
///
/// - `hello --port P`: a bare Hummingbird route answering "hello", the yardstick wrk measures
///   next to `leadsync serve`'s webhook intake in the same run.
/// - `latency [--rate 100] [--seconds 20] [--rules PATH]`: webhook → CallTools bucket. Sandbox
///   (zero latency, limits lifted) and server in this process; signed webhooks for new contacts
///   at a fixed rate, each sent at its scheduled instant (no coordinated omission); the latency
///   of one is from just before its POST to the moment the sandbox receives the CallTools create
///   that puts it in its bucket.
enum ServerBench {
    static func run(_ args: [String]) async throws {
        func option(_ name: String) -> String? {
            guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
            return args[i + 1]
        }
        if args.first == "hello" {
            let port = Int(option("--port") ?? "") ?? 8081
            let router = Router()
            router.get("/hello") { _, _ in "hello" }
            let app = Application(
                router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)),
                logger: Logger(label: "hello", factory: { _ in SwiftLogNoOpLogHandler() }))
            try await app.runService()
            return
        }
        try await latency(
            rate: Double(option("--rate") ?? "") ?? 100, seconds: Double(option("--seconds") ?? "") ?? 20,
            rulesPath: option("--rules") ?? "rules/cold-leads.yaml")
    }

    static func now() -> Timestamp { Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000)) }

    static func latency(rate: Double, seconds: Double, rulesPath: String) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("leadsync-latency-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let quiet = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        let state = SandboxState()
        await state.setLimits(ghl: nil, calltools: nil)
        let sandbox = try await SandboxServer.start(state: state)
        let http = UpstreamHTTP.makeClient()
        let store = try LeadsyncDatabase.open(path: dir + "/bench.sqlite")
        // Budgets out of the way: the figure is leadsync's own latency, not a rate limit's.
        var upstreams = UpstreamSettings(
            ghlToken: state.ghlToken, ghlLocationId: state.locationId, ghlBaseURL: sandbox.baseURL,
            calltoolsKey: state.calltoolsKey, calltoolsBaseURL: sandbox.baseURL, ghlRate: (1_000_000, 1),
            calltoolsRate: (1_000_000, 1))
        upstreams.createSettle = .zero
        let key = Curve25519.Signing.PrivateKey()
        var config = ServerConfiguration()
        config.port = 0
        config.syncInterval = nil
        config.fullSyncHour = nil
        let server = try LeadsyncServer.build(
            ServerSetup(
                configuration: config, rulesPath: rulesPath, store: store, upstreams: upstreams,
                verifier: try WebhookVerifier(ed25519PEM: key.publicKey.pemRepresentation), http: http,
                logger: quiet, now: { now() }))

        // Arrival of each contact's create, by crm_id.
        let arrivals = Times()
        await state.setObserver { r in
            guard r.method == "POST", r.path == "/api/contacts/", let crm = r.body?["crm_id"]?.stringValue else {
                return
            }
            let t = ContinuousClock.now
            arrivals.set(crm, t)
        }
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let app = server.application { port in
            portSink.yield(port)
            portSink.finish()
        }
        let group = ServiceGroup(configuration: .init(services: [app], logger: quiet))
        let total = Int(rate * seconds)
        for i in -1..<total { await state.putGHLContact(ghlContact(i)) }
        let sentAt = Times()
        let failures = Times()
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var bound = 0
            for await p in ports { bound = p }
            let port = bound
            print("webhook → bucket: \(total) signed webhooks at \(Int(rate))/s for new contacts, rules \(rulesPath)")
            // Warm up: ids resolved, connections open (not measured).
            _ = try await send(http, port: port, key: key, index: -1)
            try await Task.sleep(for: .milliseconds(300))
            arrivals.clear()

            let start = ContinuousClock.now
            await withTaskGroup(of: Void.self) { senders in
                for i in 0..<total {
                    let at = start + .milliseconds(Int64(Double(i) * 1000 / rate))
                    try? await Task.sleep(until: at)
                    senders.addTask {
                        sentAt.set("bench\(i)", .now)
                        if (try? await send(http, port: port, key: key, index: i)) != 200 {
                            failures.set("bench\(i)", .now)
                        }
                    }
                }
            }
            let deadline = ContinuousClock.now + .seconds(30)
            while arrivals.all.count < total && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            let sent = sentAt.all
            let arrived = arrivals.all
            var ms: [Double] = []
            for (id, t) in arrived { if let s = sent[id] { ms.append(Double((t - s) / .microseconds(1)) / 1000) } }
            ms.sort()
            func pct(_ p: Double) -> String {
                ms.isEmpty ? "-" : String(format: "%.1f ms", ms[min(ms.count - 1, Int(Double(ms.count) * p))])
            }
            print(
                "  arrived \(ms.count)/\(total) (HTTP failures \(failures.all.count))  "
                    + "p50 \(pct(0.50))  p90 \(pct(0.90))  p99 \(pct(0.99))  max \(pct(1.0))")
            print(
                "  bar: p99 < 50 ms"
                    + (ms.count == total && ms[min(ms.count - 1, Int(Double(ms.count) * 0.99))] < 50
                        ? "  MET" : "  NOT MET"))
            print("  peak resident memory of this process (server, sandbox, load): \(peakRSSMiB()) MiB")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        store.close()
        try await http.shutdown()
        await sandbox.stop()
    }

    /// The GHL contact behind webhook `index`, as `GET /contacts/{id}` returns it: a
    /// `ContactTagUpdate` carries no `dndSettings`, so the server reads this before dialing.
    static func ghlContact(_ index: Int) -> JSONObject {
        let n = index < 0 ? 9_999_999 : index
        return JSONObject([
            "id": .string(index < 0 ? "warmup" : "bench\(index)"), "type": .string("lead"),
            "firstName": .string("Bench"),
            "phone": .string("+1628" + String(3_000_000 + n % 1_000_000).leftPadded(to: 7, with: "0")),
            "tags": .array([.string("cold lead")]), "dnd": .bool(false),
            "dndSettings": .object(JSONObject(["Call": .object(JSONObject(["status": .string("inactive")]))])),
        ])
    }

    static func send(_ http: HTTPClient, port: Int, key: Curve25519.Signing.PrivateKey, index: Int) async throws -> UInt
    {
        let n = index < 0 ? 9_999_999 : index
        let body = JSONWriter.encode(
            .object(
                JSONObject([
                    "type": .string("ContactTagUpdate"), "locationId": .string("sandboxLocation0001"),
                    "id": .string(index < 0 ? "warmup" : "bench\(index)"), "firstName": .string("Bench"),
                    "phone": .string("+1628" + String(3_000_000 + n % 1_000_000).leftPadded(to: 7, with: "0")),
                    "tags": .array([.string("cold lead")]), "dnd": .bool(false), "timestamp": .string(now().iso8601),
                    "webhookId": .string(UUID().uuidString),
                ])))
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/webhook/ghl")
        request.method = .POST
        request.headers.add(
            name: "x-ghl-signature", value: try key.signature(for: Array(body.utf8)).base64EncodedString())
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await http.execute(request, timeout: .seconds(10))
        _ = try await response.body.collect(upTo: 1 << 16)
        return response.status.code
    }

    static func peakRSSMiB() -> String {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kb = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { return "?" }
        return String(format: "%.1f", kb / 1024)
    }
}

/// Instants by contact id, shared between tasks.
final class Times: Sendable {
    private let map = Mutex<[String: ContinuousClock.Instant]>([:])
    func set(_ id: String, _ t: ContinuousClock.Instant) { map.withLock { $0[id] = t } }
    func clear() { map.withLock { $0.removeAll() } }
    var all: [String: ContinuousClock.Instant] { map.withLock { $0 } }
}
