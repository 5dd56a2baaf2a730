import LeadsyncCore
import LeadsyncRules
import LeadsyncRuntime
import LeadsyncServer
import LeadsyncStore
import LeadsyncSync
import LeadsyncValues

/// `leadsync plan --rules NEW.yaml [--against OLD.yaml] [--db PATH] [--json] [--max-moves N]`:
/// what deploying NEW would do to the contacts the database knows, compared with the rules the
/// last server or `sync` ran (or OLD). Reads only the database; calls nothing.
public enum PlanCommand {
    public struct Options: Sendable {
        public var rulesPath: String
        public var against: String?
        public var dbPath: String
        public var json = false
        public var maxMoves: Int?
        public init(rulesPath: String, against: String?, dbPath: String) {
            self.rulesPath = rulesPath
            self.against = against
            self.dbPath = dbPath
        }
    }

    public static func run(
        _ options: Options, environment: [String: String], console: Console, now: Timestamp
    ) -> Int32 {
        func fail(_ message: String) -> Int32 {
            console.err.line("leadsync: \(message)")
            console.err.flush()
            return 1
        }
        let new: CompiledRules
        do {
            (_, new) = try RulesFile.loadValid(options.rulesPath, console: console)
        } catch {
            return fail(error.message)
        }
        guard FileInput.exists(options.dbPath) else {
            return fail("no database at '\(options.dbPath)' (run 'leadsync sync' or the server first, or pass --db)")
        }
        let store: LeadsyncDatabase
        do {
            store = try LeadsyncDatabase.openReadOnly(path: options.dbPath)
        } catch {
            return fail(error.description)
        }
        defer { store.close() }
        let old: CompiledRules
        let oldName: String
        if let against = options.against {
            do {
                (_, old) = try RulesFile.loadValid(against, console: console)
            } catch {
                return fail(error.message)
            }
            oldName = against
        } else {
            let live: LiveRulesRecord?
            do {
                live = try store.liveRules()
            } catch {
                return fail(error.description)
            }
            guard let live else {
                return fail(
                    "the database records no live rules yet (a server or sync records them); pass --against OLD.yaml")
            }
            let document = RulesCompiler.compile(source: live.text, file: live.path)
            guard let rules = document.rules else {
                return fail("the live rules recorded in the database no longer compile; pass --against OLD.yaml")
            }
            old = rules
            oldName = "the live rules (\(live.path), loaded \(live.loadedAt.iso8601))"
        }
        let budgets: PlanRunner.Budgets
        do {
            budgets = try UpstreamSettings.budgets(environment)
        } catch {
            return fail(error.message)
        }
        let plan: RulesPlan
        do {
            plan = try PlanRunner.run(old: old, new: new, store: store, now: now)
        } catch {
            return fail(error.description)
        }
        if options.json {
            console.out.line(JSONWriter.encode(PlanRunner.json(plan, budgets: budgets, oldHash: old.sourceHash)))
        } else {
            for line in PlanRunner.text(plan, budgets: budgets, oldName: oldName) { console.out.line(line) }
        }
        console.out.flush()
        if let max = options.maxMoves, plan.moved > max {
            return fail("\(plan.moved) contacts would change buckets, more than --max-moves \(max)")
        }
        return 0
    }
}
