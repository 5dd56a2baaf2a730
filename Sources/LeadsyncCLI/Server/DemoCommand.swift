import AsyncHTTPClient
import Foundation
import LeadsyncCore
import LeadsyncRules
import LeadsyncRuntime
import LeadsyncSandbox
import LeadsyncServer
import LeadsyncStore
import LeadsyncUpstream
import LeadsyncValues
import LeadsyncWebhooks
import Logging
import ServiceLifecycle

/// `leadsync demo`: the whole pipeline on the built-in sandbox. Starts sandbox GHL and CallTools
/// and the server, tags sandbox contacts in GHL through its API (the sandbox then sends the
/// server signed webhooks), and shows each contact arrive in its CallTools bucket, or not, and
/// why. Then two leads become customers and leave. Exits 0 when every contact ended where the
/// rules say.
public enum DemoCommand {
    /// The demo's rules: the worker's routing (rules/cold-leads.yaml) plus a GHL write-back, so
    /// the demo also shows our own write-backs coming back as webhooks and costing nothing.
    public static let rulesYAML = """
        version: 1
        buckets:
          cold_leads: 11237
          active_clients: 11252
        calltools:
          phone_field: mobile_phone_number
          lookup_existing: true
        fields:
          first_name: "{{ firstName | default: name | default: 'Unknown' | trim }}"
          last_name: "{{ lastName | trim }}"
          mobile_phone_number: "{{ phone | e164 }}"
          crm_id: "{{ id }}"
        exclusions:
          - name: customer
            when: { tags: { any_matches: '\\b(customers?|clients?|purchased)\\b' } }
          - name: no-phone
            when: { field: phone, is: empty }
          - name: do-not-call
            when: { field: dnd, equals: true }
        rules:
          - name: active-client
            when: { tags: { any_of: ["ACA Active 2026"] } }
            ignore_exclusions: [customer, marked-customer]
            bucket: active_clients
            exclusive: true
            mark_customer: true
            stop: true
          - name: customer-tag
            when: { tags: { any_matches: '\\b(customers?|clients?|purchased)\\b' } }
            ignore_exclusions: [customer, marked-customer, no-phone, do-not-call]
            exclusive: true
            ghl_tags: { remove: ["in-dialer"] }
            mark_customer: true
            stop: true
          - name: cold-lead
            when: { tags: { any_matches: '\\b(cold|new lead|prospects?)\\b' } }
            bucket: cold_leads
            ghl_tags: { add: ["in-dialer"] }
        on_no_match: remove
        """

    struct Person {
        var id: String
        var first: String
        var phone: String?
        var dnd = false
        var tag: String
        /// Expected bucket after tagging (nil: none).
        var expected: Int?
        var note: String
    }

    static let people: [Person] = [
        Person(
            id: "demo01", first: "Ana", phone: "(415) 555-0101", tag: "cold lead", expected: 11237, note: "cold lead"),
        Person(id: "demo02", first: "Ben", phone: "+14155550102", tag: "Prospects", expected: 11237, note: "prospect"),
        Person(id: "demo03", first: "Cleo", phone: "415-555-0103", tag: "new lead", expected: 11237, note: "new lead"),
        Person(id: "demo04", first: "Dev", phone: nil, tag: "cold lead", expected: nil, note: "no phone"),
        Person(
            id: "demo05", first: "Eve", phone: "+14155550105", dnd: true, tag: "cold lead", expected: nil, note: "DND"),
        Person(
            id: "demo06", first: "Fay", phone: "+14155550106", tag: "coldplay fan", expected: nil, note: "not a lead"),
        Person(
            id: "demo07", first: "Gus", phone: "+14155550107", tag: "ACA Active 2026", expected: 11252, note: "client"),
        Person(id: "demo08", first: "Hal", phone: "+14155550108", tag: "cold lead", expected: 11237, note: "cold lead"),
    ]
    /// Become customers in the second act: they must leave Cold Leads.
    static let converts = ["demo03", "demo08"]

    public static func run(
        rulesPath: String?, dbPath: String?, console: Console, now: @escaping @Sendable () -> Timestamp
    ) async -> Int32 {
        func fail(_ message: String) -> Int32 {
            console.err.line("leadsync: \(message)")
            console.err.flush()
            return 1
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("leadsync-demo-\(getpid())").path
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            return fail("cannot create \(dir): \(error.localizedDescription)")
        }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rules = rulesPath ?? dir + "/demo-rules.yaml"
        if rulesPath == nil {
            do {
                try rulesYAML.write(toFile: rules, atomically: true, encoding: .utf8)
            } catch {
                return fail("cannot write \(rules): \(error.localizedDescription)")
            }
        }
        let database = dbPath ?? dir + "/demo.sqlite"

        let http = HTTPClientHandle()
        let state = SandboxState()
        await state.setLimits(ghl: nil, calltools: nil)
        for p in people {
            var c = JSONObject()
            c["id"] = .string(p.id)
            c["firstName"] = .string(p.first)
            c["lastName"] = .string("Demo")
            if let phone = p.phone { c["phone"] = .string(phone) }
            if p.dnd { c["dnd"] = .bool(true) }
            c["tags"] = .array([])
            await state.putGHLContact(c)
        }
        let code: Int32
        do {
            let sandbox = try await SandboxServer.start(state: state)
            code = await stage(
                state: state, sandbox: sandbox, rulesPath: rules, dbPath: database, http: http, console: console,
                now: now, fail: fail)
            await sandbox.stop()
        } catch {
            code = fail("\(error)")
        }
        await http.shutdown()
        return code
    }

    static func stage(
        state: SandboxState, sandbox: SandboxServer, rulesPath: String, dbPath: String, http: HTTPClientHandle,
        console: Console, now: @escaping @Sendable () -> Timestamp, fail: (String) -> Int32
    ) async -> Int32 {
        let logger = Logger(label: "leadsync.demo")
        let out = console.out
        let store: LeadsyncDatabase
        var settings = UpstreamSettings.sandbox(sandbox, state: state)
        settings.createSettle = .zero
        let emitter = SandboxWebhookEmitter(client: http.client, logger: logger)
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.syncInterval = nil
        configuration.fullSyncHour = nil
        let server: LeadsyncServer
        do {
            store = try LeadsyncDatabase.open(path: dbPath)
            server = try LeadsyncServer.build(
                ServerSetup(
                    configuration: configuration, rulesPath: rulesPath, store: store, upstreams: settings,
                    verifier: try WebhookVerifier(ed25519PEM: emitter.publicKeyPEM), http: http.client,
                    logger: logger, now: now))
        } catch let error as LiveRules.Rejected {
            return fail(([error.message] + error.diagnostics.map(\.headline)).joined(separator: "\n"))
        } catch {
            return fail("\(error)")
        }
        defer { store.close() }
        await state.setWebhookSink(emitter.accept)
        let live = server.rules
        guard let ghl = server.ghl else { return fail("the demo server has no GHL client") }
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let app = server.application(extraServices: [emitter]) { port in
            emitter.setTarget("http://127.0.0.1:\(port)/webhook/ghl")
            portSink.yield(port)
            portSink.finish()
        }
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))

        return await withTaskGroup(of: Int32?.self) { tasks in
            tasks.addTask {
                try? await group.run()
                return nil
            }
            var port = 0
            for await p in ports { port = p }
            out.line("leadsync demo: sandbox GHL and CallTools on \(sandbox.baseURL), server on 127.0.0.1:\(port)")
            out.line("rules: \(rulesPath) (\(live.current.rules.rules.count) rules, hash \(live.current.hash))")
            out.line("")
            out.line(
                "1. Tagging \(people.count) contacts in sandbox GHL; it sends the server a signed webhook for each.")
            out.flush()
            let code = await act(
                state: state, ghl: ghl, store: store, server: server, emitter: emitter, console: console)
            await group.triggerGracefulShutdown()
            while let r = await tasks.next() { if r != nil { break } }
            return code
        }
    }

    static func act(
        state: SandboxState, ghl: GHLClient, store: LeadsyncDatabase, server: LeadsyncServer,
        emitter: SandboxWebhookEmitter, console: Console
    ) async -> Int32 {
        let out = console.out
        var arrived: [String: Duration] = [:]
        var ok = true
        let start = ContinuousClock.now
        for p in people {
            do {
                try await ghl.addTags(p.id, [p.tag])
            } catch {
                out.line("   could not tag \(p.id): \(error)")
                return 1
            }
        }
        // Wait until every expected contact is in its bucket and the inbox is empty.
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let ct = await calltoolsByCRM(state)
            for p in people where arrived[p.id] == nil {
                if let b = p.expected, ct[p.id]?.buckets.contains(b) == true { arrived[p.id] = .now - start }
            }
            let pending = (try? store.inboxCounts().pending) ?? 1
            if people.allSatisfy({ $0.expected == nil || arrived[$0.id] != nil }) && pending == 0 {
                // A moment more for the webhooks of our own write-backs to come back and settle.
                try? await Task.sleep(for: .milliseconds(300))
                if ((try? store.inboxCounts().pending) ?? 1) == 0 { break }
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
        let ct = await calltoolsByCRM(state)
        out.line("")
        out.line(
            "   " + "contact".rightPadded(to: 8) + " " + "tag".rightPadded(to: 16) + " "
                + "expected".rightPadded(to: 14)
                + " " + "in CallTools".rightPadded(to: 14) + " " + "after".rightPadded(to: 7) + " why")
        for p in people {
            let expected = bucketName(p.expected)
            let actual =
                ct[p.id].map { $0.buckets.isEmpty ? "no bucket" : $0.buckets.map(bucketName).joined(separator: ",") }
                ?? "-"
            let good =
                p.expected == nil ? (ct[p.id]?.buckets.isEmpty ?? true) : (ct[p.id]?.buckets == p.expected.map { [$0] })
            ok = ok && good
            let after = arrived[p.id].map { "\(Int($0 / .milliseconds(1))) ms" } ?? ""
            out.line(
                (good ? " ✓ " : " ✗ ") + p.id.rightPadded(to: 8) + " " + p.tag.rightPadded(to: 16) + " "
                    + expected.rightPadded(to: 14) + " " + actual.rightPadded(to: 14) + " " + after.rightPadded(to: 7)
                    + " " + why(store, p.id))
        }
        out.flush()

        out.line("")
        out.line(
            "2. \(converts.joined(separator: " and ")) become customers (tag \"customer\" in GHL): they must leave Cold Leads."
        )
        out.flush()
        let convertStart = ContinuousClock.now
        for id in converts { try? await ghl.addTags(id, ["customer"]) }
        var left: [String: Duration] = [:]
        let deadline2 = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline2 {
            let ct = await calltoolsByCRM(state)
            for id in converts where left[id] == nil && ct[id]?.buckets.isEmpty == true {
                left[id] = .now - convertStart
            }
            if left.count == converts.count && ((try? store.inboxCounts().pending) ?? 1) == 0 { break }
            try? await Task.sleep(for: .milliseconds(5))
        }
        for id in converts {
            let good = left[id] != nil
            ok = ok && good
            let ghlTags = (await state.ghlContact(id))?["tags"]?.arrayValue?.compactMap(\.stringValue) ?? []
            out.line(
                (good ? " ✓ " : " ✗ ") + id.rightPadded(to: 8) + " "
                    + (good ? "left Cold Leads after \(Int(left[id]! / .milliseconds(1))) ms" : "still in a bucket")
                    + "; GHL tags now [\(ghlTags.joined(separator: ", "))]; " + why(store, id))
        }

        // Loop safety: once settled, our own write-backs have come back as webhooks; nothing more moves.
        try? await Task.sleep(for: .milliseconds(500))
        let before = await state.requests.count
        try? await Task.sleep(for: .milliseconds(700))
        let after = await state.requests.count
        let quiet = before == after
        ok = ok && quiet
        let requests = await state.requests
        let ctCalls = requests.filter { $0.path.hasPrefix("/api/") }.count
        let ghlWrites = requests.filter { !$0.path.hasPrefix("/api/") && $0.method != "GET" }.count
        let counts = (try? store.inboxCounts()) ?? InboxCounts()
        out.line("")
        out.line("3. Totals")
        out.line("   webhooks sent by sandbox GHL   \(emitter.delivered.sent) (\(emitter.delivered.failed) failed)")
        out.line(
            "   events applied                 \(counts.done), queued \(counts.pending), dead letters \(counts.dead)")
        out.line("   CallTools calls                \(ctCalls) (ids resolved once, then one call per contact change)")
        out.line("   GHL writes (ours and the demo's) \(ghlWrites)")
        out.line(
            "   settled                         "
                + (quiet ? "yes: our write-backs came back as webhooks and cost no call" : "NO: calls still being made")
        )
        out.line("")
        out.line(
            ok ? "demo: every contact ended where the rules say." : "demo: some contacts did not end where expected.")
        out.line("Try: leadsync serve --sandbox --rules rules/cold-leads.yaml, then leadsync explain, stats, replay.")
        out.flush()
        return ok ? 0 : 1
    }

    struct CTContact {
        var id: Int
        var buckets: [Int]
    }

    static func calltoolsByCRM(_ state: SandboxState) async -> [String: CTContact] {
        var out: [String: CTContact] = [:]
        for (id, c) in await state.calltoolsContacts() {
            guard let crm = c["crm_id"]?.stringValue else { continue }
            let buckets =
                c["buckets"]?.arrayValue?.compactMap { v -> Int? in
                    if case .number(let n) = v { return Int(exactly: n) }
                    return nil
                } ?? []
            out[crm] = CTContact(id: id, buckets: buckets.sorted())
        }
        return out
    }

    static func bucketName(_ id: Int?) -> String {
        switch id {
        case nil: return "none"
        case 11237: return "Cold Leads"
        case 11252: return "Active Clients"
        case let id?: return String(id)
        }
    }

    /// The contact's latest decision, as `explain` shows it.
    static func why(_ store: LeadsyncDatabase, _ id: String) -> String {
        (try? store.lastDecisionSummary(id)) ?? "no decision yet"
    }
}
