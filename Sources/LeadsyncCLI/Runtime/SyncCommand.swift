import LeadsyncAuth
import LeadsyncCore
import LeadsyncRules
import LeadsyncRuntime
import LeadsyncServer
import LeadsyncStore
import LeadsyncUpstream
import LeadsyncValues
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `leadsync sync --rules R [--full | --since T] [--dry-run]`: one batch/reconcile pass.
public enum SyncCommand {
    public struct Options {
        public var rulesPath: String
        public var dbPath: String
        public var mode: SyncPass.Mode
        public var dryRun: Bool
        public var concurrency: Int
        /// `--max-wait`: see `SyncPass.Options.maxWait`.
        public var maxWait: Duration = .seconds(300)
        public init(rulesPath: String, dbPath: String, mode: SyncPass.Mode, dryRun: Bool, concurrency: Int) {
            self.rulesPath = rulesPath
            self.dbPath = dbPath
            self.mode = mode
            self.dryRun = dryRun
            self.concurrency = concurrency
        }
    }

    public static func run(
        _ options: Options, environment: [String: String], console: Console,
        now: @escaping @Sendable () -> Timestamp
    ) async -> Int32 {
        func fail(_ message: String) -> Int32 {
            console.err.line("leadsync: \(message)")
            console.err.flush()
            return 1
        }
        let rules: CompiledRules
        var rulesText = ""
        let settings: UpstreamSettings
        let store: LeadsyncDatabase
        do {
            (_, rules) = try RulesFile.loadValid(options.rulesPath, console: console)
            rulesText = try FileInput.readText(options.rulesPath)
            settings = try UpstreamSettings.fromEnvironment(environment)
            // A dry run writes nothing, not even a new database file.
            store =
                options.dryRun && !FileInput.exists(options.dbPath)
                ? try LeadsyncDatabase.inMemory() : try LeadsyncDatabase.open(path: options.dbPath)
        } catch let error as CLIError {
            return fail(error.message)
        } catch let error as UpstreamSettings.Error {
            return fail(error.message)
        } catch {
            return fail("\(error)")
        }
        // The rules this pass runs, for `plan` (a dry run records nothing).
        if !options.dryRun {
            try? store.setLiveRules(path: options.rulesPath, hash: rules.sourceHash, text: rulesText, at: now())
        }
        // The HTTP client is shut down, awaited, on every path out (async-http-client requires it).
        let http = HTTPClientHandle()
        let code = await pass(
            options, rules: rules, settings: settings, store: store, http: http, console: console,
            now: now, fail: fail)
        await http.shutdown()
        return code
    }

    static func pass(
        _ options: Options, rules: CompiledRules, settings: UpstreamSettings, store: LeadsyncDatabase,
        http: HTTPClientHandle, console: Console, now: @escaping @Sendable () -> Timestamp,
        fail: (String) -> Int32
    ) async -> Int32 {
        let counter = CallCounter()
        let (ghl, calltools, app) = settings.clients(
            http: http.client, store: store, now: now, onCall: { counter.add($0) })
        if let app {
            // OAuth: the stored connection must work before a pass starts.
            await app.start()
            if let c = app.connections[settings.ghlLocationId], c.status.state != .connected {
                return fail(c.status.reason ?? "GHL location \(settings.ghlLocationId) is not connected")
            }
        }
        let started = ContinuousClock.now
        let tty = isatty(2) == 1
        do {
            let executor = try Executor(
                rules: rules, store: store, calltools: calltools, ghl: ghl, now: now,
                createSettle: settings.createSettle)
            let pass = SyncPass(rules: rules, ghl: ghl, executor: executor, store: store, now: now)
            var passOptions = SyncPass.Options()
            passOptions.mode = options.mode
            passOptions.dryRun = options.dryRun
            passOptions.concurrency = options.concurrency
            passOptions.maxWait = options.maxWait
            var plan = SyncPass.Plan()
            let progress = try await pass.run(
                passOptions, plan: &plan,
                onPage: { p in
                    report(p, tty: tty, console: console)
                },
                onError: { failure in
                    if tty { console.err.write("\r\u{1B}[K") }
                    console.err.line("leadsync: \(failure)")
                },
                onWait: { what in
                    if tty { console.err.write("\r\u{1B}[K") }
                    console.err.line("sync: \(what)")
                    console.err.flush()
                })
            if tty { console.err.write("\r\u{1B}[K") }
            if options.dryRun, rules.calltools.lookupExisting, let lookups = plan.calls["lookup"], lookups > 1 {
                // A real import reads CallTools' contact list instead of looking each phone up
                // when the list has fewer pages (one read to learn its size).
                let first = try await calltools.contactsPage(1)
                let pages = max(1, (first.count + CallToolsClient.maxPageSize - 1) / CallToolsClient.maxPageSize)
                if pages < lookups && pages <= Executor.maxDirectoryPages {
                    plan.calls["lookup"] = nil
                    plan.calls["list"] = pages
                }
            }
            let elapsed = ContinuousClock.now - started
            console.out.write(
                summary(
                    progress, plan: options.dryRun ? plan : nil, mode: options.mode, calls: counter,
                    seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
                    budgets: PlanRunner.Budgets(calltools: settings.calltoolsRate, ghl: settings.ghlRate)))
            console.out.flush()
            console.err.flush()
            return progress.failed > 0 ? 1 : 0
        } catch let error as UpstreamError {
            return fail(error.description)
        } catch let error as StoreError {
            return fail(error.description)
        } catch let error as Executor.Failure {
            return fail(error.description)
        } catch {
            return fail("\(error)")
        }
    }

    static func report(_ p: SyncPass.Progress, tty: Bool, console: Console) {
        let total = p.total.map { "/\($0)" } ?? ""
        let counts =
            "created \(p.created), updated \(p.updated), unchanged \(p.unchanged), skipped \(p.skipped), failed \(p.failed)"
        if tty, let t = p.total, t > 0 {
            let width = 30
            let done = min(width, p.contacts * width / t)
            let bar = String(repeating: "#", count: done) + String(repeating: ".", count: width - done)
            console.err.write("\r[\(bar)] \(p.contacts)\(total) contacts  \(counts)")
            console.err.flush()
        } else {
            console.err.line("sync: page \(p.pages), \(p.contacts)\(total) contacts (\(counts))")
            console.err.flush()
        }
    }

    static func summary(
        _ p: SyncPass.Progress, plan: SyncPass.Plan?, mode: SyncPass.Mode, calls: CallCounter,
        seconds: Double, budgets: PlanRunner.Budgets? = nil
    ) -> String {
        func row(_ label: String, _ n: Int) -> String {
            "  " + label.rightPadded(to: 12) + String(n).leftPadded(to: 8) + "\n"
        }
        let modeName: String
        switch mode {
        case .full: modeName = "full"
        case .incremental(let since): modeName = "incremental" + (since.map { " since \($0.iso8601)" } ?? "")
        }
        var out =
            "sync \(modeName)\(plan != nil ? " (dry run: nothing was written)" : ""): \(p.contacts) contacts in "
            + "\(p.pages) pages, \(String(format2(seconds))) s\(p.resumed ? " (resumed)" : "")\n"
        if let plan {
            out += row("unchanged", plan.unchanged) + row("updates", plan.updates)
            for (name, n) in plan.creates.sorted(by: { $0.key < $1.key }) { out += row("create → \(name)", n) }
            for (name, n) in plan.adds.sorted(by: { $0.key < $1.key }) { out += row("add → \(name)", n) }
            for (name, n) in plan.removals.sorted(by: { $0.key < $1.key }) { out += row("remove ← \(name)", n) }
            for (name, n) in plan.byRule.sorted(by: { $0.key < $1.key }) { out += row("rule \(name)", n) }
            if plan.rereads > 0 {
                out +=
                    "  \(plan.rereads) contacts would be re-read from GHL before dialing (search may omit dndSettings)\n"
            }
            if let budgets {
                // The forecast: what the real pass would spend, and how long at the budgets.
                let c = plan.calls
                let ct = PlanRunner.Budgets.seconds(plan.calltoolsCalls, budgets.calltools)
                let ghlCalls = p.pages + plan.rereads + plan.ghlWrites
                let ghl = PlanRunner.Budgets.seconds(ghlCalls, budgets.ghl)
                let rate = "\(budgets.calltools.0) per \(PlanRunner.duration(budgets.calltools.1))"
                out +=
                    "forecast: \(plan.calltoolsCalls) CallTools calls (\(c["create", default: 0]) creates, "
                    + (c["list"].map { "\($0) contact-list pages" } ?? "\(c["lookup", default: 0]) look-ups")
                    + ", \(c["patch", default: 0]) PATCHes, \(c["id", default: 0]) id look-ups), "
                    + (ct == 0
                        ? "at once within the CallTools budget (\(rate))"
                        : "\(PlanRunner.duration(ct)) at \(rate)")
                    + "; \(ghlCalls) GHL calls, \(ghl == 0 ? "within its budget" : PlanRunner.duration(ghl))\n"
            }
        } else {
            out +=
                row("created", p.created) + row("updated", p.updated) + row("unchanged", p.unchanged)
                + row("skipped", p.skipped) + row("failed", p.failed)
            if p.rereads > 0 { out += row("re-read", p.rereads) }
            if p.waited > .zero || p.recovered > 0 {
                let ms = p.waited / .milliseconds(1)
                out +=
                    "  waited \(format2(ms / 1000)) s at the end for creates to settle and faults to pass; "
                    + "\(p.recovered) contact\(p.recovered == 1 ? "" : "s") finished then\n"
            }
        }
        out +=
            "upstream calls: GHL \(calls.count(.ghl)), CallTools \(calls.count(.calltools))"
            + " (\(p.idLookups) id look-ups, \(p.directoryPages) contact-list pages)\n"
        return out
    }

    /// `90s`, `5m`, `1h`, `300` (seconds); at most a day.
    public static func parseWait(_ text: String) -> Duration? {
        let t = text.trimmedASCII.lowercased()
        var unit: Int64 = 1
        var digits = Substring(t)
        if let last = t.last, "smh".contains(last) {
            unit = last == "s" ? 1 : last == "m" ? 60 : 3600
            digits = t.dropLast()
        }
        guard let n = Int64(digits), n >= 0, n <= 86_400 / unit else { return nil }
        return .seconds(n * unit)
    }

    static func format2(_ v: Double) -> String {
        guard let hundredths = Int(exactly: (v * 100).rounded()) else { return "?" }
        return "\(hundredths / 100).\(String(hundredths % 100).leftPadded(to: 2, with: "0"))"
    }
}

/// Counts upstream calls per service (called from the transport, on any thread).
final class CallCounter: Sendable {
    private let counts = Mutex<(ghl: Int, calltools: Int)>((0, 0))
    func add(_ r: CallRecord) {
        counts.withLock { c in
            if r.service == .ghl { c.ghl += 1 } else { c.calltools += 1 }
        }
    }
    func count(_ s: Upstream) -> Int { counts.withLock { s == .ghl ? $0.ghl : $0.calltools } }
}
