import GRDB
import LeadsyncSync
import LeadsyncValues

/// A stored contact as `plan` evaluates it: its last data and what CallTools holds.
public struct PlannedContact: Sendable {
    public var ghlId: String
    /// `Contact.snapshot` text.
    public var data: [UInt8]
    public var markedCustomer: Bool
    /// Its phone (E.164), when recorded.
    public var phone: String?
    /// The applied state's columns, decoded by `applied` (on the caller's core, not the reader's).
    let calltoolsId: Int?
    let createPending: Bool
    let fields: String
    let buckets: String
    let tags: String

    /// What CallTools holds for it, as far as the store knows.
    public var applied: AppliedState {
        LeadsyncDatabase.decodeApplied(
            calltoolsId: calltoolsId, createPending: createPending, fields: fields, buckets: buckets, tags: tags)
    }
}

/// The rules a server or a `sync` last ran (what `plan` compares a new file against).
public struct LiveRulesRecord: Sendable, Equatable {
    public var path: String
    public var hash: String
    public var text: String
    public var loadedAt: Timestamp
}

extension LeadsyncDatabase {
    /// Records the rules now live (one row, replaced).
    public func setLiveRules(path: String, hash: String, text: String, at: Timestamp) throws(StoreError) {
        guard hasLocations else { return }
        try run("record the live rules") { db in
            try db.execute(
                sql: """
                    INSERT INTO live_rules_at (location, path, hash, text, loaded_at) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT(location) DO UPDATE SET path = excluded.path, hash = excluded.hash,
                        text = excluded.text, loaded_at = excluded.loaded_at
                    """, arguments: [location, path, hash, text, at.milliseconds])
        }
    }

    public func liveRules() throws(StoreError) -> LiveRulesRecord? {
        guard hasData else { return nil }
        return try read("read the live rules") { db in
            try Row.fetchOne(
                db,
                sql: hasLocations
                    ? "SELECT * FROM live_rules_at WHERE location = \(Self.literal(location))"
                    : "SELECT * FROM live_rules WHERE id = 1"
            ).map {
                LiveRulesRecord(
                    path: $0["path"], hash: $0["hash"], text: $0["text"],
                    loadedAt: Timestamp(milliseconds: $0["loaded_at"]))
            }
        }
    }

    /// Every contact with stored data, in id order, `batch` at a time (memory stays flat however
    /// many there are). `body` returns false to stop.
    public func forEachPlannedContact(
        batch: Int = 2000, _ body: ([PlannedContact]) throws -> Bool
    ) throws(StoreError) {
        var after = ""
        while true {
            let rows = try plannedContacts(after: after, limit: batch)
            guard let last = rows.last else { return }
            after = last.ghlId
            let more: Bool
            do {
                more = try body(rows)
            } catch {
                throw StoreError(operation: "plan", underlying: error)
            }
            if !more || rows.count < batch { return }
        }
    }

    /// Up to `limit` contacts with stored data whose id sorts after `after`, in id order.
    public func plannedContacts(after: String, limit: Int) throws(StoreError) -> [PlannedContact] {
        guard hasData else { return [] }
        return try read("read contacts to plan") { db in
            // A cursor, columns by index: no row copied, no column looked up by name.
            let cursor = try Row.fetchCursor(
                db.cachedStatement(
                    sql: """
                        SELECT d.ghl_id, d.data, c.marked_customer, p.phone, c.calltools_id, c.create_pending,
                            c.fields, c.buckets, c.tags
                        FROM contact_data d LEFT JOIN contact c ON c.ghl_id = d.ghl_id
                        LEFT JOIN contact_phone p ON p.ghl_id = d.ghl_id
                        WHERE d.ghl_id > ? AND \(here("d")) ORDER BY d.ghl_id LIMIT ?
                        """), arguments: [after, limit])
            var out: [PlannedContact] = []
            out.reserveCapacity(limit)
            while let row = try cursor.next() {
                let data: String = row[1]
                out.append(
                    PlannedContact(
                        ghlId: row[0], data: Array(data.utf8), markedCustomer: row[2] ?? false, phone: row[3],
                        calltoolsId: row[4], createPending: row[5] ?? false, fields: row[6] ?? "{}",
                        buckets: row[7] ?? "[]", tags: row[8] ?? "{}"))
            }
            return out
        }
    }

    /// Phones that two or more stored contacts share (only their exclusions can hold for
    /// another contact; usually few).
    public func sharedPhones() throws(StoreError) -> Set<String> {
        guard hasPhones else { return [] }
        return try read("read the shared phones") { db in
            Set(
                try String.fetchAll(
                    db, sql: "SELECT phone FROM contact_phone WHERE \(inAccount()) GROUP BY phone HAVING COUNT(*) > 1"))
        }
    }

    /// The CallTools ids the store knows for bucket and tag names (`plan` counts a resolve
    /// call for each name it lacks).
    public func knownIds() throws(StoreError) -> (buckets: [String: Int], tags: [String: Int?]) {
        try read("read the known ids") { db in
            var buckets: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT name, calltools_id FROM \(bucketRows)") {
                buckets[row["name"]] = row["calltools_id"]
            }
            var tags: [String: Int?] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT folded_name, calltools_id FROM \(tagRows)") {
                tags[row["folded_name"]] = .some(row["calltools_id"])
            }
            return (buckets, tags)
        }
    }
}

extension LeadsyncDatabase {
    /// Writes many contacts' data and applied state at once, one transaction per call (the
    /// plan benchmark builds a database of a million contacts this way; a pass writes them one
    /// by one through `recordOutcome`).
    public func seedContacts(
        _ rows: [(ghlId: String, data: String, applied: AppliedState, phone: String?)], at: Timestamp
    ) throws(StoreError) {
        try run("seed contacts") { db in
            for r in rows {
                try upsertApplied(db, r.ghlId, r.applied, at: at)
                try db.execute(
                    sql: """
                        INSERT OR REPLACE INTO contact_data (ghl_id, data, hash, updated_at, location)
                        VALUES (?, ?, ?, ?, ?)
                        """,
                    arguments: [r.ghlId, r.data, 0, at.milliseconds, location])
                if let phone = r.phone {
                    try writePhone(db, r.ghlId, PhoneRecord(phone: phone, exclusions: [], complete: true), at: at)
                }
            }
        }
    }
}
