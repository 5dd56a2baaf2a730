import GRDB
import LeadsyncCore
import LeadsyncSync
import LeadsyncValues

/// A batch or reconcile pass, as recorded.
public struct SyncRun: Sendable, Equatable {
    public enum Status: String, Sendable {
        case running, finished, failed
    }
    public var id: Int64
    public var mode: String
    public var startedAt: Timestamp
    public var finishedAt: Timestamp?
    public var status: Status
    /// Where to resume: an opaque cursor (GHL's `searchAfter` array, as JSON).
    public var checkpoint: String?
    public var counts: [String: Int]
}

/// Counts for `leadsync stats`.
public struct StoreStats: Sendable, Equatable {
    public var contacts: Int
    public var inCallTools: Int
    public var createPending: Int
    public var markedCustomers: Int
    /// Contacts per managed bucket id.
    public var perBucket: [Int: Int]
}

extension LeadsyncDatabase {
    // MARK: Resolution cache

    /// Bucket and tag ids resolved earlier (`GET /api/buckets/`, `/api/alltags/`), merged over
    /// the ids the rules file gives directly.
    public func resolution(for rules: CompiledRules) throws(StoreError) -> Resolution {
        var r = Resolution.initial(for: rules)
        try read("read resolved ids") { db in
            let named = Set(
                rules.buckets.compactMap { b -> String? in
                    if case .name = b.reference { return b.name } else { return nil }
                })
            for row in try Row.fetchAll(db, sql: "SELECT name, calltools_id FROM \(bucketRows)") {
                let name: String = row["name"]
                if named.contains(name) { r.buckets[name] = row["calltools_id"] }
            }
            for row in try Row.fetchAll(db, sql: "SELECT folded_name, calltools_id FROM \(tagRows)") {
                r.tags[row["folded_name"]] = .some(row["calltools_id"] as Int?)
            }
        }
        return r
    }

    /// Remembers resolved ids. A tag resolved to nil is one CallTools does not have.
    public func saveResolution(buckets: [String: Int], tags: [String: Int?], at: Timestamp) throws(StoreError) {
        try run("save resolved ids") { db in
            for (name, id) in buckets {
                try db.execute(
                    sql:
                        "INSERT OR REPLACE INTO calltools_bucket (account, name, calltools_id, resolved_at) VALUES (?, ?, ?, ?)",
                    arguments: [account, name, id, at.milliseconds])
            }
            for (name, id) in tags {
                try db.execute(
                    sql:
                        """
                        INSERT OR REPLACE INTO calltools_tag (account, folded_name, name, calltools_id, resolved_at)
                        VALUES (?, ?, ?, ?, ?)
                        """,
                    arguments: [account, name.foldedForComparison, name, id, at.milliseconds])
            }
        }
    }

    // MARK: Sync runs

    /// Starts a run and returns its id.
    public func startRun(mode: String, at: Timestamp) throws(StoreError) -> Int64 {
        try run("start a sync run") { db in
            try db.execute(
                sql: "INSERT INTO sync_run (mode, started_at, status, location) VALUES (?, ?, 'running', ?)",
                arguments: [mode, at.milliseconds, location])
            return db.lastInsertedRowID
        }
    }

    /// Records how far a run got; a restarted run resumes from here.
    public func checkpoint(run id: Int64, cursor: String, counts: [String: Int]) throws(StoreError) {
        try run("checkpoint run \(id)") { db in
            try db.execute(
                sql: "UPDATE sync_run SET checkpoint = ?, counts = ? WHERE id = ?",
                arguments: [cursor, Self.encodeCounts(counts), id])
        }
    }

    public func finishRun(_ id: Int64, status: SyncRun.Status, counts: [String: Int], at: Timestamp) throws(StoreError)
    {
        try run("finish run \(id)") { db in
            try db.execute(
                sql: "UPDATE sync_run SET status = ?, counts = ?, finished_at = ? WHERE id = ?",
                arguments: [status.rawValue, Self.encodeCounts(counts), at.milliseconds, id])
        }
    }

    /// The most recent run of `mode` still marked running: one that a crash interrupted.
    public func interruptedRun(mode: String) throws(StoreError) -> SyncRun? {
        try read("read sync runs") { db in
            try Row.fetchOne(
                db,
                sql:
                    "SELECT * FROM sync_run WHERE mode = ? AND status = 'running' AND \(here()) ORDER BY id DESC LIMIT 1",
                arguments: [mode]
            ).map(Self.decodeRun)
        }
    }

    /// The most recent finished run (of `mode`, or any when nil): an incremental pass starts
    /// from its start time.
    /// The pass running now, if any (the latest run still marked running).
    public func runningRun() throws(StoreError) -> SyncRun? {
        try read("read sync runs") { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM sync_run WHERE status = 'running' AND \(here()) ORDER BY id DESC LIMIT 1"
            )
            .map(Self.decodeRun)
        }
    }

    public func lastFinishedRun(mode: String?) throws(StoreError) -> SyncRun? {
        try read("read sync runs") { db in
            if let mode {
                return try Row.fetchOne(
                    db,
                    sql:
                        "SELECT * FROM sync_run WHERE mode = ? AND status = 'finished' AND \(here()) ORDER BY id DESC LIMIT 1",
                    arguments: [mode]
                ).map(Self.decodeRun)
            }
            return try Row.fetchOne(
                db, sql: "SELECT * FROM sync_run WHERE status = 'finished' AND \(here()) ORDER BY id DESC LIMIT 1"
            )
            .map(Self.decodeRun)
        }
    }

    public func syncRun(_ id: Int64) throws(StoreError) -> SyncRun? {
        try read("read sync run \(id)") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM sync_run WHERE id = ? AND \(here())", arguments: [id]).map(
                Self.decodeRun)
        }
    }

    static func decodeRun(_ row: Row) -> SyncRun {
        var counts: [String: Int] = [:]
        if case .object(let o)? = try? JSONParser.parse(row["counts"] as String) {
            for e in o.entries { if case .number(let n) = e.value, let i = Int(exactly: n) { counts[e.key] = i } }
        }
        return SyncRun(
            id: row["id"], mode: row["mode"], startedAt: Timestamp(milliseconds: row["started_at"]),
            finishedAt: (row["finished_at"] as Int64?).map(Timestamp.init(milliseconds:)),
            status: SyncRun.Status(rawValue: row["status"]) ?? .failed, checkpoint: row["checkpoint"],
            counts: counts)
    }

    static func encodeCounts(_ counts: [String: Int]) -> String {
        JSONWriter.encode(
            .object(
                JSONObject(
                    counts.sorted { $0.key < $1.key }.map { .init(key: $0.key, value: .number(Double($0.value))) })))
    }

    // MARK: Stats

    /// GHL contacts leadsync has processed at least once (linked, skipped or excluded: every
    /// processed contact leaves a contact row or an audit entry).
    public func knownContactCount() throws(StoreError) -> Int {
        try read("count known contacts") { db in
            try Int.fetchOne(
                db,
                sql: """
                    SELECT COUNT(*) FROM (SELECT ghl_id FROM contact WHERE \(here())
                        UNION SELECT ghl_id FROM audit WHERE \(here()))
                    """) ?? 0
        }
    }

    public func stats() throws(StoreError) -> StoreStats {
        try read("read stats") { db in
            let contacts = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM contact WHERE \(here())") ?? 0
            let inCallTools =
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM contact WHERE calltools_id IS NOT NULL AND \(here())")
                ?? 0
            let pending =
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM contact WHERE create_pending AND \(here())") ?? 0
            let marked =
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM contact WHERE marked_customer AND \(here())") ?? 0
            var perBucket: [Int: Int] = [:]
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT value AS bucket, COUNT(*) AS n FROM contact, json_each(contact.buckets)
                    WHERE \(here("contact")) GROUP BY value
                    """
            ) {
                perBucket[row["bucket"]] = row["n"]
            }
            return StoreStats(
                contacts: contacts, inCallTools: inCallTools, createPending: pending, markedCustomers: marked,
                perBucket: perBucket)
        }
    }
}

extension LeadsyncDatabase {
    /// `leadsync stats --json` and `GET /sync/stats`: one object, the same in both.
    public func statsReport() throws(StoreError) -> JSON {
        let s = try stats()
        let inbox = try inboxCounts()
        let last = try lastFinishedRun(mode: nil)
        var o = JSONObject()
        o["contacts"] = .number(Double(s.contacts))
        o["in_calltools"] = .number(Double(s.inCallTools))
        o["create_pending"] = .number(Double(s.createPending))
        o["marked_customers"] = .number(Double(s.markedCustomers))
        o["buckets"] = .object(
            JSONObject(
                s.perBucket.sorted { $0.key < $1.key }.map {
                    .init(key: String($0.key), value: .number(Double($0.value)))
                }))
        let decisions = try decisionCounts()
        func counts(_ d: [String: Int]) -> JSON {
            .object(
                JSONObject(d.sorted { $0.key < $1.key }.map { .init(key: $0.key, value: .number(Double($0.value))) }))
        }
        o["by_rule"] = counts(decisions.byRule)
        o["by_exclusion"] = counts(decisions.byExclusion)
        o["queue_depth"] = .number(Double(inbox.pending + inbox.held))
        o["held_for_upstream"] = .number(Double(inbox.held))
        o["backlog_contacts"] = .number(Double(try backlogContacts()))
        o["dead_letters"] = .number(Double(inbox.dead))
        o["events_applied"] = .number(Double(inbox.done))
        o["last_sync"] =
            last.map { r in
                .object(
                    JSONObject([
                        "id": .number(Double(r.id)), "mode": .string(r.mode),
                        "finished_at": r.finishedAt.map { .string($0.iso8601) } ?? .null,
                    ]))
            } ?? .null
        return .object(o)
    }
}

extension LeadsyncDatabase {
    /// Contacts by the rules and exclusions of their latest recorded decision (`stats`): what
    /// the current state of the dialer is made of. Each decision's JSON (`audit.detail`) names them.
    public func decisionCounts() throws(StoreError) -> (byRule: [String: Int], byExclusion: [String: Int]) {
        try read("count decisions") { db in
            var byRule: [String: Int] = [:]
            var byExclusion: [String: Int] = [:]
            let cursor = try String.fetchCursor(
                db,
                sql: """
                    SELECT detail FROM audit WHERE id IN
                        (SELECT MAX(id) FROM audit WHERE kind = 'decision' AND \(here()) GROUP BY ghl_id)
                        AND detail IS NOT NULL
                    """)
            while let detail = try cursor.next() {
                guard case .object(let o)? = try? JSONParser.parse(detail) else { continue }
                let rules = o["rules"]?.arrayValue?.compactMap(\.stringValue) ?? []
                for r in rules.isEmpty ? ["(none)"] : rules { byRule[r, default: 0] += 1 }
                for e in o["excluded_by"]?.arrayValue?.compactMap(\.stringValue) ?? [] {
                    byExclusion[e, default: 0] += 1
                }
            }
            return (byRule, byExclusion)
        }
    }
}
