import LeadsyncCore
import LeadsyncRules
import LeadsyncStore
import LeadsyncSync
import LeadsyncValues

/// `leadsync stats`, `leadsync explain ID`, `leadsync mark-customer ID [--undo]`: read or mark the
/// local state. They never call GHL or CallTools.
public enum StoreCommands {
    static func open(_ path: String, mustExist: Bool, console: Console) -> LeadsyncDatabase? {
        if mustExist && !FileInput.exists(path) {
            console.err.line("leadsync: no database at '\(path)' (run 'leadsync sync' first, or pass --db)")
            return nil
        }
        do {
            return try LeadsyncDatabase.open(path: path)
        } catch {
            console.err.line("leadsync: \(error)")
            return nil
        }
    }

    public static func stats(dbPath: String, json: Bool, console: Console) -> Int32 {
        guard let db = open(dbPath, mustExist: true, console: console) else { return 1 }
        do {
            let s = try db.stats()
            let last = try db.lastFinishedRun(mode: nil)
            let connections = try db.connections()
            // The JSON report counts decisions itself: read them from it, not the audit again.
            var report = json ? try db.statsReport() : .null
            func counts(_ key: String) -> [String: Int] {
                var out: [String: Int] = [:]
                for e in report[key]?.objectValue?.entries ?? [] {
                    if case .number(let n) = e.value { out[e.key] = Int(exactly: n) ?? 0 }
                }
                return out
            }
            let decisions =
                json ? (byRule: counts("by_rule"), byExclusion: counts("by_exclusion")) : try db.decisionCounts()
            let idle = try idleRules(db, decisions)
            if json {
                if case .object(var o) = report, let idle {
                    o["never_applied"] = .object(
                        JSONObject([
                            "rules": .array(idle.rules.map(JSON.string)),
                            "exclusions": .array(idle.exclusions.map(JSON.string)),
                        ]))
                    report = .object(o)
                }
                if case .object(var o) = report, !connections.isEmpty {
                    var c = JSONObject()
                    for r in connections {
                        var e = JSONObject()
                        e["state"] = .string(r.state.rawValue)
                        e["access_expires_at"] = .string(r.accessExpiresAt.iso8601)
                        if let reason = r.reason { e["reason"] = .string(reason) }
                        c[r.key] = .object(e)
                    }
                    o["ghl_connections"] = .object(c)
                    report = .object(o)
                }
                console.out.line(JSONWriter.encode(report))
            } else {
                for r in connections {
                    console.out.line("ghl connection        \(GHLCommands.connectionLine(r))")
                }
                console.out.line("contacts known        \(s.contacts)")
                console.out.line("in CallTools          \(s.inCallTools)")
                console.out.line("create pending        \(s.createPending)")
                console.out.line("marked customers      \(s.markedCustomers)")
                for (rule, n) in decisions.byRule.sorted(by: { $0.key < $1.key }) {
                    console.out.line("rule \(rule.rightPadded(to: 16)) \(n)")
                }
                for (exclusion, n) in decisions.byExclusion.sorted(by: { $0.key < $1.key }) {
                    console.out.line("excluded by \(exclusion.rightPadded(to: 10)) \(n)")
                }
                if let idle {
                    for r in idle.rules {
                        console.out.line("rule \(r.rightPadded(to: 16)) 0  (applies to no contact now)")
                    }
                    for e in idle.exclusions {
                        console.out.line("excluded by \(e.rightPadded(to: 10)) 0  (matches no contact now)")
                    }
                }
                let inbox = try db.inboxCounts()
                console.out.line("queue depth           \(inbox.pending)")
                console.out.line("dead letters          \(inbox.dead)")
                for (bucket, n) in s.perBucket.sorted(by: { $0.key < $1.key }) {
                    console.out.line("bucket \(String(bucket).rightPadded(to: 14)) \(n)")
                }
                if let last {
                    console.out.line("last sync             \(last.mode), finished \(last.finishedAt?.iso8601 ?? "-")")
                }
            }
            console.out.flush()
            return 0
        } catch {
            console.err.line("leadsync: \(error)")
            return 1
        }
    }

    /// The live rules' rules and exclusions that no contact's latest decision applies or
    /// matches (nil when no live rules are recorded, or they no longer compile).
    static func idleRules(
        _ db: LeadsyncDatabase, _ counts: (byRule: [String: Int], byExclusion: [String: Int])
    ) throws -> (rules: [String], exclusions: [String])? {
        guard let live = try db.liveRules(), let rules = RulesCompiler.compile(source: live.text, file: live.path).rules
        else { return nil }
        return (
            rules.rules.map(\.name).filter { counts.byRule[$0] == nil },
            rules.exclusions.filter { !$0.builtIn }.map(\.name).filter { counts.byExclusion[$0] == nil }
        )
    }

    public static func explain(_ ghlId: String, dbPath: String, console: Console) -> Int32 {
        guard let db = open(dbPath, mustExist: true, console: console) else { return 1 }
        do {
            let c = try db.contact(ghlId)
            let trail = try db.auditTrail(ghlId)
            let hasEvents = !(try db.inboxEvents(contact: ghlId, limit: 1)).isEmpty
            if trail.isEmpty && c.applied == .init() && !c.markedCustomer && !hasEvents {
                console.err.line("leadsync: contact \(ghlId) is not in the local state")
                return 1
            }
            console.out.line("contact \(ghlId)")
            console.out.line(
                "  CallTools id      \(c.applied.calltoolsId.map(String.init) ?? "-")"
                    + (c.applied.createPending ? "  (create pending: will be looked up by phone)" : ""))
            console.out.line(
                "  buckets           \(c.applied.buckets.sorted().map(String.init).joined(separator: ", "))")
            console.out.line("  marked customer   \(c.markedCustomer ? "yes" : "no")")
            let events = try db.inboxEvents(contact: ghlId, limit: 20)
            if !events.isEmpty {
                console.out.line("  webhook events (newest first)")
                for e in events {
                    var line = "    \(e.receivedAt.iso8601)  #\(e.seq) \(e.eventType) \(e.status.rawValue)"
                    if e.attempts > 0 { line += ", \(e.attempts) failed attempt(s)" }
                    if let err = e.lastError { line += ": \(err)" }
                    console.out.line(line)
                }
            }
            console.out.line("  history")
            for e in trail {
                console.out.line("    \(e.at.iso8601)  \(e.kind.rawValue.rightPadded(to: 8)) \(e.summary)")
            }
            console.out.flush()
            return 0
        } catch {
            console.err.line("leadsync: \(error)")
            return 1
        }
    }

    public static func markCustomer(
        _ ghlId: String, undo: Bool, dbPath: String, now: Timestamp, console: Console
    ) -> Int32 {
        guard let db = open(dbPath, mustExist: false, console: console) else { return 1 }
        do {
            try db.setMarkedCustomer(
                ghlId, !undo, at: now,
                reason: undo ? "leadsync mark-customer --undo" : "leadsync mark-customer")
            console.out.line(
                undo
                    ? "\(ghlId): customer mark removed"
                    : "\(ghlId): marked a customer; it leaves managed buckets when next processed")
            return 0
        } catch {
            console.err.line("leadsync: \(error)")
            return 1
        }
    }
}

extension StoreCommands {
    /// `leadsync replay [--seq N] [--since T] [--list]`: requeues dead letters; a running server
    /// picks them up within a second.
    public static func replay(
        seq: Int64?, since: Timestamp?, list: Bool, dbPath: String, now: Timestamp, console: Console
    ) -> Int32 {
        guard let db = open(dbPath, mustExist: true, console: console) else { return 1 }
        do {
            if list {
                let dead = try db.deadLetters()
                if dead.isEmpty { console.out.line("no dead letters") }
                for e in dead {
                    console.out.line(
                        "\(e.seq)  \(e.receivedAt.iso8601)  \(e.contactId)  \(e.eventType)  \(e.attempts) attempt(s)  \(e.lastError ?? "")"
                    )
                }
                console.out.flush()
                return 0
            }
            if let seq, try db.inboxEvent(seq)?.status != .dead {
                console.err.line("leadsync: event \(seq) is not a dead letter (see 'leadsync replay --list')")
                return 1
            }
            let n = try db.replayDeadLetters(seq: seq, since: since, at: now)
            console.out.line("requeued \(n) dead letter(s); a running server applies them within a second")
            console.out.flush()
            return 0
        } catch {
            console.err.line("leadsync: \(error)")
            return 1
        }
    }
}
