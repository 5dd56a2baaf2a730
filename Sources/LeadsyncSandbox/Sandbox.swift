import HTTPTypes
import Hummingbird
import LeadsyncValues
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A request context that keeps the connection, so a fault can reset it.
public struct SandboxContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// The emulated GHL and CallTools APIs on one HTTP server (their paths do not overlap: GHL's
/// are `/contacts`, `/locations`; CallTools' are under `/api/`). Point both base URLs at it.
public struct SandboxResponder: HTTPResponder {
    public let state: SandboxState

    public init(state: SandboxState) { self.state = state }

    public func respond(to request: Request, context: SandboxContext) async throws -> Response {
        try await SandboxResponder.$arrived.withValue(.now) { try await respondNow(to: request, context: context) }
    }

    /// When the request being answered arrived (recorded with it).
    @TaskLocal static var arrived = ContinuousClock.now

    func respondNow(to request: Request, context: SandboxContext) async throws -> Response {
        var request = request
        let path = request.uri.path
        var query: [String: String] = [:]
        for (k, v) in request.uri.queryParameters { query[String(k)] = String(v) }
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        let bytes = try await request.collectBody(upTo: 4 << 20)
        if path.hasPrefix("/oauth/") {
            // Form-encoded, not JSON (recorded without its body: it carries secrets).
            let r = await state.handleOAuth(
                method: request.method.rawValue, path: path, query: query, headers: headers,
                body: Array(bytes.readableBytesView))
            // A token answer delayed after the grant was made: a client killed meanwhile has
            // spent its refresh token without learning the new one.
            let faults = await state.faults
            if faults.latencyAfterHandling > .zero, let prefix = faults.pathPrefix, path.hasPrefix(prefix) {
                try await Task.sleep(for: faults.latencyAfterHandling)
            }
            return try await answer(r, request, path, query, headers, nil)
        }
        var body: JSON?
        if bytes.readableBytes > 0 {
            let isCallTools = path.hasPrefix("/api/")
            let contentType = headers["content-type"] ?? ""
            if isCallTools && !contentType.lowercased().hasPrefix("application/json") {
                // DRF's parser negotiation: a body in a media type it has no parser for.
                return try await answer(
                    SandboxState.drf(415, "Unsupported media type \"\(contentType)\" in request."),
                    request, path, query, headers, nil)
            }
            body = try? JSONParser.parse(Array(bytes.readableBytesView))
            if body == nil {
                let refusal =
                    isCallTools
                    ? SandboxState.drf(400, "JSON parse error - Expecting value: line 1 column 1 (char 0)")
                    : SandboxResponse.json(
                        400,
                        .object(
                            JSONObject(["statusCode": .number(400), "message": .string("Unexpected token in JSON")])))
                return try await answer(refusal, request, path, query, headers, nil)
            }
        }
        let fault = await state.fault(for: path, method: request.method.rawValue)
        let latency = await state.faults.latency
        if latency > .zero { try await Task.sleep(for: latency) }
        if fault.reset { try await reset(context, request, path, query, headers, body) }
        if let status = fault.status {
            var r = SandboxResponse.json(
                status, .object(JSONObject(["message": .string("sandbox fault"), "detail": .string("sandbox fault")])))
            if let after = fault.retryAfter {
                // cannot trap: clamped to a day
                r.headers = [("Retry-After", String(Int(min(max(after, 0), 86_400).rounded(.up))))]
            }
            return try await answer(r, request, path, query, headers, body)
        }
        let segments = path.split(separator: "/").map(String.init)
        let response: SandboxResponse
        if segments.first == "api" {
            response = await state.handleCallTools(
                method: request.method.rawValue, path: path, segments: segments,
                query: query, headers: headers, body: body)
        } else {
            response = await state.handleGHL(
                method: request.method.rawValue, segments: segments, query: query,
                headers: headers, body: body)
        }
        let faults = await state.faults
        if faults.latencyAfterHandling > .zero, path.hasPrefix(faults.pathPrefix ?? "") {
            try await Task.sleep(for: faults.latencyAfterHandling)
        }
        if await state.takeResetAfterHandling(for: path, method: request.method.rawValue) {
            try await reset(context, request, path, query, headers, body)
        }
        return try await answer(response, request, path, query, headers, body)
    }

    /// Closes the connection without an answer (recorded with status 0).
    private func reset(
        _ context: SandboxContext, _ request: Request, _ path: String, _ query: [String: String],
        _ headers: [String: String], _ body: JSON?
    ) async throws -> Never {
        await state.record(
            RecordedRequest(
                method: request.method.rawValue, path: path, query: query, headers: headers,
                body: body, status: 0, at: Self.arrived))
        try? await context.channel.close()
        throw CancellationError()
    }

    private func answer(
        _ r: SandboxResponse, _ request: Request, _ path: String, _ query: [String: String],
        _ headers: [String: String], _ body: JSON?
    ) async throws -> Response {
        await state.record(
            RecordedRequest(
                method: request.method.rawValue, path: path, query: query, headers: headers,
                body: body, status: r.status, at: Self.arrived,
                retryAfter: r.headers.first { $0.0.lowercased() == "retry-after" }.flatMap { Double($0.1) }))
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        for (name, value) in r.headers {
            if let n = HTTPField.Name(name) { fields[n] = value }
        }
        var buffer = ByteBuffer()
        if let b = r.body {
            var w = JSONWriter()
            w.value(b)
            buffer = ByteBuffer(bytes: w.bytes)
        }
        return Response(status: .init(code: r.status), headers: fields, body: .init(byteBuffer: buffer))
    }
}

/// The emulated APIs' HTTP server, a `Service`: `leadsync sandbox` runs it in a service group
/// (signals stop it gracefully). `start` runs it in the background instead, for the callers that
/// need its port before they can build what talks to it (the tests, `demo`, `serve --sandbox`).
public final class SandboxServer: Service, Sendable {
    public let state: SandboxState
    private let app: any Service
    private let ports: AsyncStream<Int>
    private let portSink: AsyncStream<Int>.Continuation
    private let bound = Mutex(0)
    private let background = Mutex<Task<Void, any Error>?>(nil)
    let host: String
    let requestedPort: Int

    /// The port it listens on (0 until it does).
    public var port: Int { bound.withLock { $0 } }
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    public init(state: SandboxState = SandboxState(), host: String = "127.0.0.1", port: Int = 0) {
        self.state = state
        self.host = host
        self.requestedPort = port
        let (ports, sink) = AsyncStream<Int>.makeStream()
        self.ports = ports
        self.portSink = sink
        app = Application(
            responder: SandboxResponder(state: state),
            configuration: .init(address: .hostname(host, port: port), serverName: "leadsync-sandbox"),
            onServerRunning: { channel in
                sink.yield(channel.localAddress?.port ?? 0)
                sink.finish()
            },
            logger: Logger(label: "leadsync.sandbox", factory: { _ in SwiftLogNoOpLogHandler() })
        )
    }

    /// Serves until graceful shutdown (or cancellation).
    public func run() async throws {
        // However it ends (a port already taken, say), nobody waits on `listening()` forever.
        defer { portSink.finish() }
        try await app.run()
    }

    /// Waits until it accepts connections; returns the port.
    public func listening() async throws -> Int {
        for await p in ports where p > 0 {
            bound.withLock { $0 = p }
            return p
        }
        let p = port
        guard p > 0 else { throw SandboxError.couldNotStart(host: host, port: requestedPort) }
        return p
    }

    /// Starts on `host:port` (port 0: any free port) in the background and returns once it
    /// accepts connections; `stop()` ends it.
    public static func start(
        state: SandboxState = SandboxState(), host: String = "127.0.0.1", port: Int = 0
    ) async throws -> SandboxServer {
        let server = SandboxServer(state: state, host: host, port: port)
        let task = Task { try await server.run() }
        server.background.withLock { $0 = task }
        do {
            _ = try await server.listening()
        } catch {
            task.cancel()
            throw error
        }
        return server
    }

    /// Stops a server `start` began.
    public func stop() async {
        guard let task = background.withLock({ $0 }) else { return }
        task.cancel()
        _ = try? await task.value
    }
}

public enum SandboxError: Error, CustomStringConvertible {
    case couldNotStart(host: String, port: Int)
    public var description: String {
        switch self {
        case .couldNotStart(let host, let port): return "sandbox: could not listen on \(host):\(port)"
        }
    }
}
