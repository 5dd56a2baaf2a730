import AsyncHTTPClient
import LeadsyncValues
import NIOCore
import NIOHTTP1
import Synchronization

/// Which upstream a call went to.
public enum Upstream: String, Sendable {
    case ghl
    case calltools
}

/// A failed upstream call: which call, and why. Never carries credentials.
public struct UpstreamError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Error, Sendable, Equatable {
        /// The upstream answered with an error status.
        case status(Int, message: String)
        /// No answer before the deadline: the request may or may not have been processed.
        case timeout
        /// The connection failed; `sent` says whether the request may have reached the upstream.
        case connection(String, sent: Bool)
        /// The answer was not what the API documents.
        case invalidResponse(String)
        /// Nothing was sent: the upstream's circuit breaker is open (it has been failing; the
        /// last failure says how).
        case circuitOpen(String)
    }

    public var service: Upstream
    /// `POST /api/contacts/`
    public var call: String
    public var kind: Kind
    public var attempts: Int

    /// Worth trying again later (the executor's dead-letter logic uses this).
    public var isTransient: Bool {
        switch kind {
        case .status(let s, _): return s == 429 || s >= 500
        case .timeout, .connection, .circuitOpen: return true
        case .invalidResponse: return false
        }
    }

    /// Nothing was sent because the upstream's breaker is open: the caller should hold its
    /// work until the breaker closes, without counting a failed attempt.
    public var isCircuitOpen: Bool {
        if case .circuitOpen = kind { return true }
        return false
    }

    /// The request may have been processed although no success came back.
    public var outcomeUnknown: Bool {
        switch kind {
        case .timeout: return true
        case .connection(_, let sent): return sent
        case .status(let s, _): return s >= 500
        case .invalidResponse: return true
        case .circuitOpen: return false
        }
    }

    public init(service: Upstream, call: String, kind: Kind, attempts: Int) {
        self.service = service
        self.call = call
        self.kind = kind
        self.attempts = attempts
    }

    public var description: String {
        let what: String
        switch kind {
        case .status(let s, let m): what = "HTTP \(s)" + (m.isEmpty ? "" : ": \(m)")
        case .timeout: what = "no answer before the deadline"
        case .connection(let m, _): what = "connection failed: \(m)"
        case .invalidResponse(let m): what = "unexpected answer: \(m)"
        case .circuitOpen(let last):
            what =
                "not sent: \(service.rawValue) is failing (circuit open"
                + (last.isEmpty ? ")" : "; last error: \(last))")
        }
        return "\(service.rawValue) \(call): \(what)" + (attempts > 1 ? " (after \(attempts) attempts)" : "")
    }
}

/// Capped exponential backoff with full jitter.
public struct RetryPolicy: Sendable {
    public var maxAttempts: Int
    public var baseDelay: Duration
    public var maxDelay: Duration

    public init(maxAttempts: Int = 5, baseDelay: Duration = .milliseconds(250), maxDelay: Duration = .seconds(30)) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// The wait before attempt `attempt + 1` (attempt counts from 1): uniformly random up to
    /// `min(maxDelay, baseDelay * 2^(attempt-1))`.
    public func delay(after attempt: Int) -> Duration {
        let cap = min(maxDelay, baseDelay * (1 << min(attempt - 1, 20)))
        let ms = Double(cap.components.seconds) * 1000 + Double(cap.components.attoseconds) / 1e15
        return .milliseconds(Int64(Double.random(in: 0...max(ms, 1))))
    }
}

/// One call as it happened, for the audit trail and metrics.
public struct CallRecord: Sendable, Equatable {
    public var service: Upstream
    public var method: String
    public var path: String
    public var status: Int?
    public var milliseconds: Int
    public var attempt: Int
}

/// Collects the calls made inside a task (the executor wraps each contact in one), so the
/// contact's audit trail can list every attempt with its status and latency.
public final class CallLog: Sendable {
    @TaskLocal public static var current: CallLog?

    private let records = Mutex<[CallRecord]>([])

    public init() {}

    func append(_ r: CallRecord) { records.withLock { $0.append(r) } }

    /// The calls so far, and empties the log.
    public func drain() -> [CallRecord] {
        records.withLock { r in
            defer { r.removeAll() }
            return r
        }
    }
}

/// Where a client's bearer token comes from when it is not a fixed one (an OAuth connection
/// whose access token expires and is refreshed). Errors are `UpstreamError`s that say nothing
/// was sent and never carry a token.
public protocol BearerTokenSource: Sendable {
    /// The token to send now (refreshed ahead of its expiry by the source).
    func bearerToken() async throws(UpstreamError) -> String
    /// The upstream answered 401 to `token`: refresh once (one refresh at a time; a caller whose
    /// token was already replaced gets the new one without another refresh).
    func refused(_ token: String) async throws(UpstreamError) -> String
}

/// The transport both clients share: base URL, headers, deadline, pacing, retries.
public struct UpstreamHTTP: Sendable {
    public struct Configuration: Sendable {
        public var baseURL: String
        public var headers: [(String, String)]
        public var timeout: Duration
        public var retry: RetryPolicy
        /// The cheap read a circuit breaker sends to learn whether the upstream is back.
        public var probe: (method: HTTPMethod, path: String, query: [(String, String)])?
        /// Sends `Authorization: Bearer <token>` from this source on every attempt (nil: the
        /// fixed `headers` authorize).
        public var tokenSource: (any BearerTokenSource)?

        public init(
            baseURL: String, headers: [(String, String)], timeout: Duration = .seconds(15),
            retry: RetryPolicy = RetryPolicy(),
            probe: (method: HTTPMethod, path: String, query: [(String, String)])? = nil,
            tokenSource: (any BearerTokenSource)? = nil
        ) {
            self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
            self.headers = headers
            self.timeout = timeout
            self.retry = retry
            self.probe = probe
            self.tokenSource = tokenSource
        }
    }

    public let service: Upstream
    public let configuration: Configuration
    public let client: HTTPClient
    public let budget: TokenBucket
    /// Called once per attempt (audit, metrics, tests).
    public let onCall: @Sendable (CallRecord) -> Void
    /// Stops calls to an upstream that keeps failing (nil: every call goes out).
    public let breaker: CircuitBreaker?

    public init(
        service: Upstream, configuration: Configuration, client: HTTPClient, budget: TokenBucket,
        breaker: CircuitBreaker? = nil, onCall: @escaping @Sendable (CallRecord) -> Void = { _ in }
    ) {
        self.service = service
        self.configuration = configuration
        self.client = client
        self.budget = budget
        self.breaker = breaker
        self.onCall = onCall
    }

    /// Sends the breaker's probe when one is due (the breaker is open and its wait is over, and
    /// no other probe is in flight); its outcome closes the breaker or lengthens the wait.
    /// Returns whether a probe went out.
    @discardableResult
    public func probeIfDue() async -> Bool {
        guard let breaker, let probe = configuration.probe, breaker.claimProbe() else { return false }
        try? await budget.acquire()
        let start = ContinuousClock.now
        let token = try? await configuration.tokenSource?.bearerToken()
        let result = await once(probe.method, probe.path, query: probe.query, body: nil, token: token)
        let status: Int?
        switch result {
        case .success(let r): status = r.status
        case .failure: status = nil
        }
        onCall(
            CallRecord(
                service: service, method: probe.method.rawValue, path: probe.path, status: status,
                milliseconds: Self.milliseconds(ContinuousClock.now - start), attempt: 1))
        record(result)
        return true
    }

    /// Waits until the breaker closes, sending probes when they are due (sync passes wait
    /// instead of failing; the server's workers hold their events instead).
    func waitUntilClosed(call: String) async throws(UpstreamError) {
        guard let breaker else { return }
        while !breaker.isClosed {
            // Held open for a person to act (a lost OAuth connection): only the server's own
            // passes wait for that; a command fails at once, saying why.
            if Task.isCancelled || (breaker.isDisconnected && CircuitBreaker.whenOpen != .wait) {
                throw UpstreamError(
                    service: service, call: call, kind: .circuitOpen(breaker.lastError), attempts: 0)
            }
            await probeIfDue()
            if breaker.isClosed { return }
            let next = breaker.nextProbe ?? .now
            try? await Task.sleep(until: min(max(next, .now + .milliseconds(20)), .now + .seconds(1)))
        }
    }

    /// Tells the breaker what an attempt says of the upstream's health.
    private func record(_ result: Result<Response, UpstreamError.Kind>) {
        guard let breaker else { return }
        switch result {
        case .success(let r) where r.status >= 500:
            breaker.recordFailure("HTTP \(r.status)")
        case .success:
            breaker.recordSuccess()
        case .failure(.timeout):
            breaker.recordFailure("no answer before the deadline")
        case .failure(.connection(let m, _)):
            breaker.recordFailure(m)
        case .failure:
            break
        }
    }

    static func milliseconds(_ d: Duration) -> Int {
        // cannot trap: a measured latency
        Int(d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000)
    }

    /// An HTTP client for API calls: redirects off (an API write must never be replayed
    /// somewhere else), connection pooling on. Shut it down with `shutdown()`.
    public static func makeClient() -> HTTPClient {
        var config = HTTPClient.Configuration()
        config.redirectConfiguration = .disallow
        config.timeout = .init(connect: .seconds(5), read: .seconds(30))
        config.decompression = .disabled
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
    }

    public struct Response: Sendable {
        public var status: Int
        public var headers: HTTPHeaders
        public var body: JSON
    }

    /// Sends a request, paced and retried. `idempotent: false` (a create) retries only when
    /// the upstream certainly did not process it: a 429, or a connection that never opened.
    public func send(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: JSON? = nil,
        idempotent: Bool = true
    ) async throws(UpstreamError) -> Response {
        let call = "\(method.rawValue) \(path)"
        var attempt = 0
        // A 401 to a refreshable token is refreshed and sent again, once per call.
        var refreshedOnce = false
        while true {
            attempt += 1
            if let breaker, !breaker.isClosed {
                // Nothing goes out while the upstream is failing: a sync pass waits for it to
                // come back; live work gets an error that says nothing was sent.
                switch CircuitBreaker.whenOpen {
                case .wait:
                    try await waitUntilClosed(call: call)
                case .waitIfEverReached where breaker.hasBeenReached:
                    try await waitUntilClosed(call: call)
                case .fail, .waitIfEverReached:
                    throw UpstreamError(
                        service: service, call: call, kind: .circuitOpen(breaker.lastError), attempts: attempt - 1)
                }
            }
            do {
                try await budget.acquire()
            } catch {
                throw UpstreamError(
                    service: service, call: call, kind: .connection("cancelled", sent: false), attempts: attempt)
            }
            var token: String?
            if let source = configuration.tokenSource {
                do {
                    token = try await source.bearerToken()
                } catch {
                    throw UpstreamError(service: service, call: call, kind: error.kind, attempts: attempt - 1)
                }
            }
            let start = ContinuousClock.now
            let result = await once(method, path, query: query, body: body, token: token)
            record(result)
            let ms = Self.milliseconds(ContinuousClock.now - start)
            var failure: UpstreamError.Kind
            switch result {
            case .success(let response):
                let record = CallRecord(
                    service: service, method: method.rawValue, path: path, status: response.status,
                    milliseconds: ms, attempt: attempt)
                onCall(record)
                CallLog.current?.append(record)
                if let remaining = response.headers.first(name: "X-RateLimit-Remaining").flatMap(Int.init) {
                    await budget.observe(remaining: remaining)
                }
                if let daily = response.headers.first(name: "X-RateLimit-Daily-Remaining").flatMap(Int.init) {
                    await budget.observe(dailyRemaining: daily, now: .now())
                }
                if (200..<300).contains(response.status) { return response }
                if response.status == 401, let source = configuration.tokenSource, let token, !refreshedOnce {
                    // Expired or revoked early: one refresh, then the same call again.
                    refreshedOnce = true
                    do {
                        _ = try await source.refused(token)
                    } catch {
                        throw UpstreamError(service: service, call: call, kind: error.kind, attempts: attempt)
                    }
                    attempt -= 1
                    continue
                }
                if response.status == 429 {
                    // Retry-After when given (seconds or an HTTP date); GHL documents none, and
                    // its window is X-RateLimit-Interval-Milliseconds: wait that out.
                    let wait =
                        Self.retryAfter(response.headers) ?? Self.rateLimitInterval(response.headers)
                        ?? configuration.retry.delay(after: attempt)
                    await budget.pause(until: ContinuousClock.now + wait)
                }
                failure = .status(response.status, message: Self.message(response.body))
            case .failure(let kind):
                let record = CallRecord(
                    service: service, method: method.rawValue, path: path, status: nil, milliseconds: ms,
                    attempt: attempt)
                onCall(record)
                CallLog.current?.append(record)
                failure = kind
            }
            let error = UpstreamError(service: service, call: call, kind: failure, attempts: attempt)
            let safeToRepeat = idempotent || !error.outcomeUnknown
            guard error.isTransient, safeToRepeat, attempt < configuration.retry.maxAttempts else { throw error }
            if case .status(429, _) = failure {
                continue  // the budget is paused until Retry-After
            }
            try? await Task.sleep(for: configuration.retry.delay(after: attempt))
            if Task.isCancelled { throw error }
        }
    }

    private func once(
        _ method: HTTPMethod, _ path: String, query: [(String, String)], body: JSON?, token: String? = nil
    ) async
        -> Result<Response, UpstreamError.Kind>
    {
        var url = configuration.baseURL + path
        if !query.isEmpty {
            url += "?" + query.map { "\(Self.percentEncode($0.0))=\(Self.percentEncode($0.1))" }.joined(separator: "&")
        }
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in configuration.headers { request.headers.add(name: name, value: value) }
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.headers.add(name: "Accept", value: "application/json")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            var w = JSONWriter()
            w.value(body)
            request.body = .bytes(ByteBuffer(bytes: w.bytes))
        }
        do {
            let response = try await client.execute(request, timeout: .nanoseconds(configuration.timeout.nanoseconds))
            let buffer = try await response.body.collect(upTo: 32 << 20)
            let bytes = Array(buffer.readableBytesView)
            var json = JSON.null
            if !bytes.isEmpty {
                switch Result(catching: { () throws(JSONParser.Error) -> JSON in try JSONParser.parse(bytes) }) {
                case .success(let j): json = j
                case .failure:
                    if (200..<300).contains(Int(response.status.code)) {
                        return .failure(.invalidResponse("body is not JSON"))
                    }
                    json = .string(String(decoding: bytes.prefix(200), as: UTF8.self))
                }
            }
            return .success(Response(status: Int(response.status.code), headers: response.headers, body: json))
        } catch let error as HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout: return .failure(.timeout)
            case .connectTimeout: return .failure(.connection("connect timeout", sent: false))
            case .remoteConnectionClosed: return .failure(.connection("the server closed the connection", sent: true))
            default: return .failure(.connection(Self.plain(error), sent: true))
            }
        } catch {
            // Connection refused and other channel errors before the request went out.
            return .failure(.connection(Self.plain(error), sent: false))
        }
    }

    /// A connection error in a few words (NIO's descriptions carry errno and internal state).
    static func plain(_ error: any Error) -> String {
        let text = "\(error)"
        if text.contains("Connection refused") { return "connection refused" }
        if text.contains("Connection reset") { return "connection reset by the server" }
        if text.contains("No route to host") || text.contains("Network is unreachable") { return "host unreachable" }
        if text.contains("Name or service not known") || text.contains("nodename nor servname") {
            return "unknown host"
        }
        return text
    }

    /// `Retry-After`: delay seconds (what DRF sends), or an HTTP date (RFC 9110's IMF-fixdate,
    /// `Wed, 21 Oct 2026 07:28:00 GMT`) turned into a delay from `now`. Capped at an hour: a
    /// hostile or broken value never parks a client for days.
    static func retryAfter(_ headers: HTTPHeaders, now: Timestamp = .now()) -> Duration? {
        guard let raw = headers.first(name: "Retry-After") else { return nil }
        let value = raw.trimmedASCII
        let ms: Double
        if let seconds = Double(value), seconds.isFinite, seconds >= 0 {
            ms = seconds * 1000
        } else if let at = Timestamp(httpDate: value) {
            ms = Double(max(0, at.milliseconds - now.milliseconds))
        } else {
            return nil
        }
        return .milliseconds(Int64(min(ms, 3_600_000)))
    }

    /// GHL's `X-RateLimit-Interval-Milliseconds` (its rate window), capped at a minute.
    static func rateLimitInterval(_ headers: HTTPHeaders) -> Duration? {
        guard let value = headers.first(name: "X-RateLimit-Interval-Milliseconds").flatMap({ Int64($0.trimmedASCII) }),
            value > 0
        else { return nil }
        return .milliseconds(min(value, 60_000))
    }

    /// GHL `{"message": ...}` (a string, or a list for 422), DRF `{"detail": ...}` or
    /// `{"field": ["msg"]}`: one line.
    static func message(_ body: JSON) -> String {
        if let m = body["message"] {
            if let s = m.stringValue { return s }
            if let a = m.arrayValue { return a.compactMap(\.stringValue).joined(separator: "; ") }
        }
        if let d = body["detail"]?.stringValue { return d }
        if case .object(let o) = body {
            return o.entries.map {
                "\($0.key): \(($0.value.arrayValue ?? [$0.value]).compactMap(\.scalarText).joined(separator: ", "))"
            }
            .joined(separator: "; ")
        }
        return body.stringValue ?? ""
    }

    static func percentEncode(_ s: String) -> String { FormEncoding.encode(s) }
}

extension Duration {
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Timestamp {
    /// The wall clock (the core reads none; the shell does).
    public static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(milliseconds: Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000)
    }
}
