import Foundation
import Hummingbird
import HummingbirdCore
import LeadsyncAuth
import LeadsyncCore
import LeadsyncIntake
import LeadsyncRules
import LeadsyncRuntime
import LeadsyncStore
import LeadsyncSync
import LeadsyncUpstream
import LeadsyncValues
import LeadsyncWebhooks
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// `leadsync serve`: the webhook server, its workers and its reconcile schedule.
///
/// One value holds every part; `application()` is what `serve`, `demo` and the tests run
/// (hummingbird-examples' `buildApplication` pattern). Intake verifies, de-duplicates and commits
/// each event before answering; workers apply them afterwards (`InboxProcessor`).
public final class LeadsyncServer: Sendable {
    public let configuration: ServerConfiguration
    public let store: LeadsyncDatabase
    public let rules: LiveRules
    public let verifier: WebhookVerifier
    public let metrics: ServerMetrics
    public let processor: InboxProcessor
    /// Nil without a GHL client (no passes can run).
    public let scheduler: ReconcileScheduler?
    let writer: InboxWriter
    /// GHL's request budget (its daily part shows in stats and metrics); nil without GHL.
    let ghlBudget: TokenBucket?
    /// The GHL client the server's executors and passes use (the demo tags contacts with it).
    public let ghl: GHLClient?
    /// The upstreams' transports, whose circuit breakers `/readyz`, stats and metrics report.
    public let upstreams: [UpstreamHTTP]
    /// The Marketplace app (OAuth installs, token refresh); nil with a Private Integration token.
    public let ghlApp: GHLApp?
    /// Whose webhooks are ours: the configured location, and `GHL_APP_ID` when set.
    public let audience: Audience?
    /// The GHL location this server serves (nil without a GHL client).
    public var location: String? { ghl?.locationId }
    let logger: Logger
    let now: @Sendable () -> Timestamp
    /// Inbox counts for the probes, kept up to date by the processor (not counted per request).
    let snapshot = InboxSnapshot()
    /// Operator page sign-ins (`/ui`).
    let uiSessions: UISessions
    /// The appliance's locations, for the page's switcher (empty with one location).
    let peers: [UILocation]
    /// The last `check` of the rules file the page showed, by its text.
    let uiCheckCache = Mutex<(text: String, diagnostics: [Diagnostic], hash: String?)?>(nil)

    public init(
        configuration: ServerConfiguration, store: LeadsyncDatabase, rules: LiveRules, verifier: WebhookVerifier,
        ghl: GHLClient?, metrics: ServerMetrics, logger: Logger, catalogs: CatalogCache? = nil,
        upstreams: [UpstreamHTTP] = [], ghlApp: GHLApp? = nil, uiSessions: UISessions? = nil,
        peers: [UILocation] = [], now: @escaping @Sendable () -> Timestamp
    ) {
        self.uiSessions = uiSessions ?? UISessions()
        self.peers = peers
        self.upstreams = upstreams
        self.ghlApp = ghlApp
        self.audience = ghl.map { Audience(locations: [$0.locationId], appId: configuration.appId) }
        self.configuration = configuration
        self.ghlBudget = ghl?.http.budget
        self.ghl = ghl
        self.store = store
        self.rules = rules
        self.verifier = verifier
        self.metrics = metrics
        self.logger = logger
        self.now = now
        let workerExecutor = WorkerExecutor()
        snapshot.refresh(store)
        let processor = InboxProcessor(
            store: store, rules: rules, ghl: ghl, configuration: configuration, metrics: metrics, logger: logger,
            workerExecutor: workerExecutor, catalogs: catalogs ?? ghl.map { CatalogCache(ghl: $0) },
            upstreams: upstreams, snapshot: snapshot, now: now)
        self.processor = processor
        for upstream in upstreams {
            guard let breaker = upstream.breaker else { continue }
            let name = upstream.service.rawValue
            metrics.circuit(upstream: name, state: .closed)
            // Logged once when it opens and once when it closes, never per event.
            breaker.observe { [weak processor] transition in
                switch transition {
                case .opened(let status):
                    metrics.circuit(upstream: name, state: .open)
                    logger.error(
                        "\(name) is failing: circuit open; its work is held, webhooks are still accepted",
                        metadata: [
                            "upstream": .string(name), "failures": .stringConvertible(status.consecutiveFailures),
                            "last_error": .string(status.lastError ?? ""),
                        ])
                case .closed(let after, let probes):
                    metrics.circuit(upstream: name, state: .closed)
                    let released = processor?.release(upstream.service) ?? 0
                    logger.notice(
                        "\(name) is back: circuit closed",
                        metadata: [
                            "upstream": .string(name), "open_seconds": .stringConvertible(after.components.seconds),
                            "probes": .stringConvertible(probes), "released": .stringConvertible(released),
                        ])
                }
            }
        }
        self.scheduler = ghl.map {
            ReconcileScheduler(
                store: store, rules: rules, ghl: $0, configuration: configuration, metrics: metrics, logger: logger,
                workerExecutor: workerExecutor, now: now)
        }
        self.writer = InboxWriter(store: store, now: now, onCommit: { processor.wake() })
        recordLiveRules()
    }

    /// Records the rules now live in the database, for `leadsync plan`.
    func recordLiveRules() {
        guard let data = FileManager.default.contents(atPath: rules.path) else { return }
        try? store.setLiveRules(
            path: rules.path, hash: rules.current.hash, text: String(decoding: data, as: UTF8.self), at: now())
    }

    /// What `text` (a rules file) would do to the stored contacts, beside the live rules.
    public func plan(_ text: String) throws -> (RulesPlan?, [Diagnostic]) {
        let document = RulesCompiler.compile(source: text, file: "plan.yaml")
        guard let new = document.rules else { return (nil, document.diagnostics) }
        return (try PlanRunner.run(old: rules.current.rules, new: new, store: store, now: now()), document.diagnostics)
    }

    /// The long-lived parts besides the HTTP server, in start order (shutdown runs in reverse,
    /// after the HTTP server has stopped taking requests).
    public var services: [any ServiceLifecycle.Service] {
        var list: [any ServiceLifecycle.Service] = []
        if let ghlApp { list.append(GHLAppStart(app: ghlApp)) }
        list.append(contentsOf: workServices)
        list.append(RulesReloadOnSignal(servers: [self]))
        return list
    }

    /// The workers and the reconcile schedule (what each location of an appliance runs).
    var workServices: [any ServiceLifecycle.Service] {
        var list: [any ServiceLifecycle.Service] = [processor]
        if let scheduler { list.append(scheduler) }
        return list
    }

    /// The HTTP application; `extraServices` run with it (the sandbox's webhook emitter, say).
    public func application(
        extraServices: [any ServiceLifecycle.Service] = [],
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Self.application(
            router: router(), configuration: configuration, services: services + extraServices, logger: logger,
            onServerRunning: onServerRunning)
    }

    /// The HTTP application around `router` (a location's, or an appliance's front).
    static func application(
        router: Router<BasicRequestContext>, configuration: ServerConfiguration,
        services: [any ServiceLifecycle.Service], logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void
    ) -> some ApplicationProtocol {
        Application(
            router: router,
            // A connection idle past the timeout (no request begun, or headers never finished)
            // is closed, and at most `maxConnections` are open at once: further ones wait in the
            // kernel's backlog until one closes.
            server: .http1(configuration: .init(idleTimeout: .seconds(Int64(configuration.idleTimeoutSeconds)))),
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port), serverName: "leadsync",
                availableConnectionsDelegate: MaximumAvailableConnections(configuration.maxConnections)),
            services: services,
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    // MARK: Rules

    public enum ReloadOutcome: Sendable {
        case reloaded(hash: String, changed: Bool)
        case rejected(LiveRules.Rejected)
    }

    /// Reloads the rules file (SIGHUP or `/rules/reload`); a file with errors leaves the live
    /// rules in place and is reported: log line, metric, and the diagnostics for the caller.
    public func reloadRules() -> ReloadOutcome {
        do {
            let before = rules.current.rules
            let (hash, changed) = try rules.reload()
            if changed {
                recordLiveRules()
                // What the new rules move, in the log (evaluated beside the work, off the reload).
                let after = rules.current.rules, store = self.store, logger = self.logger, now = self.now
                Task.detached(priority: .background) {
                    guard let plan = try? PlanRunner.run(old: before, new: after, store: store, now: now()) else {
                        return
                    }
                    logger.notice(
                        "rules reload plan: \(plan.moved) of \(plan.contacts) contacts change buckets",
                        metadata: [
                            "moves": .string(
                                plan.moves.sorted { $0.count > $1.count }.prefix(5).map {
                                    "\($0.from.joined(separator: "+")) -> \($0.to.joined(separator: "+")): \($0.count)"
                                }.joined(separator: "; ")),
                            "calltools_calls": .stringConvertible(plan.calls.calltools),
                        ])
                }
            }
            metrics.reload(ok: true)
            logger.info(
                changed ? "rules reloaded" : "rules reloaded, unchanged",
                metadata: ["rules": .string(rules.path), "hash": .string(hash)])
            return .reloaded(hash: hash, changed: changed)
        } catch {
            metrics.reload(ok: false)
            let errors = error.diagnostics.filter { $0.severity == .error }
            logger.error(
                "rules reload rejected; the previous rules stay live",
                metadata: [
                    "rules": .string(rules.path), "errors": .stringConvertible(max(errors.count, 1)),
                    "first": .string(errors.first?.headline ?? error.message),
                ])
            return .rejected(error)
        }
    }
}

/// Reads the stored OAuth connections when the server starts (a refresh left half-done by a
/// killed process is finished or reported now, not at the next expiry).
struct GHLAppStart: ServiceLifecycle.Service {
    let app: GHLApp

    func run() async throws {
        await app.start()
        try? await gracefulShutdown()
    }
}

extension LeadsyncServer {
    /// An OAuth connection's news, in the log and the metrics (never a token).
    static func log(_ event: GHLConnection.Event, metrics: ServerMetrics, logger: Logger) {
        switch event {
        case .refreshed(let location):
            metrics.tokenRefresh(location: location, result: "ok")
            logger.info("GHL access token refreshed", metadata: ["location": .string(location)])
        case .refreshFailed(let location, let error):
            metrics.tokenRefresh(location: location, result: "retry")
            logger.warning(
                "GHL token refresh failed; the current token is used while it lasts",
                metadata: ["location": .string(location), "error": .string(error)])
        case .lost(let location, let reason):
            metrics.tokenRefresh(location: location, result: "lost")
            metrics.ghlConnected(location: location, false)
            logger.critical("\(reason)", metadata: ["location": .string(location)])
        case .connected(let location):
            metrics.ghlConnected(location: location, true)
            logger.notice("GHL location connected", metadata: ["location": .string(location)])
        }
    }
}

/// SIGHUP reloads the rules.
struct RulesReloadOnSignal: ServiceLifecycle.Service {
    /// Every location's server: each reloads its own file.
    let servers: [LeadsyncServer]

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            for server in servers { _ = server.reloadRules() }
        }
    }
}
