import HTTPTypes
import Hummingbird
import LeadsyncAuth
import LeadsyncCore
import LeadsyncIntake
import LeadsyncRules
import LeadsyncRuntime
import LeadsyncStore
import LeadsyncUpstream
import LeadsyncValues
import LeadsyncWebhooks
import Logging

/// The HTTP endpoints of product.md §3, with exactly its statuses.
extension LeadsyncServer {
    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/webhook/ghl") { request, context in await self.marketplaceWebhook(request, context) }
        router.post("/webhook/ghl-workflow") { request, context in await self.workflowWebhook(request, context) }
        router.post("/sync/trigger") { request, context in await self.admin(request, context) { self.trigger(request) }
        }
        router.get("/sync/runs/{id}") { request, context in
            await self.admin(request, context) { self.syncRun(context.parameters.get("id") ?? "") }
        }
        router.get("/sync/stats") { request, context in await self.admin(request, context) { await self.stats() } }
        router.post("/sync/mark-customer/{id}") { request, context in
            await self.admin(request, context) { await self.markCustomer(context.parameters.get("id") ?? "", request) }
        }
        router.post("/rules/reload") { request, context in await self.admin(request, context) { self.reload() } }
        router.post("/rules/plan") { request, context in
            await self.admin(request, context) { await self.planRequest(request) }
        }
        router.get("/oauth/callback") { request, context in await self.oauthCallback(request, context) }
        router.get("/healthz") { _, _ in Self.json(.ok, ["status": .string("ok")]) }
        router.get("/readyz") { _, _ in self.readiness() }
        router.get("/metrics") { _, _ in await self.metricsPage() }
        addUIRoutes(to: router)
        return router
    }

    // MARK: Webhooks

    func marketplaceWebhook(_ request: Request, _ context: BasicRequestContext) async -> Response {
        let start = ContinuousClock.now
        defer { metrics.intakeTook(.now - start) }
        var request = request
        let body: [UInt8]
        switch await readBody(&request) {
        case .success(let bytes): body = bytes
        case .failure(let failure): return refused(failure, context)
        }
        let verdict = WebhookIntake.marketplace(
            body: body,
            signature: verifier.check(
                body: body, ghlSignature: request.headers[Self.ghlSignature],
                whSignature: request.headers[Self.whSignature]),
            notBefore: Timestamp(
                milliseconds: now().milliseconds - Int64(configuration.eventMaxAge / .milliseconds(1))),
            audience: audience)
        return await answer(verdict, context)
    }

    func workflowWebhook(_ request: Request, _ context: BasicRequestContext) async -> Response {
        guard let secret = configuration.workflowSecret else {
            metrics.webhook("forbidden")
            return Self.error(.forbidden, "workflow webhooks are disabled (set LEADSYNC_WORKFLOW_SECRET)")
        }
        guard SharedSecret.matches(request.headers[Self.webhookSecret], secret) else {
            metrics.webhook("unauthorized")
            context.logger.info("workflow webhook refused: wrong or missing X-Webhook-Secret")
            return Self.error(.unauthorized, "missing or wrong X-Webhook-Secret")
        }
        var request = request
        let body: [UInt8]
        switch await readBody(&request) {
        case .success(let bytes): body = bytes
        case .failure(let failure): return refused(failure, context)
        }
        return await answer(WebhookIntake.workflow(body: body, audience: audience), context)
    }

    enum BodyFailure: Error {
        case tooLarge, tooSlow
    }

    /// The body; `.tooLarge` over the cap, `.tooSlow` when it does not arrive in full within
    /// `bodyTimeout` (a slow sender holds nothing of ours for long).
    func readBody(_ request: inout Request) async -> Result<[UInt8], BodyFailure> {
        let body = request.body
        let limit = configuration.maxBodyBytes
        let timeout = configuration.effectiveBodyTimeout
        return await withTaskGroup(of: Result<[UInt8], BodyFailure>?.self) { group in
            group.addTask {
                do {
                    return .success(Array(try await body.collect(upTo: limit).readableBytesView))
                } catch {
                    return Task.isCancelled ? nil : .failure(.tooLarge)
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return Task.isCancelled ? nil : .failure(.tooSlow)
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .failure(.tooSlow)
        }
    }

    /// The answer for a body that could not be read.
    func refused(_ failure: BodyFailure, _ context: BasicRequestContext) -> Response {
        Self.refused(failure, configuration: configuration, metrics: metrics, context)
    }

    /// The answer to a body that could not be read, counted in `metrics` (a location's, or an
    /// appliance front's).
    static func refused(
        _ failure: BodyFailure, configuration: ServerConfiguration, metrics: ServerMetrics,
        _ context: BasicRequestContext
    ) -> Response {
        switch failure {
        case .tooLarge:
            metrics.webhook("too_large")
            context.logger.info("webhook refused: body over \(configuration.maxBodyBytes) bytes")
            return error(.contentTooLarge, "body over \(configuration.maxBodyBytes) bytes")
        case .tooSlow:
            metrics.webhook("too_slow")
            context.logger.info("webhook refused: body not received within \(configuration.effectiveBodyTimeout)")
            return error(.requestTimeout, "body not received within \(configuration.effectiveBodyTimeout)")
        }
    }

    func tooLarge(_ context: BasicRequestContext) -> Response { refused(.tooLarge, context) }

    /// The answer to a verdict that stores nothing (refused or ignored), counted in `metrics`;
    /// nil for `.store` and `.app`, which need a location's server.
    static func answerWithoutStoring(
        _ verdict: IntakeVerdict, metrics: ServerMetrics, _ context: BasicRequestContext
    ) -> Response? {
        switch verdict {
        case .unauthorized(let reason):
            metrics.webhook("unauthorized")
            context.logger.info("webhook refused: \(reason)")
            return error(.unauthorized, reason)
        case .badRequest(let reason):
            metrics.webhook("bad_request")
            context.logger.info("webhook refused: \(reason)")
            return error(.badRequest, reason)
        case .ignored(let reason, let detail):
            metrics.webhook("ignored")
            metrics.ignored(reason: reason)
            context.logger.debug("webhook ignored", metadata: ["reason": .string(reason), "detail": .string(detail)])
            return json(.ok, ["status": .string("ignored")])
        case .store, .app:
            return nil
        }
    }

    func answer(_ verdict: IntakeVerdict, _ context: BasicRequestContext) async -> Response {
        if let refusal = Self.answerWithoutStoring(verdict, metrics: metrics, context) { return refusal }
        switch verdict {
        case .unauthorized, .badRequest, .ignored:
            return Self.error(.internalServerError, "unreachable")  // answered above
        case .app(let event):
            metrics.webhook("app_event")
            await appEvent(event, context)
            return Self.json(.ok, ["status": .string("accepted")])
        case .store(let event):
            switch await writer.store(event) {
            case .accepted:
                metrics.webhook("accepted")
                context.logger.debug(
                    "webhook accepted",
                    metadata: ["type": .string(event.eventType), "contact": .string(event.contactId)])
                return Self.json(.ok, ["status": .string("accepted")])
            case .duplicate:
                metrics.webhook("duplicate")
                return Self.json(.ok, ["status": .string("duplicate")])
            case .failed(let reason):
                // 429 is the one status GHL retries: the event comes back later.
                metrics.webhook("store_failed")
                context.logger.error("webhook not stored; answered 429 so GHL retries: \(reason)")
                var r = Self.error(.tooManyRequests, "the event could not be stored; retry later")
                r.headers[.retryAfter] = String(configuration.storeRetryAfterSeconds)
                return r
            }
        }
    }

    // MARK: Plan

    /// `POST /rules/plan` with a rules file as the body: 200 with the plan (as `plan --json`),
    /// 422 with the diagnostics when the file does not compile. Changes nothing.
    func planRequest(_ request: Request) async -> Response {
        var request = request
        let text: String
        switch await readBody(&request) {
        case .success(let bytes): text = String(decoding: bytes, as: UTF8.self)
        case .failure(.tooLarge): return Self.error(.contentTooLarge, "body over \(configuration.maxBodyBytes) bytes")
        case .failure(.tooSlow): return Self.error(.requestTimeout, "body not received in time")
        }
        do {
            let (plan, diagnostics) = try plan(text)
            guard let plan else {
                return Self.json(
                    .unprocessableContent,
                    [
                        "error": .string("the rules do not compile"),
                        "diagnostics": .array(
                            diagnostics.filter { $0.severity == .error }.map { .string($0.headline) }),
                    ])
            }
            let budgets = planBudgets()
            return Self.json(.ok, PlanRunner.json(plan, budgets: budgets, oldHash: rules.current.hash))
        } catch {
            return Self.error(.serviceUnavailable, "\(error)")
        }
    }

    /// The CallTools budget as `plan` counts time with it.
    func planBudgets() -> PlanRunner.Budgets {
        PlanRunner.Budgets(
            calltools: upstreams.first { $0.service == .calltools }.map {
                (
                    Int(exactly: $0.budget.capacity.rounded()).map { max($0, 1) } ?? 1000,
                    Double($0.budget.period / .milliseconds(1)) / 1000
                )
            } ?? (1000, 3600))
    }

    // MARK: OAuth

    /// The app's lifecycle: `INSTALL` connects a configured location (minting its token from a
    /// stored agency token when there is one); `UNINSTALL` erases its tokens and stops its GHL work.
    func appEvent(_ event: AppEvent, _ context: BasicRequestContext) async {
        let locations = event.locationId.map { [$0] } ?? Array(audience?.locations ?? [])
        guard let ghlApp else {
            context.logger.notice(
                "app \(event.type) event for \(locations.joined(separator: ", ")) ignored: no OAuth configured")
            return
        }
        for location in locations {
            if event.type == "UNINSTALL" {
                await ghlApp.uninstalled(location: location)
                context.logger.warning(
                    "the app was uninstalled from GHL location \(location): its tokens are erased, its GHL work is held",
                    metadata: ["location": .string(location)])
            } else {
                let connected = await ghlApp.installed(location: location, companyId: event.companyId)
                context.logger.notice(
                    connected
                        ? "app installed: GHL location \(location) is connected"
                        : "app installed for GHL location \(location); waiting for its authorization code (/oauth/callback)",
                    metadata: ["location": .string(location)])
            }
        }
    }

    /// `GET /oauth/callback?code=…`: the install's redirect. The code is exchanged, the tokens
    /// sealed and committed, and GHL work for the location starts (held work is released).
    func oauthCallback(_ request: Request, _ context: BasicRequestContext) async -> Response {
        guard let ghlApp else {
            return Self.page(
                .notFound, "OAuth is not configured",
                "Set GHL_CLIENT_ID, GHL_CLIENT_SECRET, GHL_OAUTH_REDIRECT_URI and LEADSYNC_SECRET_KEY, then restart.")
        }
        guard let code = request.uri.queryParameters.get("code"), !code.isEmpty, code.utf8.count <= 4096 else {
            return Self.page(.badRequest, "No authorization code", "This address is where GHL sends an install.")
        }
        let userType = request.uri.queryParameters.get("user_type") == "Company" ? "Company" : "Location"
        do {
            let locations = try await ghlApp.install(code: code, userType: userType)
            context.logger.notice(
                "GHL install accepted", metadata: ["locations": .string(locations.joined(separator: ","))])
            return Self.page(
                .ok, "Connected", "leadsync now reaches GHL for location(s) \(locations.joined(separator: ", ")).")
        } catch {
            context.logger.error("GHL install refused: \(error.description)")
            return Self.page(.badRequest, "Not connected", error.description)
        }
    }

    /// A small HTML page (the callback is opened in a browser), every text escaped.
    static func page(_ status: HTTPResponse.Status, _ title: String, _ text: String) -> Response {
        func escape(_ s: String) -> String {
            var out = ""
            for c in s {
                switch c {
                case "&": out += "&amp;"
                case "<": out += "&lt;"
                case ">": out += "&gt;"
                case "\"": out += "&quot;"
                case "'": out += "&#39;"
                default: out.append(c)
                }
            }
            return out
        }
        let html = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>leadsync: \(escape(title))</title></head>
            <body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 4rem auto">
            <h1>\(escape(title))</h1><p>\(escape(text))</p></body></html>
            """
        return Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// This server's locations' OAuth connections (an appliance shares one app among locations).
    func ownConnections() -> [(key: String, value: GHLConnection)] {
        guard let ghlApp else { return [] }
        return ghlApp.connections.filter { audience?.locations.contains($0.key) ?? true }.sorted { $0.key < $1.key }
    }

    /// Each location's GHL connection (OAuth), for stats and `/readyz`; never a token.
    func connectionStates() -> JSON? {
        guard let ghlApp else { return nil }
        var o = JSONObject()
        for (location, c) in ownConnections() {
            let s = c.status
            var e = JSONObject()
            e["auth"] = .string("oauth")
            e["state"] = .string(s.state.rawValue)
            if let at = s.accessExpiresAt { e["access_expires_at"] = .string(at.iso8601) }
            if let reason = s.reason { e["reason"] = .string(reason) }
            e["refreshes"] = .number(Double(s.refreshes))
            o[location] = .object(e)
        }
        return .object(o)
    }

    // MARK: Admin

    /// Runs `body` for a caller holding the admin token; 403 when admin is disabled, 401 otherwise.
    func admin(
        _ request: Request, _ context: BasicRequestContext, _ body: () async -> Response
    ) async -> Response {
        guard let token = configuration.adminToken else {
            return Self.error(.forbidden, "admin endpoints are disabled (set LEADSYNC_ADMIN_TOKEN)")
        }
        let header = request.headers[.authorization]
        let presented = header.flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        guard SharedSecret.matches(presented, token) else {
            context.logger.info(
                "admin request refused: wrong or missing bearer token", metadata: ["path": .string(request.uri.path)])
            return Self.error(.unauthorized, "missing or wrong bearer token")
        }
        let response = await body()
        context.logger.info(
            "admin request",
            metadata: ["path": .string(request.uri.path), "status": .stringConvertible(response.status.code)])
        return response
    }

    func trigger(_ request: Request) -> Response {
        guard let scheduler else { return Self.error(.serviceUnavailable, "no GHL connection configured") }
        let full =
            request.uri.queryParameters.get("full").map { ["true", "1", "yes"].contains($0.lowercased()) } ?? false
        do {
            switch try scheduler.trigger(full: full) {
            case .started(let id):
                return Self.json(
                    .accepted,
                    [
                        "run_id": .number(Double(id)), "mode": .string(full ? "full" : "incremental"),
                        "status": .string("started"),
                    ])
            case .alreadyRunning(let id):
                return Self.json(
                    .conflict, ["error": .string("a pass is already running"), "run_id": .number(Double(id))])
            }
        } catch {
            return Self.error(.serviceUnavailable, error.description)
        }
    }

    func syncRun(_ idText: String) -> Response {
        guard let id = Int64(idText) else { return Self.error(.notFound, "no run '\(idText)'") }
        do {
            guard let run = try store.syncRun(id) else { return Self.error(.notFound, "no run \(id)") }
            var counts = JSONObject()
            for (k, v) in run.counts.sorted(by: { $0.key < $1.key }) { counts[k] = .number(Double(v)) }
            return Self.json(
                .ok,
                [
                    "id": .number(Double(run.id)), "mode": .string(run.mode), "status": .string(run.status.rawValue),
                    "started_at": .string(run.startedAt.iso8601),
                    "finished_at": run.finishedAt.map { .string($0.iso8601) } ?? .null, "counts": .object(counts),
                ])
        } catch {
            return Self.error(.serviceUnavailable, error.description)
        }
    }

    func stats() async -> Response {
        do {
            var report = try store.statsReport()
            if case .object(var o) = report {
                o["upstreams"] = upstreamStates()
                if let connections = connectionStates() { o["ghl_connections"] = connections }
                // The backlog's ETA at CallTools' budget: about two calls per contact (a lookup
                // and a create, or one PATCH), whatever the number of events coalesced. What
                // the budget holds now goes at once; the rest at its refill rate.
                if let ct = upstreams.first(where: { $0.service == .calltools }),
                    case .number(let contacts)? = o["backlog_contacts"]
                {
                    let beyondBurst = max(0, contacts * 2 - (await ct.budget.available()))
                    o["backlog_eta_seconds"] = .number((beyondBurst / ct.budget.perSecond).rounded(.up))
                }
                report = .object(o)
            }
            if case .object(var o) = report, let estimate = try await runningPass() {
                var pass = JSONObject()
                pass["id"] = .number(Double(estimate.run.id))
                pass["mode"] = .string(estimate.run.mode)
                pass["contacts"] = .number(Double(estimate.done))
                pass["total"] = .number(Double(estimate.total))
                pass["calltools_calls_left"] = .number(estimate.callsLeft.rounded(.up))
                pass["eta_seconds"] = .number(estimate.etaSeconds.rounded(.up))
                o["running_pass"] = .object(pass)
                report = .object(o)
            }
            if let ghlBudget, case .object(var o) = report {
                // Batch work stops while GHL's daily budget is spent; say until when.
                let until = await ghlBudget.dailyExhaustedUntil
                o["ghl_daily_budget"] = .object(
                    JSONObject([
                        "exhausted": .bool(until != nil),
                        "batch_paused_until": until.map { .string($0.iso8601) } ?? .null,
                    ]))
                report = .object(o)
            }
            return Self.json(.ok, report)
        } catch {
            return Self.error(.serviceUnavailable, error.description)
        }
    }

    /// A running pass and its ETA: the contacts left at the CallTools calls per contact so far (a
    /// create is about two, a change one), at the budget's refill rate.
    func runningPass() async throws(StoreError) -> (
        run: SyncRun, done: Int, total: Int, callsLeft: Double, etaSeconds: Double
    )? {
        guard let run = try store.runningRun(), let total = run.counts["total"],
            let ct = upstreams.first(where: { $0.service == .calltools })
        else { return nil }
        let done = run.counts["contacts"] ?? 0
        let calls = 2 * (run.counts["created"] ?? 0) + (run.counts["updated"] ?? 0)
        let perContact = done > 0 ? Double(calls) / Double(done) : 1
        let left = Double(max(0, total - done)) * perContact
        let eta = max(0, (left - (await ct.budget.available())) / ct.budget.perSecond)
        return (run, done, total, left, eta)
    }

    /// Marks (or with `?undo=true` unmarks) and queues the contact to be re-read from GHL and
    /// processed, so it leaves (or may return to) managed buckets within seconds.
    func markCustomer(_ id: String, _ request: Request) async -> Response {
        let id = id.trimmedASCII
        guard !id.isEmpty else { return Self.error(.badRequest, "no contact id") }
        let undo =
            request.uri.queryParameters.get("undo").map { ["true", "1", "yes"].contains($0.lowercased()) } ?? false
        do {
            try store.setMarkedCustomer(id, !undo, at: now(), reason: undo ? "admin endpoint, undo" : "admin endpoint")
        } catch {
            return Self.error(.serviceUnavailable, error.description)
        }
        let queued: Bool
        if scheduler != nil {
            let event = NewInboxEvent(
                webhookId: nil, contactId: id, eventType: "manual", source: "reread", body: "{}")
            if case .accepted = await writer.store(event) { queued = true } else { queued = false }
        } else {
            queued = false
        }
        return Self.json(
            .ok,
            ["status": .string(undo ? "unmarked" : "marked"), "contact": .string(id), "queued": .bool(queued)])
    }

    func reload() -> Response {
        switch reloadRules() {
        case .reloaded(let hash, let changed):
            return Self.json(.ok, ["status": .string(changed ? "reloaded" : "unchanged"), "hash": .string(hash)])
        case .rejected(let rejected):
            let list = rejected.diagnostics.map { d -> JSON in
                .object(
                    JSONObject([
                        "file": .string(d.file), "line": .number(Double(d.line)), "column": .number(Double(d.column)),
                        "severity": .string(d.severity.rawValue), "code": .string(d.code.rawValue),
                        "message": .string(d.message),
                    ]))
            }
            return Self.json(
                .unprocessableContent,
                [
                    "status": .string("rejected"), "error": .string(rejected.message), "diagnostics": .array(list),
                    "live_hash": .string(rules.current.hash),
                ])
        }
    }

    // MARK: Probes

    func readiness() -> Response {
        let (status, report) = readinessReport()
        return Self.json(status, report)
    }

    /// `/readyz`'s status and body.
    func readinessReport() -> (HTTPResponse.Status, JSON) {
        // The processor's last look (once a second), not a count per request.
        if snapshot.current(store).error != nil {
            return (
                .serviceUnavailable,
                .object(JSONObject(["status": .string("not ready"), "reason": .string("database unavailable")]))
            )
        }
        // A location whose OAuth connection needs a person is not ready: nothing of its GHL
        // work can go on until someone reconnects it (its events are still committed).
        if let broken = ownConnections().first(where: {
            $0.value.status.state != .connected && $0.value.status.reason != nil
        }) {
            var o = JSONObject()
            o["status"] = .string("not ready")
            o["reason"] = .string(broken.value.status.reason ?? "GHL location \(broken.key) is not connected")
            o["ghl_connections"] = connectionStates() ?? .null
            return (.serviceUnavailable, .object(o))
        }
        // Still ready while an upstream is down (intake keeps committing webhooks, so GHL must
        // keep sending them), but said to be degraded, with each upstream's breaker.
        return (.ok, readyReport())
    }

    /// `/readyz`'s answer when the database is there: `ready`, or `degraded` while an
    /// upstream's breaker is open, with the rules' hash and every upstream's breaker.
    func readyReport() -> JSON {
        let degraded = upstreams.contains { !($0.breaker?.isClosed ?? true) }
        return .object(
            JSONObject([
                "status": .string(degraded ? "degraded" : "ready"), "rules": .string(rules.current.hash),
                "upstreams": upstreamStates(),
            ]))
    }

    /// Each upstream's circuit breaker: state, since when, consecutive failures, last error.
    func upstreamStates() -> JSON {
        var o = JSONObject()
        for u in upstreams {
            guard let b = u.breaker else { continue }
            let s = b.status
            var e = JSONObject()
            e["state"] = .string(s.state.rawValue)
            if let at = s.openedAt {
                e["open_since"] = .string(at.iso8601)
                e["open_seconds"] = .number(Double(b.openFor.components.seconds))
                e["probes"] = .number(Double(s.probes))
            }
            if s.consecutiveFailures > 0 { e["consecutive_failures"] = .number(Double(s.consecutiveFailures)) }
            if let err = s.lastError { e["last_error"] = .string(err) }
            o[u.service.rawValue] = .object(e)
        }
        return .object(o)
    }

    func metricsPage() async -> Response {
        await refreshMetrics()
        return Self.metricsResponse(metrics.render())
    }

    static func metricsResponse(_ text: [UInt8]) -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: text)))
    }

    /// The gauges read per scrape rather than kept up to date.
    func refreshMetrics() async {
        if let counts = snapshot.current(store).counts {
            metrics.inbox(InboxCountsSnapshot(pending: counts.pending, dead: counts.dead, held: counts.held))
        }
        for u in upstreams {
            guard let b = u.breaker else { continue }
            let d = b.openFor
            metrics.circuitOpenFor(
                upstream: u.service.rawValue,
                seconds: Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
        }
        if let ghlBudget { metrics.dailyBudget(service: "ghl", exhausted: await ghlBudget.dailyExhaustedUntil != nil) }
    }

    // MARK: Helpers

    // cannot trap: literal, valid header-name tokens
    static let ghlSignature = HTTPField.Name("x-ghl-signature")!
    static let whSignature = HTTPField.Name("x-wh-signature")!  // cannot trap: as above
    static let webhookSecret = HTTPField.Name("x-webhook-secret")!  // cannot trap: as above

    static func json(_ status: HTTPResponse.Status, _ pairs: KeyValuePairs<String, JSON>) -> Response {
        json(status, .object(JSONObject(pairs)))
    }

    static func json(_ status: HTTPResponse.Status, _ value: JSON) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: JSONWriter.encode(value))))
    }

    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        json(status, ["error": .string(message)])
    }
}

extension WebhookVerifier {
    /// The verifier's outcome, as intake takes it.
    func check(body: [UInt8], ghlSignature: String?, whSignature: String?) -> SignatureCheck {
        switch verify(body: body, ghlSignature: ghlSignature, whSignature: whSignature) {
        case .valid: return .valid
        case .missingSignature: return .missing
        case .invalid(_, let reason): return .invalid(reason)
        }
    }
}
