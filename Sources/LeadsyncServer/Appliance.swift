import AsyncHTTPClient
import Hummingbird
import HummingbirdCore
import LeadsyncAuth
import LeadsyncCore
import LeadsyncIntake
import LeadsyncRuntime
import LeadsyncStore
import LeadsyncUpstream
import LeadsyncValues
import LeadsyncWebhooks
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle

/// Several GHL locations in one process (`leadsync serve --config leadsync.yaml`): one
/// `LeadsyncServer` per location, each with its own rules, clients, GHL budget, workers and
/// reconcile schedule over its own rows of the one SQLite file, behind one listener.
///
/// The front reads a webhook's location and hands the request to that location's server, which
/// verifies and stores it as in single-location mode. An event for a location not configured is
/// answered here (200 `ignored`, `reason="unknown_location"`) and nothing is stored or called.
/// Admin endpoints and the operator page take `?location=ID` (needed with more than one).
public final class Appliance: Sendable {
    /// In the file's order.
    public let servers: [LeadsyncServer]
    let byLocation: [String: LeadsyncServer]
    let responders: [String: RouterResponder<BasicRequestContext>]
    let configuration: ServerConfiguration
    let verifier: WebhookVerifier
    /// Webhooks refused or ignored before a location is known (label `location=""`).
    public let metrics: ServerMetrics
    let registry: PrometheusCollectorRegistry
    let ghlApp: GHLApp?
    let logger: Logger
    let now: @Sendable () -> Timestamp

    public struct Error: Swift.Error, CustomStringConvertible {
        public var description: String
    }

    /// Builds every location's server. `store` is the file, unscoped; rows written in
    /// single-location mode go to the location marked `existing_data` (or the only one).
    public static func build(
        file: LocationsFile, configuration: ServerConfiguration, store: LeadsyncDatabase, verifier: WebhookVerifier,
        http: HTTPClient, logger: Logger, now: @escaping @Sendable () -> Timestamp
    ) throws -> Appliance {
        if try store.hasUnscopedRows() {
            let heir =
                file.locations.first(where: \.existingData) ?? (file.locations.count == 1 ? file.locations[0] : nil)
            guard let heir else {
                throw Error(
                    description:
                        "the database holds data from single-location mode; mark its location in \(file.path) with 'existing_data: true'"
                )
            }
            let moved = try store.scoped(location: heir.id, account: heir.account).claimUnscopedRows(at: now())
            logger.notice(
                "single-location data given to its location",
                metadata: ["location": .string(heir.id), "contacts": .stringConvertible(moved)])
        }
        let registry = PrometheusCollectorRegistry()
        let front = ServerMetrics(registry: registry, location: "")
        var metrics: [String: ServerMetrics] = [:]
        for l in file.locations { metrics[l.id] = ServerMetrics(registry: registry, location: l.id) }
        let byId = metrics
        var ghlBreakers: [String: CircuitBreaker] = [:]
        for l in file.locations { ghlBreakers[l.id] = CircuitBreaker(upstream: .ghl, settings: l.upstreams.breaker) }
        // One Marketplace app for every OAuth location (one install, one client id).
        let oauthLocations = file.locations.filter { $0.upstreams.oauth != nil }
        var app: GHLApp?
        if let first = oauthLocations.first, let oauth = first.upstreams.oauth, let vault = first.upstreams.vault {
            app = GHLApp(
                oauth: GHLOAuthClient(
                    baseURL: first.upstreams.ghlBaseURL, clientId: oauth.clientId, clientSecret: oauth.clientSecret,
                    redirectURI: oauth.redirectURI, client: http),
                store: store, vault: vault,
                breakers: Dictionary(uniqueKeysWithValues: oauthLocations.map { ($0.id, ghlBreakers[$0.id]) }),
                now: now,
                onEvent: { event in
                    let location = event.location
                    let m = byId[location] ?? front
                    var l = logger
                    l[metadataKey: "location"] = .string(location)
                    LeadsyncServer.log(event, metrics: m, logger: l)
                })
        }
        // One budget, one breaker and one set of contact locks per CallTools account (silo and key).
        var accounts: [String: (budget: TokenBucket, breaker: CircuitBreaker)] = [:]
        var locks: [String: ContactLocks] = [:]
        for l in file.locations where accounts[l.account] == nil {
            locks[l.account] = ContactLocks()
            let rate = l.upstreams.calltoolsRate
            accounts[l.account] = (
                // cannot trap: `UpstreamSettings.rate` took only 0.001 to 31,622,400 seconds
                TokenBucket(capacity: rate.0, period: .milliseconds(Int64(rate.1 * 1000))),
                CircuitBreaker(upstream: .calltools, settings: l.upstreams.breaker)
            )
        }
        let sessions = UISessions()
        var servers: [LeadsyncServer] = []
        for l in file.locations {
            var log = logger
            log[metadataKey: "location"] = .string(l.id)
            var setup = ServerSetup(
                configuration: configuration, rulesPath: l.rulesPath,
                store: store.scoped(location: l.id, account: l.account), upstreams: l.upstreams, verifier: verifier,
                http: http, logger: log, now: now)
            setup.metrics = metrics[l.id]
            // cannot be nil: filled for every location above
            if let breaker = ghlBreakers[l.id], let share = accounts[l.account], let lock = locks[l.account] {
                setup.shared = SharedClients(app: app, ghlBreaker: breaker, calltools: share, locks: lock)
            }
            setup.uiSessions = sessions
            setup.peers = file.locations.count > 1 ? file.locations.map { UILocation(id: $0.id, name: $0.name) } : []
            do {
                servers.append(try LeadsyncServer.build(setup))
            } catch let error as LiveRules.Rejected {
                throw Error(description: "location \(l.id): \(error.message)")
            }
        }
        return Appliance(
            servers: servers, configuration: configuration, verifier: verifier, metrics: front, registry: registry,
            ghlApp: app, logger: logger, now: now)
    }

    init(
        servers: [LeadsyncServer], configuration: ServerConfiguration, verifier: WebhookVerifier,
        metrics: ServerMetrics, registry: PrometheusCollectorRegistry, ghlApp: GHLApp?, logger: Logger,
        now: @escaping @Sendable () -> Timestamp
    ) {
        self.servers = servers
        var by: [String: LeadsyncServer] = [:]
        var responders: [String: RouterResponder<BasicRequestContext>] = [:]
        for s in servers {
            guard let id = s.location else { continue }
            by[id] = s
            responders[id] = s.router().buildResponder()
        }
        self.byLocation = by
        self.responders = responders
        self.configuration = configuration
        self.verifier = verifier
        self.metrics = metrics
        self.registry = registry
        self.ghlApp = ghlApp
        self.logger = logger
        self.now = now
    }

    /// The server of `id`.
    public func server(_ id: String) -> LeadsyncServer? { byLocation[id] }

    /// Every location's workers and schedule, the app's start, and one SIGHUP handler that
    /// reloads every location's rules.
    public var services: [any ServiceLifecycle.Service] {
        var list: [any ServiceLifecycle.Service] = []
        if let ghlApp { list.append(GHLAppStart(app: ghlApp)) }
        for s in servers { list.append(contentsOf: s.workServices) }
        list.append(RulesReloadOnSignal(servers: servers))
        return list
    }

    public func application(
        extraServices: [any ServiceLifecycle.Service] = [],
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        LeadsyncServer.application(
            router: router(), configuration: configuration, services: services + extraServices, logger: logger,
            onServerRunning: onServerRunning)
    }

    // MARK: Routing

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/webhook/ghl") { request, context in await self.webhook(request, context, workflow: false) }
        router.post("/webhook/ghl-workflow") { request, context in
            await self.webhook(request, context, workflow: true)
        }
        for path in ["/sync/trigger", "/sync/mark-customer/{id}", "/rules/reload", "/rules/plan"] {
            router.post(RouterPath(path)) { request, context in await self.forward(request, context) }
        }
        for path in ["/sync/runs/{id}", "/sync/stats"] {
            router.get(RouterPath(path)) { request, context in await self.forward(request, context) }
        }
        router.get("/oauth/callback") { request, context in await self.forward(request, context, to: self.servers[0]) }
        router.get("/healthz") { _, _ in LeadsyncServer.json(.ok, ["status": .string("ok")]) }
        router.get("/readyz") { _, _ in self.readiness() }
        router.get("/metrics") { _, _ in await self.metricsPage() }
        for path in ["/ui", "/ui/**"] {
            router.get(RouterPath(path)) { request, context in await self.forwardUI(request, context) }
            router.post(RouterPath(path)) { request, context in await self.forwardUI(request, context) }
        }
        return router
    }

    /// The location a request names (`?location=`), or the only one.
    func chosen(_ request: Request) -> Either {
        if let id = request.uri.queryParameters.get("location") {
            guard let s = byLocation[id] else {
                return .refused(
                    LeadsyncServer.error(
                        .notFound,
                        "no location '\(id.prefix(80))'; configured: \(byLocation.keys.sorted().joined(separator: ", "))"
                    ))
            }
            return .server(s)
        }
        guard servers.count == 1 else {
            return .refused(
                LeadsyncServer.error(
                    .badRequest,
                    "this appliance serves \(servers.count) locations; add ?location=ID (one of: \(byLocation.keys.sorted().joined(separator: ", ")))"
                ))
        }
        return .server(servers[0])
    }

    enum Either {
        case server(LeadsyncServer)
        case refused(Response)
    }

    func forward(_ request: Request, _ context: BasicRequestContext, to server: LeadsyncServer? = nil) async -> Response
    {
        let target: LeadsyncServer
        if let server {
            target = server
        } else {
            switch chosen(request) {
            case .server(let s): target = s
            case .refused(let r): return r
            }
        }
        guard let id = target.location, let responder = responders[id] else {
            return LeadsyncServer.error(.internalServerError, "location not routed")
        }
        do {
            return try await responder.respond(to: request, context: context)
        } catch {
            return LeadsyncServer.error(.internalServerError, "\(error)")
        }
    }

    /// The operator page of the location chosen by `?location=` (remembered in a cookie for the
    /// following pages), else the first location. Sign-ins are shared by every location.
    func forwardUI(_ request: Request, _ context: BasicRequestContext) async -> Response {
        var id = request.uri.queryParameters.get("location")
        if id == nil, let cookie = request.headers[.cookie] {
            for part in cookie.split(separator: ";") {
                let kv = part.trimmingPrefix(" ")
                if kv.hasPrefix("leadsync_location=") { id = String(kv.dropFirst("leadsync_location=".count)) }
            }
        }
        let server = id.flatMap { byLocation[$0] } ?? servers[0]
        var response = await forward(request, context, to: server)
        if let chosen = request.uri.queryParameters.get("location"), byLocation[chosen] != nil {
            response.headers[.setCookie] = "leadsync_location=\(chosen); Path=/ui; HttpOnly; SameSite=Strict"
        }
        return response
    }

    /// Reads the body, finds its location, and hands the request (body and all) to that
    /// location's server. Anything else is answered here and counted with `location=""`.
    func webhook(_ request: Request, _ context: BasicRequestContext, workflow: Bool) async -> Response {
        let front = servers[0]
        if workflow {
            // The secret first: an unauthenticated caller learns nothing of our locations.
            guard let secret = configuration.workflowSecret else {
                metrics.webhook("forbidden")
                return LeadsyncServer.error(.forbidden, "workflow webhooks are disabled (set LEADSYNC_WORKFLOW_SECRET)")
            }
            guard SharedSecret.matches(request.headers[LeadsyncServer.webhookSecret], secret) else {
                metrics.webhook("unauthorized")
                return LeadsyncServer.error(.unauthorized, "missing or wrong X-Webhook-Secret")
            }
        }
        var request = request
        let body: [UInt8]
        switch await front.readBody(&request) {
        case .success(let bytes): body = bytes
        case .failure(let failure):
            return LeadsyncServer.refused(failure, configuration: configuration, metrics: metrics, context)
        }
        let named = Self.location(in: body)
        let target = named.flatMap { byLocation[$0] } ?? (named == nil && servers.count == 1 ? servers[0] : nil)
        if let target, let id = target.location, let responder = responders[id] {
            let copy = Request(head: request.head, body: RequestBody(buffer: ByteBuffer(bytes: body)))
            do {
                return try await responder.respond(to: copy, context: context)
            } catch {
                return LeadsyncServer.error(.internalServerError, "\(error)")
            }
        }
        // No configured location: authenticate, then say why it is not ours.
        let verdict: IntakeVerdict
        if workflow {
            verdict = WebhookIntake.workflow(body: body, audience: Audience(locations: Set(byLocation.keys)))
        } else {
            verdict = WebhookIntake.marketplace(
                body: body,
                signature: verifier.check(
                    body: body, ghlSignature: request.headers[LeadsyncServer.ghlSignature],
                    whSignature: request.headers[LeadsyncServer.whSignature]),
                audience: Audience(locations: Set(byLocation.keys), appId: configuration.appId))
        }
        if let refusal = LeadsyncServer.answerWithoutStoring(verdict, metrics: metrics, context) { return refusal }
        switch verdict {
        case .unauthorized, .badRequest, .ignored:
            return LeadsyncServer.error(.internalServerError, "unreachable")  // answered above
        case .app:
            // An install or uninstall that names no configured location (an agency's
            // company-level event): the shared app handles it through the first location.
            let copy = Request(head: request.head, body: RequestBody(buffer: ByteBuffer(bytes: body)))
            return await forward(copy, context, to: front)
        case .store:
            // A contact event that names no location, with several configured: it cannot be
            // routed, so it is not ours to apply.
            metrics.webhook("ignored")
            metrics.ignored(reason: "unknown_location")
            return LeadsyncServer.json(.ok, ["status": .string("ignored")])
        }
    }

    /// The location a webhook body names (`locationId`, or `location.id` in a workflow's).
    static func location(in body: [UInt8]) -> String? {
        guard case .object(let o)? = try? JSONParser.parse(body) else { return nil }
        return (o["locationId"] ?? o["location"]?["id"])?.stringValue
    }

    // MARK: Probes

    /// Ready when every location is; each location's report under its id.
    func readiness() -> Response {
        var worst = HTTPResponse.Status.ok
        var locations = JSONObject()
        for s in servers {
            let (status, report) = s.readinessReport()
            if status != .ok { worst = status }
            locations[s.location ?? ""] = report
        }
        var o = JSONObject()
        o["status"] = .string(worst == .ok ? "ready" : "not ready")
        o["locations"] = .object(locations)
        return LeadsyncServer.json(worst, .object(o))
    }

    func metricsPage() async -> Response {
        for s in servers { await s.refreshMetrics() }
        return LeadsyncServer.metricsResponse(registry.emitToBuffer())
    }
}

extension GHLConnection.Event {
    /// The location the news is about.
    var location: String {
        switch self {
        case .refreshed(let l), .refreshFailed(let l, _), .lost(let l, _), .connected(let l): l
        }
    }
}
