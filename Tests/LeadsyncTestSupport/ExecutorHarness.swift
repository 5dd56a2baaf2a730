import AsyncHTTPClient
import LeadsyncCore
import LeadsyncRules
import LeadsyncRuntime
import LeadsyncSandbox
import LeadsyncStore
import LeadsyncUpstream
import LeadsyncValues

/// An executor on a database (in memory unless given) against an in-process sandbox: what the
/// runtime's suites drive contact by contact, or pass by pass.
public struct ExecutorHarness: Sendable {
    public let upstream: UpstreamHarness
    public let store: LeadsyncDatabase
    public let executor: Executor

    public var server: SandboxServer { upstream.server }
    public var http: HTTPClient { upstream.http }
    public var ghlCalls: Counter { upstream.ghlCalls }
    public var ctCalls: Counter { upstream.calltoolsCalls }

    public struct RulesError: Error, CustomStringConvertible {
        public var description: String
    }

    public static func compile(_ source: String) throws -> CompiledRules {
        let result = RulesCompiler.compile(source: source, file: "fixture.yaml")
        guard let rules = result.rules else {
            throw RulesError(description: "fixture rules do not compile: \(result.diagnostics)")
        }
        return rules
    }

    /// An executor with these rules, then `body`, then the clients and (unless it was passed
    /// in) the sandbox stopped and awaited.
    public static func with<T>(
        store: LeadsyncDatabase? = nil, server: SandboxServer? = nil, rules: String = Fixtures.executor,
        createSettle: Duration = .zero,
        now: @escaping @Sendable () -> Timestamp = { Fixtures.now },
        _ body: (ExecutorHarness) async throws -> T
    ) async throws -> T {
        try await UpstreamHarness.with(server: server) { upstream in
            let db = try store ?? LeadsyncDatabase.inMemory()
            let executor = try Executor(
                rules: try compile(rules), store: db, calltools: upstream.calltools, ghl: upstream.ghl, now: now,
                createSettle: createSettle)
            let h = ExecutorHarness(upstream: upstream, store: db, executor: executor)
            return try await body(h)
        }
    }

    /// The contact as a batch pass sees it, and the same contact put into the sandbox's GHL
    /// (write-backs go there).
    public func contact(_ json: String) async throws -> Contact {
        let parsed = try JSONParser.parse(json)
        if case .object(let o) = parsed { await server.state.putGHLContact(o) }
        return try InboundContact.decode(parsed, defaultEventType: "batch").contact
    }

    /// A sync pass over this harness's executor and store, with the harness's GHL client.
    public func pass(
        rules: String = Fixtures.executor, now: @escaping @Sendable () -> Timestamp = { Fixtures.now }
    ) throws -> SyncPass {
        SyncPass(rules: try Self.compile(rules), ghl: upstream.ghl, executor: executor, store: store, now: now)
    }

    /// The CallTools requests the sandbox saw, in order.
    public var ctRequests: [RecordedRequest] {
        get async { await server.state.requests.filter { $0.path.hasPrefix("/api/") } }
    }
}
