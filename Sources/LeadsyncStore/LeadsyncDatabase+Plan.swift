import GRDB
import LeadsyncSync
import LeadsyncValues

/// A stored contact as `plan` evaluates it: its last data and what CallTools holds.
public struct PlannedContact: Sendable {
    public var ghlId: String
    /// `Contact.snapshot` text.
    public var data: [UInt8]
    public var applied: AppliedState
    public var markedCustomer: Bool
    /// Its phone (E.164), when recorded.
    public var phone: String?
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
        guard hasData else { return }
        try run("record the live rules") { db in
            try db.execute(
                sql: """
                    INSERT INTO live_rules (id, path, hash, text, loaded_at) VALUES (1, ?, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET path = excluded.path, hash = excluded.hash, text = excluded.text,
                        loaded_at = excluded.loaded_at
                    """, arguments: [path, hash, text, at.milliseconds])
        }
    }

    public func liveRules() throws(StoreError) -> LiveRulesRecord? {
        guard hasData else { return nil }
        return try read("read the live rules") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM live_rules WHERE id = 1").map {
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
        guard hasData else { return }
        var after = ""
        while true {
            let rows: [PlannedContact] = try read("read contacts to plan") { db in
                try Row.fetchAll(
                    db.cachedStatement(
                        sql: """
                            SELECT d.ghl_id AS d_id, d.data, c.*, p.phone
                            FROM contact_data d LEFT JOIN contact c ON c.ghl_id = d.ghl_id
                            LEFT JOIN contact_phone p ON p.ghl_id = d.ghl_id
                            WHERE d.ghl_id > ? ORDER BY d.ghl_id LIMIT ?
                            """), arguments: [after, batch]
                ).map { row in
                    let id: String = row["d_id"]
                    let data: String = row["data"]
                    let hasRow = (row["ghl_id"] as String?) != nil
                    let stored =
                        hasRow
                        ? Self.decode(row) : StoredContact(ghlId: id, applied: .new, markedCustomer: false)
                    return PlannedContact(
                        ghlId: id, data: Array(data.utf8), applied: stored.applied,
                        markedCustomer: stored.markedCustomer, phone: row["phone"])
                }
            }
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

    /// The CallTools ids the store knows for bucket and tag names (`plan` counts a resolve
    /// call for each name it lacks).
    public func knownIds() throws(StoreError) -> (buckets: [String: Int], tags: [String: Int?]) {
        try read("read the known ids") { db in
            var buckets: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT name, calltools_id FROM bucket_id") {
                buckets[row["name"]] = row["calltools_id"]
            }
            var tags: [String: Int?] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT folded_name, calltools_id FROM tag_id") {
                tags[row["folded_name"]] = .some(row["calltools_id"])
            }
            return (buckets, tags)
        }
    }
}
