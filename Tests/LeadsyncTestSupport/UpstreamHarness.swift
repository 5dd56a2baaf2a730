import AsyncHTTPClient
import LeadsyncSandbox
import LeadsyncUpstream

/// The two clients against an in-process sandbox on a loopback port, with fast retries and
/// budgets that never make a test wait (rate limits are scripted in the sandbox when a test
/// wants them). Counts the calls each client makes.
public struct UpstreamHarness: Sendable {
    public let server: SandboxServer
    public let http: HTTPClient
    public let ghl: GHLClient
    public let calltools: CallToolsClient
    public let ghlCalls = Counter()
    public let calltoolsCalls = Counter()

    public var state: SandboxState { server.state }

    public static let fastRetry = RetryPolicy(
        maxAttempts: 4, baseDelay: .milliseconds(5), maxDelay: .milliseconds(20))

    init(server: SandboxServer, retry: RetryPolicy, budget: Int, timeout: Duration) {
        self.server = server
        http = UpstreamHTTP.makeClient()
        let ghlCalls = ghlCalls, calltoolsCalls = calltoolsCalls
        ghl = GHLClient(
            baseURL: server.baseURL, token: server.state.ghlToken, locationId: server.state.locationId,
            client: http, budget: TokenBucket(capacity: budget, period: .seconds(1)), timeout: timeout,
            retry: retry, onCall: { _ in ghlCalls.add() })
        calltools = CallToolsClient(
            baseURL: server.baseURL, apiKey: server.state.calltoolsKey, client: http,
            budget: TokenBucket(capacity: budget, period: .seconds(1)), timeout: timeout, retry: retry,
            onCall: { _ in calltoolsCalls.add() })
    }

    /// A sandbox (a new one unless `server` is given), clients on it, `body`, then everything
    /// stopped and awaited, whether `body` threw or not. A sandbox passed in is left running.
    /// The 2 s request timeout keeps outage tests short; a test that times waits under a loaded
    /// CI machine gives a longer one.
    public static func with<T>(
        server: SandboxServer? = nil, retry: RetryPolicy = fastRetry, budget: Int = 1000,
        timeout: Duration = .seconds(2),
        _ body: (UpstreamHarness) async throws -> T
    ) async throws -> T {
        let owned = server == nil
        let sandbox: SandboxServer
        if let server { sandbox = server } else { sandbox = try await SandboxServer.start() }
        let h = UpstreamHarness(server: sandbox, retry: retry, budget: budget, timeout: timeout)
        return try await withCleanup {
            try await body(h)
        } cleanup: {
            try? await h.http.shutdown()
            if owned { await sandbox.stop() }
        }
    }
}

extension SandboxState {
    /// The CallTools creates (`POST /api/contacts/`) the sandbox saw, in order.
    public var calltoolsCreates: [RecordedRequest] {
        requests.filter { $0.method == "POST" && $0.path == "/api/contacts/" }
    }
}
