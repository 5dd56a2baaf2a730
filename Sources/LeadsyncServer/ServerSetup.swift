import AsyncHTTPClient
import Foundation
import LeadsyncAuth
import LeadsyncCore
import LeadsyncRules
import LeadsyncRuntime
import LeadsyncStore
import LeadsyncUpstream
import LeadsyncValues
import LeadsyncWebhooks
import Logging

/// Everything a server is built from, in one value. `LeadsyncServer.build(_:)` turns it into
/// the whole object graph: the upstream clients, the rules loader, the executor, the processor
/// and the scheduler. `serve`, `demo`, the tests and the benchmark all build their server so.
public struct ServerSetup: Sendable {
    public var configuration: ServerConfiguration
    public var rulesPath: String
    public var store: LeadsyncDatabase
    public var upstreams: UpstreamSettings
    public var verifier: WebhookVerifier
    public var http: HTTPClient
    public var logger: Logger
    public var now: @Sendable () -> Timestamp
    /// Set by an appliance of several locations: this location's labelled metrics, and what it
    /// shares with the others (nil: a single-location server owns everything).
    public var metrics: ServerMetrics?
    public var shared: SharedClients?
    /// Operator page sign-ins, shared by every location of an appliance.
    public var uiSessions: UISessions?
    /// Every location of the appliance, for the operator page's switcher (empty: one location).
    public var peers: [UILocation] = []

    public init(
        configuration: ServerConfiguration, rulesPath: String, store: LeadsyncDatabase, upstreams: UpstreamSettings,
        verifier: WebhookVerifier, http: HTTPClient, logger: Logger, now: @escaping @Sendable () -> Timestamp
    ) {
        self.configuration = configuration
        self.rulesPath = rulesPath
        self.store = store
        self.upstreams = upstreams
        self.verifier = verifier
        self.http = http
        self.logger = logger
        self.now = now
    }
}

extension LeadsyncServer {
    /// The server `setup` describes. Throws `LiveRules.Rejected` when the rules file does not
    /// load clean (the way `check` sees it).
    public static func build(_ setup: ServerSetup) throws -> LeadsyncServer {
        let metrics = setup.metrics ?? ServerMetrics()
        let logger = setup.logger
        let (ghl, calltools, app) = setup.upstreams.clients(
            http: setup.http, store: setup.store, now: setup.now, onCall: { metrics.upstream($0) },
            onAuthEvent: { event in LeadsyncServer.log(event, metrics: metrics, logger: logger) },
            shared: setup.shared)
        let store = setup.store, now = setup.now, settle = setup.upstreams.createSettle
        // One lock per contact and phone for the whole process: every executor a reload builds
        // shares it, and so do the locations of one CallTools account (a phone is one contact
        // there, whichever location it comes from).
        let locks = setup.shared?.locks ?? ContactLocks()
        // One custom-field catalog for workers, passes and every executor a reload builds.
        let catalogs = CatalogCache(ghl: ghl)
        let live = try LiveRules(
            path: setup.rulesPath, load: RulesLoader.file(setup.rulesPath),
            makeExecutor: { rules in
                try Executor(
                    rules: rules, store: store, calltools: calltools, ghl: ghl, now: now, createSettle: settle,
                    locks: locks, catalogs: catalogs)
            })
        return LeadsyncServer(
            configuration: setup.configuration, store: store, rules: live, verifier: setup.verifier, ghl: ghl,
            metrics: metrics, logger: setup.logger, catalogs: catalogs, upstreams: [ghl.http, calltools.http],
            ghlApp: app, uiSessions: setup.uiSessions, peers: setup.peers, now: now)
    }
}

/// How a server loads its rules: the file and its sibling tests file, read from disk and
/// compiled as `check` does. Unreadable, or any error diagnostic, rejects the file.
public enum RulesLoader {
    public static func file(_ path: String) -> @Sendable () throws(LiveRules.Rejected) -> LiveRules.Loaded {
        { () throws(LiveRules.Rejected) -> LiveRules.Loaded in
            let loaded: RulesFile?
            do {
                loaded = try RulesFile.load(path) { (p: String) throws(LiveRules.Rejected) -> String? in
                    guard p == path || FileManager.default.fileExists(atPath: p) else { return nil }
                    guard let data = FileManager.default.contents(atPath: p) else {
                        throw LiveRules.Rejected(message: "cannot read '\(p)'", diagnostics: [])
                    }
                    return String(decoding: data, as: UTF8.self)
                }
            }
            guard let file = loaded else { throw LiveRules.Rejected(message: "cannot read '\(path)'", diagnostics: []) }
            guard let rules = file.rules else {
                let errors = file.diagnostics.filter { $0.severity == .error }
                throw LiveRules.Rejected(
                    message: "\(path): \(errors.count) error(s); the previous rules stay live",
                    diagnostics: file.diagnostics)
            }
            return LiveRules.Loaded(rules: rules, diagnostics: file.diagnostics)
        }
    }
}
