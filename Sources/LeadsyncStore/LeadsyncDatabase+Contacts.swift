import GRDB
import LeadsyncCore
import LeadsyncSync
import LeadsyncValues

/// What the store knows of one GHL contact.
public struct StoredContact: Sendable, Equatable {
    public var ghlId: String
    public var applied: AppliedState
    public var markedCustomer: Bool
    /// When the pending create intent was recorded (`applied.createPending`), else nil.
    public var pendingSince: Timestamp?
    /// The contact's phone and the exclusions that hold for it (`PhoneRecord`).
    public var phone: PhoneRecord?
    /// How new the data behind the applied state is: the GHL timestamp of the newest event
    /// applied, or when the contact was last read from GHL (nil: never recorded).
    public var seenAt: Timestamp?
    /// The earliest the data behind the applied state can be from (`seen_from`): `seenAt`, but
    /// for a search page its request time less GHL's index lag. Nil: never recorded.
    public var seenFrom: Timestamp?
    /// The hash of the stored snapshot of its data (`Contact.snapshot`), nil when none.
    public var dataHash: Int64?

    public init(
        ghlId: String, applied: AppliedState, markedCustomer: Bool, pendingSince: Timestamp? = nil,
        seenAt: Timestamp? = nil, seenFrom: Timestamp? = nil
    ) {
        self.ghlId = ghlId
        self.applied = applied
        self.markedCustomer = markedCustomer
        self.pendingSince = pendingSince
        self.seenAt = seenAt
        self.seenFrom = seenFrom
    }
}

/// One line of a contact's audit trail.
public struct AuditEntry: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// A decision with its trace.
        case decision
        /// An upstream call: method, path, status, latency.
        case call
        /// What the contact's processing ended in.
        case outcome
        /// The customer mark changed.
        case mark
        /// The contact was read again from GHL before dialing: its source may have left out a
        /// field the rules read (`ContactSource.mayOmit`), and what the read found.
        case reread
    }
    public var at: Timestamp
    public var kind: Kind
    public var summary: String
    /// JSON detail (the decision object, the request body...), when there is one.
    public var detail: String?

    public init(at: Timestamp, kind: Kind, summary: String, detail: String? = nil) {
        self.at = at
        self.kind = kind
        self.summary = summary
        self.detail = detail
    }
}

extension LeadsyncDatabase {
    func run<T>(_ operation: String, _ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try writer.write(body)
        } catch {
            throw StoreError(operation: operation, underlying: error)
        }
    }

    func read<T>(_ operation: String, _ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try writer.read(body)
        } catch {
            throw StoreError(operation: operation, underlying: error)
        }
    }

    /// The contact's applied state and mark; a contact never seen is `.new` and unmarked.
    public func contact(_ ghlId: String) throws(StoreError) -> StoredContact {
        try read("read contact \(ghlId)") { db in
            let phone =
                hasPhones
                ? try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT * FROM contact_phone WHERE ghl_id = ?"), arguments: [ghlId]
                ).map(Self.decodePhone) : nil
            let dataHash: Int64? =
                hasData
                ? try Int64.fetchOne(
                    db.cachedStatement(sql: "SELECT hash FROM contact_data WHERE ghl_id = ? AND \(here())"),
                    arguments: [ghlId])
                : nil
            // Cached statements: a pass reads every contact this way.
            guard
                let row = try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT * FROM contact WHERE ghl_id = ? AND \(here())"), arguments: [ghlId])
            else {
                var fresh = StoredContact(ghlId: ghlId, applied: .new, markedCustomer: false)
                fresh.phone = phone
                fresh.dataHash = dataHash
                return fresh
            }
            var stored = Self.decode(row)
            stored.phone = phone
            stored.dataHash = dataHash
            return stored
        }
    }

    /// Records, durably, that a CallTools create is about to be sent. If the process dies before
    /// `recordOutcome`, the next plan sees `createPending` and looks the contact up by phone
    /// instead of creating a second one.
    public func recordCreateIntent(_ ghlId: String, at: Timestamp) throws(StoreError) {
        try run("record create intent for \(ghlId)") { db in
            try db.execute(
                sql: """
                    INSERT INTO contact (ghl_id, create_pending, updated_at, location) VALUES (?, 1, ?, ?)
                    ON CONFLICT(ghl_id) DO UPDATE SET create_pending = 1, updated_at = excluded.updated_at
                    WHERE location = excluded.location
                    """, arguments: [ghlId, at.milliseconds, location])
        }
    }

    /// Everything one processing of a contact leaves, in one transaction: the state CallTools now
    /// holds (nil: unchanged), the audit entries that explain it, and the inbox events it
    /// applied. Nothing to record writes nothing.
    /// `phone`: the contact's phone record, when it changed (`.some(nil)` forgets it).
    /// `seenAt`: how new the data this outcome was decided on is; `seenFrom`: the earliest it can
    /// be from (`seenAt` when not given). The stored values only grow.
    public func recordOutcome(
        _ ghlId: String, state: AppliedState?, audit: [AuditEntry], completing inboxEvents: [Int64],
        phone: PhoneRecord?? = nil, seenAt: Timestamp? = nil, seenFrom: Timestamp? = nil,
        data: (text: String, hash: Int64)? = nil, at: Timestamp
    ) throws(StoreError) {
        guard state != nil || !audit.isEmpty || !inboxEvents.isEmpty || phone != nil || data != nil else { return }
        try run("record the outcome for \(ghlId)") { db in
            if let data, hasData {
                try db.execute(
                    sql: """
                        INSERT INTO contact_data (ghl_id, data, hash, updated_at, location) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT(ghl_id) DO UPDATE SET data = excluded.data, hash = excluded.hash,
                            updated_at = excluded.updated_at
                        WHERE location = excluded.location
                        """, arguments: [ghlId, data.text, data.hash, at.milliseconds, location])
            }
            if let state { try upsertApplied(db, ghlId, state, at: at) }
            if let seenAt {
                let from = min(seenFrom ?? seenAt, seenAt)
                try db.execute(
                    sql: """
                        INSERT INTO contact (ghl_id, updated_at, seen_at, seen_from, location) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT(ghl_id) DO UPDATE SET
                            seen_at = max(coalesce(seen_at, excluded.seen_at), excluded.seen_at),
                            seen_from = max(coalesce(seen_from, excluded.seen_from), excluded.seen_from)
                        WHERE location = excluded.location
                        """, arguments: [ghlId, at.milliseconds, seenAt.milliseconds, from.milliseconds, location])
            }
            if let phone { try writePhone(db, ghlId, phone, at: at) }
            try insertAudit(db, ghlId, audit)
            if !inboxEvents.isEmpty { try Self.markInboxDone(db, inboxEvents, at: at) }
        }
    }

    /// Writes the contact's applied state. A row of another location is left alone (GHL ids are
    /// unique across locations, so only a forged event could name one).
    func upsertApplied(_ db: Database, _ ghlId: String, _ state: AppliedState, at: Timestamp) throws {
        try db.execute(
            sql: """
                INSERT INTO contact (ghl_id, calltools_id, create_pending, fields, buckets, tags, updated_at, location)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(ghl_id) DO UPDATE SET calltools_id = excluded.calltools_id,
                    create_pending = excluded.create_pending, fields = excluded.fields,
                    buckets = excluded.buckets, tags = excluded.tags, updated_at = excluded.updated_at
                WHERE location = excluded.location
                """,
            arguments: [
                ghlId, state.calltoolsId, state.createPending, Self.encodeFields(state.fields),
                Self.encodeBuckets(state.buckets), Self.encodeTags(state.tags), at.milliseconds, location,
            ])
    }

    /// Sets or clears the customer mark (`leadsync mark-customer [--undo]`, or a rule's
    /// `mark_customer`).
    public func setMarkedCustomer(_ ghlId: String, _ marked: Bool, at: Timestamp, reason: String) throws(StoreError) {
        try run("mark \(ghlId)") { db in
            try db.execute(
                sql: """
                    INSERT INTO contact (ghl_id, marked_customer, updated_at, location) VALUES (?, ?, ?, ?)
                    ON CONFLICT(ghl_id) DO UPDATE SET marked_customer = excluded.marked_customer,
                        updated_at = excluded.updated_at
                    WHERE location = excluded.location
                    """, arguments: [ghlId, marked, at.milliseconds, location])
            try insertAudit(
                db, ghlId,
                [
                    AuditEntry(
                        at: at, kind: .mark,
                        summary: (marked ? "marked a customer" : "customer mark removed") + ": \(reason)")
                ])
        }
    }

    /// The summary of the last decision recorded for the contact: an executor skips recording a
    /// decision that reads the same and caused no call, so the trail records changes.
    public func lastDecisionSummary(_ ghlId: String) throws(StoreError) -> String? {
        try read("read audit of \(ghlId)") { db in
            try String.fetchOne(
                db,
                sql: """
                    SELECT summary FROM audit WHERE ghl_id = ? AND kind = 'decision' AND \(here())
                    ORDER BY id DESC LIMIT 1
                    """,
                arguments: [ghlId])
        }
    }

    /// The contact's audit trail, oldest first.
    public func auditTrail(_ ghlId: String) throws(StoreError) -> [AuditEntry] {
        try read("read audit of \(ghlId)") { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM audit WHERE ghl_id = ? AND \(here()) ORDER BY id", arguments: [ghlId]
            ).map {
                row in
                AuditEntry(
                    at: Timestamp(milliseconds: row["at"]), kind: AuditEntry.Kind(rawValue: row["kind"]) ?? .outcome,
                    summary: row["summary"], detail: row["detail"])
            }
        }
    }

    func insertAudit(_ db: Database, _ ghlId: String, _ entries: [AuditEntry]) throws {
        for e in entries {
            try db.execute(
                sql: "INSERT INTO audit (ghl_id, at, kind, summary, detail, location) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [ghlId, e.at.milliseconds, e.kind.rawValue, e.summary, e.detail, location])
        }
    }

    /// Contacts with a create intent still pending (a create whose outcome is not known yet),
    /// oldest first: a pass comes back to them before it ends.
    public func pendingCreateIds(limit: Int = 10_000) throws(StoreError) -> [String] {
        try read("list pending creates") { db in
            try String.fetchAll(
                db,
                sql: "SELECT ghl_id FROM contact WHERE create_pending = 1 AND \(here()) ORDER BY updated_at LIMIT ?",
                arguments: [limit])
        }
    }

    // MARK: Encoding (JSON text columns, written with the core's JSON so they read back exactly)

    static func decode(_ row: Row, updatedAt: String = "updated_at") -> StoredContact {
        let applied = decodeApplied(
            calltoolsId: row["calltools_id"], createPending: row["create_pending"], fields: row["fields"],
            buckets: row["buckets"], tags: row["tags"])
        // While a create is pending only the intent and the mark touch the row: updated_at is the
        // intent's time, or later (which only makes the executor wait longer).
        return StoredContact(
            ghlId: row["ghl_id"], applied: applied, markedCustomer: row["marked_customer"],
            pendingSince: applied.createPending ? Timestamp(milliseconds: row[updatedAt]) : nil,
            seenAt: (row["seen_at"] as Int64?).map(Timestamp.init(milliseconds:)),
            seenFrom: (row["seen_from"] as Int64?).map(Timestamp.init(milliseconds:)))
    }

    /// The applied state from its columns (the JSON texts as stored).
    static func decodeApplied(
        calltoolsId: Int?, createPending: Bool, fields: String, buckets: String, tags: String
    ) -> AppliedState {
        var applied = AppliedState()
        applied.calltoolsId = calltoolsId
        applied.createPending = createPending
        if fields != "{}", case .object(let o)? = try? JSONParser.parse(fields) {
            for e in o.entries { if let v = e.value.stringValue { applied.fields[e.key] = v } }
        }
        if buckets != "[]", case .array(let a)? = try? JSONParser.parse(buckets) {
            applied.buckets = Set(a.compactMap { if case .number(let n) = $0 { Int(exactly: n) } else { nil } })
        }
        if tags != "{}", case .object(let o)? = try? JSONParser.parse(tags) {
            for e in o.entries { if let id = Int(e.key), case .bool(let b) = e.value { applied.tags[id] = b } }
        }
        return applied
    }

    static func encodeFields(_ fields: [String: String]) -> String {
        JSONWriter.encode(
            .object(JSONObject(fields.sorted { $0.key < $1.key }.map { .init(key: $0.key, value: .string($0.value)) })))
    }

    static func encodeBuckets(_ buckets: Set<Int>) -> String {
        JSONWriter.encode(.array(buckets.sorted().map { .number(Double($0)) }))
    }

    static func encodeTags(_ tags: [Int: Bool]) -> String {
        JSONWriter.encode(
            .object(
                JSONObject(tags.sorted { $0.key < $1.key }.map { .init(key: String($0.key), value: .bool($0.value)) })))
    }
}
