import GRDB
import LeadsyncCore
import LeadsyncValues

/// A webhook as the server accepted it, waiting for (or done with) processing.
public struct InboxEvent: Sendable, Equatable {
    public enum Status: String, Sendable {
        /// Waiting for a worker (or for its next attempt).
        case pending
        /// Applied (or found to need nothing).
        case done
        /// Gave up after the allowed attempts, or failed in a way a retry cannot fix; `replay` requeues.
        case dead
        /// Waiting for an upstream that is down (its circuit breaker is open): no attempt is
        /// spent; released to `pending` when the breaker closes or the server starts.
        case held
    }
    public var seq: Int64
    public var webhookId: String?
    public var contactId: String
    public var eventType: String
    /// `marketplace` or `workflow`.
    public var source: String
    /// The raw body, exactly as received (UTF-8 JSON).
    public var body: String
    public var receivedAt: Timestamp
    public var status: Status
    public var attempts: Int
    public var nextAttemptAt: Timestamp
    public var lastError: String?
    /// Times a process died while applying it (`recoverInterruptedInboxEvents`).
    public var deaths = 0
}

/// Inbox counts for `stats`, `/sync/stats` and the queue-depth gauge.
public struct InboxCounts: Sendable, Equatable {
    public var pending = 0
    public var dead = 0
    public var done = 0
    /// Held for an upstream that is down (not yet applied, like `pending`).
    public var held = 0
    public init() {}
}

extension LeadsyncDatabase {
    /// Commits `events` in one transaction (one fsync for all: the server's group commit) and
    /// says for each whether it was new (`true`) or a `webhookId` already in the inbox (`false`).
    /// Throws when nothing could be committed; then none of them is stored.
    public func enqueue(_ events: [NewInboxEvent], at: Timestamp) async throws(StoreError) -> [Bool] {
        do {
            return try await writer.write { db in
                let insert = try db.cachedStatement(
                    sql: """
                        INSERT INTO inbox (webhook_id, contact_id, event_type, source, body, received_at, next_attempt_at,
                            location)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(webhook_id) DO NOTHING
                        """)
                var accepted: [Bool] = []
                accepted.reserveCapacity(events.count)
                for e in events {
                    try insert.execute(arguments: [
                        e.webhookId, e.contactId, e.eventType, e.source, e.body, at.milliseconds, at.milliseconds,
                        location,
                    ])
                    accepted.append(db.changesCount > 0)
                }
                return accepted
            }
        } catch {
            throw StoreError(operation: "store \(events.count) webhook event(s)", underlying: error)
        }
    }

    /// Contacts with pending events due by `now`, oldest first, leaving out `busy` ones. Walks
    /// pending events in arrival order (an index) and stops once it has `limit` contacts, so the
    /// cost does not grow with the backlog.
    public func dueInboxContacts(
        now: Timestamp, excluding busy: Set<String>, limit: Int
    ) throws(StoreError)
        -> [String]
    {
        try read("read the inbox") { db in
            var found: [String] = []
            var seen = busy
            var after: Int64 = 0
            let chunk = 256
            // Bounded: a contact with thousands of events in flight is skipped a chunk at a time.
            for _ in 0..<16 {
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT seq, contact_id, next_attempt_at FROM inbox \(dueIndex)
                        WHERE status = 'pending' AND seq > ? AND \(here()) ORDER BY seq LIMIT ?
                        """, arguments: [after, chunk])
                for row in rows {
                    after = row["seq"]
                    let contact: String = row["contact_id"]
                    guard (row["next_attempt_at"] as Int64) <= now.milliseconds, seen.insert(contact).inserted
                    else { continue }
                    found.append(contact)
                    if found.count == limit { return found }
                }
                if rows.count < chunk { break }
            }
            return found
        }
    }

    /// Every event of one contact not yet applied, pending or held, in arrival order (the worker
    /// coalesces them: a held event is never applied after a newer one).
    public func pendingInboxEvents(contact: String) throws(StoreError) -> [InboxEvent] {
        try read("read the inbox for \(contact)") { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM inbox WHERE contact_id = ? AND status IN ('pending', 'held') AND \(here())
                    ORDER BY seq
                    """,
                arguments: [contact]
            ).map(Self.decodeEvent)
        }
    }

    /// Events of one contact, newest first (for `explain`).
    public func inboxEvents(contact: String, limit: Int = 50) throws(StoreError) -> [InboxEvent] {
        try read("read the inbox for \(contact)") { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM inbox WHERE contact_id = ? AND \(here()) ORDER BY seq DESC LIMIT ?",
                arguments: [contact, limit]
            ).map(Self.decodeEvent)
        }
    }

    /// Dead letters, oldest first.
    public func deadLetters(limit: Int = 1000) throws(StoreError) -> [InboxEvent] {
        try read("read dead letters") { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM inbox WHERE status = 'dead' AND \(here()) ORDER BY seq LIMIT ?",
                arguments: [limit]
            )
            .map(Self.decodeEvent)
        }
    }

    public func inboxEvent(_ seq: Int64) throws(StoreError) -> InboxEvent? {
        try read("read inbox event \(seq)") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM inbox WHERE seq = ? AND \(here())", arguments: [seq]).map(
                Self.decodeEvent)
        }
    }

    /// Counts one more failed attempt for `seqs`. Those that reached `maxAttempts`, or all of them
    /// when `permanent`, become dead letters; the others wait until `retryAt`. Returns how many died.
    @discardableResult
    /// `spendsAttempt: false` reschedules without counting an attempt (a contact waiting for an
    /// earlier create to settle is not failing: it is never dead-lettered for that).
    /// `expiresBefore`: events received before this instant are past the retry window and die
    /// on this failure too (nil: no window).
    public func failInboxEvents(
        _ seqs: [Int64], error: String, permanent: Bool, retryAt: Timestamp, maxAttempts: Int?, at: Timestamp,
        spendsAttempt: Bool = true, expiresBefore: Timestamp? = nil
    ) throws(StoreError) -> Int {
        guard !seqs.isEmpty else { return 0 }
        let step = spendsAttempt ? 1 : 0
        let limit = maxAttempts ?? Int.max
        // A wait that spends no attempt (a create settling) never expires the event either.
        let expiry = spendsAttempt ? (expiresBefore?.milliseconds ?? Int64.min) : Int64.min
        return try run("record a failed attempt") { db in
            let dies = "(? OR attempts + ? >= ? OR received_at < ?)"
            try db.execute(
                sql: """
                    UPDATE inbox SET attempts = attempts + ?, last_error = ?, next_attempt_at = ?, held_by = NULL,
                        started_at = NULL,
                        status = CASE WHEN \(dies) THEN 'dead' ELSE 'pending' END,
                        finished_at = CASE WHEN \(dies) THEN ? ELSE NULL END
                    WHERE seq IN \(Self.list(seqs))
                    """,
                arguments: [
                    step, error, retryAt.milliseconds, permanent, step, limit, expiry, permanent, step, limit, expiry,
                    at.milliseconds,
                ])
            return try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM inbox WHERE status = 'dead' AND seq IN \(Self.list(seqs))") ?? 0
        }
    }

    /// Holds events while `upstream` is down: status `held`, no attempt spent, out of the
    /// workers' way until `releaseHeldInboxEvents`.
    public func holdInboxEvents(_ seqs: [Int64], upstream: String, error: String) throws(StoreError) {
        guard !seqs.isEmpty else { return }
        try run("hold events for \(upstream)") { db in
            try db.execute(
                sql: """
                    UPDATE inbox SET status = 'held', held_by = ?, last_error = ?, started_at = NULL
                    WHERE seq IN \(Self.list(seqs)) AND status IN ('pending', 'held')
                    """, arguments: [upstream, error])
        }
    }

    /// Marks `seqs` as being applied, before anything is sent for them. Durable against the
    /// process dying (a WAL commit; not synced to the disk, which only a power cut would need):
    /// `recoverInterruptedInboxEvents` finds them on the next start.
    public func markInboxStarted(_ seqs: [Int64], at: Timestamp) throws(StoreError) {
        guard !seqs.isEmpty else { return }
        do {
            try writer.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
                defer { try? db.execute(sql: "PRAGMA synchronous = FULL") }
                try db.inTransaction {
                    try db.execute(
                        sql: "UPDATE inbox SET started_at = ? WHERE seq IN \(Self.list(seqs))",
                        arguments: [at.milliseconds])
                    return .commit
                }
            }
        } catch {
            throw StoreError(operation: "mark events as started", underlying: error)
        }
    }

    /// Unmarks `seqs` (processing was cancelled by a shutdown: not a death).
    public func clearInboxStarted(_ seqs: [Int64]) throws(StoreError) {
        guard !seqs.isEmpty else { return }
        try run("unmark events") { db in
            try db.execute(sql: "UPDATE inbox SET started_at = NULL WHERE seq IN \(Self.list(seqs))")
        }
    }

    /// At start: events still marked as being applied were being applied when the process died.
    /// Each gets one more death; at `maxDeaths` it becomes a dead letter ("the process died while
    /// applying this event"). Returns how many were found and how many died.
    @discardableResult
    public func recoverInterruptedInboxEvents(
        maxDeaths: Int, at: Timestamp
    ) throws(StoreError) -> (
        interrupted: Int, died: Int
    ) {
        try run("recover events interrupted by a crash") { db in
            let interrupted =
                try Int.fetchOne(
                    db,
                    sql: """
                        SELECT COUNT(*) FROM inbox WHERE started_at IS NOT NULL AND status IN ('pending', 'held')
                            AND \(here())
                        """)
                ?? 0
            guard interrupted > 0 else { return (0, 0) }
            try db.execute(
                sql: """
                    UPDATE inbox SET deaths = deaths + 1, started_at = NULL,
                        status = CASE WHEN deaths + 1 >= ? THEN 'dead' ELSE status END,
                        finished_at = CASE WHEN deaths + 1 >= ? THEN ? ELSE finished_at END,
                        last_error = CASE WHEN deaths + 1 >= ?
                            THEN 'the process died while applying this event (' || (deaths + 1) || ' times)'
                            ELSE last_error END
                    WHERE started_at IS NOT NULL AND status IN ('pending', 'held') AND \(here())
                    """, arguments: [maxDeaths, maxDeaths, at.milliseconds, maxDeaths])
            let died =
                try Int.fetchOne(
                    db,
                    sql:
                        """
                        SELECT COUNT(*) FROM inbox WHERE status = 'dead' AND finished_at = ?
                            AND last_error LIKE 'the process died%' AND \(here())
                        """,
                    arguments: [at.milliseconds]) ?? 0
            return (interrupted, died)
        }
    }

    /// Contacts with pending events that were in flight when the process died: applied one at a
    /// time at start, so an event that kills the process cannot take others down with it.
    public func suspectInboxContacts(limit: Int = 1000) throws(StoreError) -> [String] {
        try read("read suspect events") { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT contact_id FROM inbox WHERE status = 'pending' AND deaths > 0 AND \(here())
                    GROUP BY contact_id ORDER BY MIN(seq) LIMIT ?
                    """, arguments: [limit])
        }
    }

    /// Makes held events pending again, due at `at` (those held for `upstream`, or all): their
    /// upstream is back, or the server just started. Returns how many.
    @discardableResult
    public func releaseHeldInboxEvents(upstream: String? = nil, at: Timestamp) throws(StoreError) -> Int {
        try run("release held events") { db in
            var sql =
                "UPDATE inbox SET status = 'pending', held_by = NULL, next_attempt_at = ? WHERE status = 'held' AND \(here())"
            var args: [any DatabaseValueConvertible] = [at.milliseconds]
            if let upstream {
                sql += " AND held_by = ?"
                args.append(upstream)
            }
            try db.execute(sql: sql, arguments: StatementArguments(args))
            return db.changesCount
        }
    }

    /// Requeues dead letters: all, one (`seq`), or those received since an instant. Returns how many.
    public func replayDeadLetters(seq: Int64? = nil, since: Timestamp? = nil, at: Timestamp) throws(StoreError) -> Int {
        try run("requeue dead letters") { db in
            var sql =
                "UPDATE inbox SET status = 'pending', attempts = 0, deaths = 0, next_attempt_at = ?, finished_at = NULL"
            sql += " WHERE status = 'dead' AND \(here())"
            var args: [any DatabaseValueConvertible] = [at.milliseconds]
            if let seq {
                sql += " AND seq = ?"
                args.append(seq)
            }
            if let since {
                sql += " AND received_at >= ?"
                args.append(since.milliseconds)
            }
            try db.execute(sql: sql, arguments: StatementArguments(args))
            return db.changesCount
        }
    }

    /// Forgets applied events received before `before` (their `webhookId`s stop de-duplicating);
    /// pending events and dead letters are kept. Returns how many rows went.
    @discardableResult
    public func pruneInbox(before: Timestamp) throws(StoreError) -> Int {
        try run("prune the inbox") { db in
            try db.execute(
                sql: "DELETE FROM inbox WHERE status = 'done' AND received_at < ? AND \(here())",
                arguments: [before.milliseconds])
            return db.changesCount
        }
    }

    public func inboxCounts() throws(StoreError) -> InboxCounts {
        try read("count the inbox") { db in
            var counts = InboxCounts()
            for row in try Row.fetchAll(
                db, sql: "SELECT status, COUNT(*) AS n FROM inbox WHERE \(here()) GROUP BY status")
            {
                switch row["status"] as String {
                case "pending": counts.pending = row["n"]
                case "dead": counts.dead = row["n"]
                case "done": counts.done = row["n"]
                case "held": counts.held = row["n"]
                default: break
                }
            }
            return counts
        }
    }

    /// Distinct contacts with pending or held events: the backlog, one unit of work each
    /// (their events coalesce). Read by `stats` only: `/readyz` and `/metrics` need not pay it.
    public func backlogContacts() throws(StoreError) -> Int {
        try read("count the backlog") { db in
            try Int.fetchOne(
                db,
                sql: "SELECT COUNT(DISTINCT contact_id) FROM inbox WHERE status IN ('pending', 'held') AND \(here())")
                ?? 0
        }
    }

    /// Marks events applied, inside the caller's transaction.
    static func markInboxDone(_ db: Database, _ seqs: [Int64], at: Timestamp) throws {
        try db.execute(
            sql: """
                UPDATE inbox SET status = 'done', finished_at = ?, last_error = NULL, started_at = NULL
                WHERE seq IN \(list(seqs))
                """,
            arguments: [at.milliseconds])
    }

    static func list(_ seqs: [Int64]) -> String {
        "(" + seqs.map(String.init).joined(separator: ",") + ")"
    }

    static func decodeEvent(_ row: Row) -> InboxEvent {
        InboxEvent(
            seq: row["seq"], webhookId: row["webhook_id"], contactId: row["contact_id"], eventType: row["event_type"],
            source: row["source"], body: row["body"], receivedAt: Timestamp(milliseconds: row["received_at"]),
            status: InboxEvent.Status(rawValue: row["status"]) ?? .pending, attempts: row["attempts"],
            nextAttemptAt: Timestamp(milliseconds: row["next_attempt_at"]), lastError: row["last_error"],
            deaths: row["deaths"] ?? 0)
    }
}
