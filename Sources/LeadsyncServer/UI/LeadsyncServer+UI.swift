import Foundation
import HTTPTypes
import Hummingbird
import LeadsyncCore
import LeadsyncRules
import LeadsyncRuntime
import LeadsyncStore
import LeadsyncSync
import LeadsyncUpstream
import LeadsyncValues
import LeadsyncWebhooks
import Logging
import Mustache
import Synchronization

/// The operator's page, `/ui` (issue 12): server-rendered HTML from the templates in
/// `UITemplates`, behind a login with the admin token. Sessions are cookies (HttpOnly,
/// SameSite=Strict, Secure behind TLS); every POST carries the session's CSRF token. Without an
/// admin token the page is off (404), like the admin endpoints.
extension LeadsyncServer {
    static let sessionCookie = "leadsync_session"
    // cannot trap: literal, a valid header-name token
    static let forwardedProto = HTTPField.Name("x-forwarded-proto")!
    static let contentSecurityPolicy = HTTPField.Name("content-security-policy")!  // cannot trap: as above
    static let noSniff = HTTPField.Name("x-content-type-options")!  // cannot trap: as above

    /// The templates, parsed once (a test checks that every one parses).
    static let uiLibrary: MustacheLibrary = {
        var templates: [String: MustacheTemplate] = [:]
        for (name, text) in UITemplates.all { templates[name] = try? MustacheTemplate(string: text) }
        return MustacheLibrary(templates: templates)
    }()

    func addUIRoutes(to router: Router<BasicRequestContext>) {
        router.get("/ui/login") { request, _ in self.uiLoginPage(request, error: nil) }
        router.post("/ui/login") { request, context in await self.uiLogin(request, context) }
        router.post("/ui/logout") { request, _ in await self.uiPost(request) { _, _ in self.uiLogout(request) } }
        router.get("/ui") { request, _ in await self.uiPage(request) { try await self.uiOverview($0) } }
        router.get("/ui/contacts") { request, _ in await self.uiPage(request) { try self.uiContacts(request, $0) } }
        router.get("/ui/contacts/{id}") { request, context in
            await self.uiPage(request) { try self.uiContact(context.parameters.get("id") ?? "", $0) }
        }
        router.get("/ui/dead-letters") { request, _ in
            await self.uiPage(request) { try self.uiDeadLetters($0, flash: request.uri.queryParameters.get("done")) }
        }
        router.post("/ui/dead-letters/replay") { request, _ in
            await self.uiPost(request) { form, _ in self.uiReplay(form) }
        }
        router.get("/ui/rules") { request, _ in await self.uiPage(request) { try self.uiRules($0) } }
        router.post("/ui/rules/preview") { request, _ in
            await self.uiPost(request) { form, session in self.uiRulesPreview(form, session) }
        }
        router.post("/ui/rules/reload") { request, _ in
            await self.uiPost(request) { _, session in self.uiRulesReload(session) }
        }
        router.get("/ui/runs") { request, _ in await self.uiPage(request) { try self.uiRuns($0) } }
    }

    // MARK: Access

    /// A GET page: off without an admin token, to the login form without a session.
    func uiPage(_ request: Request, _ page: (UISessions.Session) async throws -> Response) async -> Response {
        guard configuration.adminToken != nil else { return Self.uiDisabled() }
        guard let session = uiSession(request) else { return Self.redirect("/ui/login") }
        do {
            return try await page(session)
        } catch {
            return uiMessage(session, status: .serviceUnavailable, heading: "Unavailable", text: "\(error)")
        }
    }

    /// A POST action: a session and its CSRF token, or 403 (a form without the token is refused,
    /// however it got a cookie).
    func uiPost(
        _ request: Request, _ action: ([(name: String, value: String)], UISessions.Session) async -> Response
    ) async -> Response {
        guard configuration.adminToken != nil else { return Self.uiDisabled() }
        guard let session = uiSession(request) else {
            return Self.uiPlain(.forbidden, "not signed in: sign in at /ui/login")
        }
        var request = request
        guard case .success(let body) = await readBody(&request) else {
            return Self.uiPlain(.contentTooLarge, "form too large or too slow")
        }
        let form = FormEncoding.pairs(body)
        guard UISessions.csrfMatches(form.last(where: { $0.name == "csrf" })?.value, session) else {
            return Self.uiPlain(.forbidden, "missing or wrong CSRF token: reload the page and try again")
        }
        return await action(form, session)
    }

    func uiSession(_ request: Request) -> UISessions.Session? {
        uiSessions.find(Self.cookie(Self.sessionCookie, in: request.headers[.cookie]), at: now())
    }

    static func cookie(_ name: String, in header: String?) -> String? {
        guard let header else { return nil }
        for part in header.split(separator: ";") {
            let kv = part.split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0].trimmingCharacters(in: .whitespaces) == name {
                return kv[1].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }

    func uiLogin(_ request: Request, _ context: BasicRequestContext) async -> Response {
        guard let token = configuration.adminToken else { return Self.uiDisabled() }
        var request = request
        guard case .success(let body) = await readBody(&request) else {
            return Self.uiPlain(.contentTooLarge, "form too large or too slow")
        }
        guard SharedSecret.matches(FormEncoding.fields(body)["token"], token) else {
            context.logger.info("operator page sign-in refused: wrong token")
            // A pause per failure slows guessing; the token's length does the rest.
            try? await Task.sleep(for: .milliseconds(300))
            return uiLoginPage(request, error: "That token is not the admin token.", status: .unauthorized)
        }
        let session = uiSessions.create(at: now())
        let secure = request.headers[Self.forwardedProto]?.lowercased() == "https"
        var headers = HTTPFields()
        headers[.location] = "/ui"
        headers[.setCookie] =
            "\(Self.sessionCookie)=\(session.id); Path=/ui; HttpOnly; SameSite=Strict"
            + (secure ? "; Secure" : "") + "; Max-Age=\(UISessions.idleLimit / 1000)"
        headers[.cacheControl] = "no-store"
        return Response(status: .seeOther, headers: headers)
    }

    func uiLogout(_ request: Request) -> Response {
        if let id = Self.cookie(Self.sessionCookie, in: request.headers[.cookie]) { uiSessions.end(id) }
        var headers = HTTPFields()
        headers[.location] = "/ui/login"
        headers[.setCookie] = "\(Self.sessionCookie)=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0"
        return Response(status: .seeOther, headers: headers)
    }

    func uiLoginPage(_ request: Request, error: String?, status: HTTPResponse.Status = .ok) -> Response {
        guard configuration.adminToken != nil else { return Self.uiDisabled() }
        if error == nil, uiSession(request) != nil { return Self.redirect("/ui") }
        var model: [String: Any] = ["title": "Sign in"]
        if let error { model["error"] = error }
        return render("login", model, session: nil, status: status)
    }

    // MARK: Pages

    func uiOverview(_ session: UISessions.Session) async throws -> Response {
        let t = now()
        let minutes = metrics.activity.lastHour(at: t)
        let inbox = try store.inboxCounts()
        let last = try store.lastFinishedRun(mode: nil)
        let live = try store.liveRules()
        let bucketNames = idNames().buckets
        var model: [String: Any] = [
            "title": "Overview", "refreshMs": 10_000,
            "chart": ActivityChart.svg(minutes),
            "accepted": minutes.reduce(0) { $0 + $1.counts[0] },
            "ignored": minutes.reduce(0) { $0 + $1.counts[1] },
            "refused": minutes.reduce(0) { $0 + $1.counts[2] },
            "queue": inbox.pending + inbox.held, "retries": try store.retriesWaiting(), "dead": inbox.dead,
            "deadAlert": inbox.dead > 0,
            "lastPass": last.map { r in
                "\(r.mode) pass \(r.id), \(r.status.rawValue) \(Self.when(r.finishedAt ?? r.startedAt, now: t))"
            } ?? "none yet",
            "nextPass": scheduler?.nextPass.map { Self.when($0, now: t) } ?? "not scheduled",
            "rulesHash": rules.current.hash, "rulesPath": rules.path,
            "rulesLoaded": live.map { Self.when($0.loadedAt, now: t) } ?? "-",
            "recent": try store.recentContacts(limit: 10).map { hitModel($0, names: bucketNames) },
        ]
        if let pass = try await runningPass() {
            model["running"] = [
                "id": pass.run.id, "mode": pass.run.mode, "done": pass.done, "total": pass.total,
                "eta": PlanRunner.duration(pass.etaSeconds),
            ]
        }
        var upstreamRows: [[String: Any]] = []
        for u in upstreams {
            let state = u.breaker?.status.state.rawValue ?? "closed"
            upstreamRows.append([
                "name": u.service.rawValue == "ghl" ? "GHL" : "CallTools",
                "budget": "\(Int(await u.budget.available())) of \(Int(u.budget.capacity)) per "
                    + PlanRunner.duration(Double(u.budget.period / .milliseconds(1)) / 1000),
                "state": state, "tone": state == "closed" ? "good" : state == "open" ? "bad" : "warn",
            ])
        }
        model["upstreams"] = upstreamRows
        return render("overview", model, session: session)
    }

    func uiContacts(_ request: Request, _ session: UISessions.Session) throws -> Response {
        // A form's GET query: `+` is a space (Hummingbird's query parameters keep it).
        let query = String((FormEncoding.fields(Array((request.uri.query ?? "").utf8))["q"] ?? "").prefix(200))
        var model: [String: Any] = ["title": "Contacts", "query": query]
        if !query.trimmedASCII.isEmpty {
            let hits = try store.searchContacts(query, limit: 50)
            model["searched"] = true
            let names = idNames().buckets
            model["hits"] = hits.map { hitModel($0, names: names) }
            model["resultTitle"] =
                hits.isEmpty
                ? "No contact matches \u{201C}\(query)\u{201D}"
                : "\(hits.count)\(hits.count == 50 ? "+" : "") matching \u{201C}\(query)\u{201D}"
        }
        return render("contacts", model, session: session)
    }

    func hitModel(_ h: ContactHit, names: [Int: String]) -> [String: Any] {
        [
            "id": h.ghlId, "href": FormEncoding.encode(h.ghlId), "name": h.name ?? "", "phone": h.phone ?? "",
            "buckets": bucketList(h.buckets, names: names), "updated": Self.when(h.updatedAt, now: now()),
        ]
    }

    /// Bucket and tag ids → their names, from one read of the store's resolved ids (buckets also
    /// from the rules, which may name them by id).
    func idNames() -> (buckets: [Int: String], tags: [Int: String]) {
        let known = try? store.knownIds()
        var buckets: [Int: String] = [:]
        var tags: [Int: String] = [:]
        for (name, id) in known?.buckets ?? [:] { buckets[id] = name }
        for b in rules.current.rules.buckets { if case .id(let id) = b.reference { buckets[id] = b.name } }
        for (name, id) in known?.tags ?? [:] { if let id { tags[id] = name } }
        return (buckets, tags)
    }

    /// Bucket ids as the rules name them (`cold_leads (11237)`), else the id.
    func bucketList(_ ids: [Int], names: [Int: String]) -> String {
        guard !ids.isEmpty else { return "none" }
        return ids.sorted().map { id in names[id].map { "\($0) (\(id))" } ?? String(id) }.joined(separator: ", ")
    }

    /// CallTools tag ids by their names (`ACA Cold lead (77)`), else the id.
    func tagList(_ ids: [Int], names: [Int: String]) -> String {
        guard !ids.isEmpty else { return "none" }
        return ids.sorted().map { id in names[id].map { "\($0) (\(id))" } ?? String(id) }.joined(separator: ", ")
    }

    func uiContact(_ id: String, _ session: UISessions.Session) throws -> Response {
        let c = try store.contact(id)
        let trail = try store.auditTrail(id)
        let events = try store.inboxEvents(contact: id, limit: 50)
        let snapshot = try store.snapshot(of: id)
        if trail.isEmpty && events.isEmpty && c.applied == .init() && !c.markedCustomer && snapshot == nil {
            return uiMessage(
                session, status: .notFound, heading: "Not found", text: "Contact \(id) is not in the local state.")
        }
        let t = now()
        let names = idNames()
        var model: [String: Any] = [
            "title": "Contact \(id)", "id": id, "name": snapshot?.displayName ?? "",
            "calltoolsId": c.applied.calltoolsId.map(String.init)
                ?? (c.applied.createPending ? "create pending (looked up by phone next)" : "not in CallTools"),
            "buckets": bucketList(Array(c.applied.buckets), names: names.buckets),
            "tags": tagList(c.applied.tags.filter(\.value).map(\.key), names: names.tags),
            "customer": c.markedCustomer ? "yes, marked a customer" : "no",
            "fields": c.applied.fields.sorted { $0.key < $1.key }.map { ["name": $0.key, "value": $0.value] },
            "calls": trail.filter { $0.kind != .decision }.reversed().prefix(50).map {
                ["at": Self.when($0.at, now: t), "kind": $0.kind.rawValue, "summary": $0.summary] as [String: Any]
            },
            "events": events.map { e -> [String: Any] in
                [
                    "at": Self.when(e.receivedAt, now: t), "seq": e.seq, "type": e.eventType, "source": e.source,
                    "status": e.status.rawValue, "error": e.lastError ?? "",
                    "tone": e.status == .done ? "good" : e.status == .dead ? "bad" : "warn",
                ]
            },
        ]
        if let decision = trail.last(where: { $0.kind == .decision }) {
            model["decision"] = decisionModel(decision, now: t)
        }
        return render("contact", model, session: session)
    }

    /// The decision's JSON (what the executor recorded) as rows a person reads.
    func decisionModel(_ entry: AuditEntry, now t: Timestamp) -> [String: Any] {
        var model: [String: Any] = ["at": Self.when(entry.at, now: t)]
        guard let detail = entry.detail, let json = try? JSONParser.parse(detail) else {
            model["buckets"] = entry.summary
            return model
        }
        func list(_ key: String) -> String {
            let items = json[key]?.arrayValue?.compactMap(\.stringValue) ?? []
            return items.isEmpty ? "none" : items.joined(separator: ", ")
        }
        model["buckets"] = list("buckets")
        model["rules"] = list("rules")
        model["excluded"] = list("excluded_by")
        var rows: [[String: Any]] = []
        for e in json["trace"]?["exclusions"]?.arrayValue ?? [] {
            let matched = e["matched"] == .bool(true)
            rows.append([
                "name": "exclusion \(e["name"]?.stringValue ?? "?")", "outcome": matched ? "matched" : "no match",
                "tone": matched ? "warn" : "", "reason": "",
            ])
        }
        for r in json["trace"]?["rules"]?.arrayValue ?? [] {
            let outcome = r["outcome"]?.stringValue ?? "?"
            rows.append([
                "name": "rule \(r["name"]?.stringValue ?? "?")",
                "outcome": outcome.replacingOccurrences(of: "_", with: " "),
                "tone": outcome == "applied" ? "good" : outcome == "blocked" ? "bad" : "",
                "reason": r["reason"]?.stringValue ?? "",
            ])
        }
        model["trace"] = rows
        model["notes"] = json["trace"]?["notes"]?.arrayValue?.compactMap(\.stringValue) ?? []
        return model
    }

    func uiDeadLetters(_ session: UISessions.Session, flash: String?) throws -> Response {
        let t = now()
        let letters = try store.deadLetters(limit: 500).map { e -> [String: Any] in
            [
                "seq": e.seq, "type": e.eventType, "contact": e.contactId, "href": FormEncoding.encode(e.contactId),
                "at": Self.when(e.receivedAt, now: t), "attempts": e.attempts, "error": e.lastError ?? "",
            ]
        }
        var model: [String: Any] = ["title": "Dead letters", "letters": letters, "refreshMs": 15_000]
        if let flash, let n = Int(flash) {
            model["flash"] = "Requeued \(n) dead letter\(n == 1 ? "" : "s"): they are applied within a second."
        }
        return render("dead", model, session: session)
    }

    /// One (`seq`) or every ticked (`selected`) dead letter back to the queue.
    func uiReplay(_ form: [(name: String, value: String)]) -> Response {
        let chosen =
            form.first(where: { $0.name == "seq" }).map { [$0.value] }
            ?? form.filter { $0.name == "selected" }.map(\.value)
        let seqs = chosen.compactMap { Int64($0) }
        guard !seqs.isEmpty else { return Self.redirect("/ui/dead-letters?done=0") }
        var requeued = 0
        do {
            for seq in seqs where try store.inboxEvent(seq)?.status == .dead {
                requeued += try store.replayDeadLetters(seq: seq, at: now())
            }
        } catch {
            return Self.uiPlain(.serviceUnavailable, "\(error)")
        }
        logger.notice("operator page: requeued \(requeued) dead letter(s)")
        return Self.redirect("/ui/dead-letters?done=\(requeued)")
    }

    func uiRules(
        _ session: UISessions.Session, flash: (String, Bool)? = nil, draft: String? = nil,
        preview: (title: String, text: String)? = nil, status: HTTPResponse.Status = .ok
    ) throws -> Response {
        let t = now()
        let text = (try? String(contentsOfFile: rules.path, encoding: .utf8)) ?? ""
        let check = uiCheck(text)
        var model: [String: Any] = [
            "title": "Rules", "hash": rules.current.hash, "path": rules.path, "text": text,
            "loaded": (try store.liveRules()).map { Self.when($0.loadedAt, now: t) } ?? "-",
            "check": check.diagnostics.map { ["severity": $0.severity.rawValue, "text": $0.headline] },
            "draft": draft ?? text,
        ]
        if check.hash != rules.current.hash {
            model["drift"] =
                check.hash == nil
                ? "The file on disk does not compile; the live rules stay as loaded."
                : "The file on disk has changed since the live rules were loaded: preview it, then reload."
        }
        if let flash {
            model["flash"] = flash.0
            model["flashTone"] = flash.1 ? "ok" : "alert"
        }
        if let preview {
            model["preview"] = true
            model["previewTitle"] = preview.title
            model["previewText"] = preview.text
        }
        return render("rules", model, session: session, status: status)
    }

    /// `check` of the rules file's text, compiled again only when the text changed (a compile
    /// builds every pattern's automaton: tens of milliseconds).
    func uiCheck(_ text: String) -> (diagnostics: [Diagnostic], hash: String?) {
        if let cached = uiCheckCache.withLock({ $0 }), cached.text == text { return (cached.diagnostics, cached.hash) }
        let document = RulesCompiler.compile(source: text, file: rules.path)
        let hash = document.rules?.sourceHash
        uiCheckCache.withLock { $0 = (text, document.diagnostics, hash) }
        return (document.diagnostics, hash)
    }

    func uiRulesPreview(_ form: [(name: String, value: String)], _ session: UISessions.Session) -> Response {
        let text = form.last(where: { $0.name == "rules" })?.value ?? ""
        do {
            let (plan, diagnostics) = try plan(text)
            guard let plan else {
                let errors = diagnostics.filter { $0.severity == .error }.map(\.headline).joined(separator: "\n")
                return try uiRules(
                    session, draft: text, preview: ("The edit does not compile", errors), status: .unprocessableContent)
            }
            let lines = PlanRunner.text(plan, budgets: planBudgets(), oldName: "the live rules")
            return try uiRules(
                session, draft: text, preview: ("What deploying this edit would do", lines.joined(separator: "\n")))
        } catch {
            return Self.uiPlain(.serviceUnavailable, "\(error)")
        }
    }

    func uiRulesReload(_ session: UISessions.Session) -> Response {
        let flash: (String, Bool)
        switch reloadRules() {
        case .reloaded(let hash, let changed):
            flash = (changed ? "Reloaded: the live rules are now \(hash)." : "The file is unchanged (\(hash)).", true)
        case .rejected(let rejected):
            flash = ("Not reloaded, the live rules stay: \(rejected.message)", false)
        }
        logger.notice("operator page: rules reload: \(flash.0)")
        return (try? uiRules(session, flash: flash)) ?? Self.uiPlain(.serviceUnavailable, flash.0)
    }

    func uiRuns(_ session: UISessions.Session) throws -> Response {
        let t = now()
        let runs = try store.recentRuns(limit: 30).map { r -> [String: Any] in
            let total = r.counts["total"]
            let done = r.counts["contacts"] ?? 0
            return [
                "id": r.id, "mode": r.mode, "status": r.status.rawValue,
                "tone": r.status == .finished ? "good" : r.status == .failed ? "bad" : "warn",
                "started": Self.when(r.startedAt, now: t),
                "finished": r.finishedAt.map { Self.when($0, now: t) } ?? "-",
                "progress": total.map { "\(done) of \($0)" } ?? "\(done) contacts",
                "counts": r.counts.filter { !["total", "contacts"].contains($0.key) }.sorted { $0.key < $1.key }
                    .map { "\($0.key) \($0.value)" }.joined(separator: ", "),
            ]
        }
        return render("runs", ["title": "Passes", "runs": runs, "refreshMs": 10_000], session: session)
    }

    // MARK: Rendering

    func render(
        _ template: String, _ model: [String: Any], session: UISessions.Session?, status: HTTPResponse.Status = .ok
    ) -> Response {
        var model = model
        model["css"] = UITemplates.css
        // `{{#hasRows}}` for every non-empty list `rows` (a section over a list repeats).
        for (key, value) in model {
            if let list = value as? [Any], !list.isEmpty {
                model["has" + key.prefix(1).uppercased() + key.dropFirst()] = true
            }
        }
        if let session {
            model["signedIn"] = true
            model["csrf"] = session.csrf
            let current = [
                "overview": "/ui", "contacts": "/ui/contacts", "contact": "/ui/contacts",
                "dead": "/ui/dead-letters", "rules": "/ui/rules", "runs": "/ui/runs",
            ][template]
            if !peers.isEmpty {
                // The appliance's locations: this page is one of them; the others a click away.
                model["locations"] = peers.map { p -> [String: Any] in
                    [
                        "id": p.id, "label": p.name.map { "\($0) (\(p.id))" } ?? p.id,
                        "current": p.id == location,
                    ]
                }
                model["hasLocations"] = true
            }
            model["nav"] = [
                ("/ui", "Overview"), ("/ui/contacts", "Contacts"), ("/ui/dead-letters", "Dead letters"),
                ("/ui/rules", "Rules"), ("/ui/runs", "Passes"),
            ].map { href, label -> [String: Any] in
                ["href": href, "label": label, "current": href == current]
            }
        }
        let html = Self.uiLibrary.render(model, withTemplate: template) ?? "template \(template) missing"
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        // No script but our own inline one, no framing, nothing loaded from elsewhere.
        headers[Self.contentSecurityPolicy] =
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src 'self'; "
            + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        headers[Self.noSniff] = "nosniff"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    func uiMessage(
        _ session: UISessions.Session?, status: HTTPResponse.Status, heading: String, text: String
    ) -> Response {
        render("message", ["title": heading, "heading": heading, "text": text], session: session, status: status)
    }

    static func uiDisabled() -> Response {
        uiPlain(.notFound, "the operator page is disabled: set LEADSYNC_ADMIN_TOKEN to enable it")
    }

    static func uiPlain(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(
            status: status, headers: [.contentType: "text/plain; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: text + "\n")))
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }

    /// "2026-12-01 04:43:01 UTC (3 min ago)".
    static func when(_ t: Timestamp, now: Timestamp) -> String {
        let iso = t.iso8601
        let text = String(iso.prefix(19)).replacingOccurrences(of: "T", with: " ") + " UTC"
        let seconds = (now.milliseconds - t.milliseconds) / 1000
        let ago: String
        switch abs(seconds) {
        case 0..<60: ago = "\(abs(seconds)) s"
        case 60..<3600: ago = "\(abs(seconds) / 60) min"
        case 3600..<172_800: ago = "\(abs(seconds) / 3600) h"
        default: ago = "\(abs(seconds) / 86400) days"
        }
        return text + (seconds >= 0 ? " (\(ago) ago)" : " (in \(ago))")
    }
}
