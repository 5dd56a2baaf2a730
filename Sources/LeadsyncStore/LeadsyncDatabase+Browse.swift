import GRDB
import LeadsyncValues

/// A contact found by the operator page's search.
public struct ContactHit: Sendable, Equatable {
    public var ghlId: String
    public var name: String?
    public var phone: String?
    /// Managed CallTools bucket ids it is in now.
    public var buckets: [Int]
    public var updatedAt: Timestamp
}

/// Reads for the operator page (`/ui`): bounded, indexed where the table is large.
extension LeadsyncDatabase {
    /// The newest passes first.
    public func recentRuns(limit: Int = 20) throws(StoreError) -> [SyncRun] {
        try read("list sync runs") { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM sync_run WHERE \(here()) ORDER BY id DESC LIMIT ?", arguments: [limit]
            )
            .map(Self.decodeRun)
        }
    }

    /// Contacts by GHL id (exact, then prefix), phone (digits anywhere in the normalised
    /// number) or name and email (every word of the query, case-insensitive), at most `limit`.
    public func searchContacts(_ query: String, limit: Int = 50) throws(StoreError) -> [ContactHit] {
        let q = query.trimmedASCII
        guard !q.isEmpty else { return [] }
        let digits = String(q.unicodeScalars.filter { $0.value >= 48 && $0.value <= 57 }.map(Character.init))
        // LIKE patterns with the user's % and _ taken literally.
        func like(_ s: String) -> String {
            var out = "%"
            for ch in s {
                if ch == "\\" || ch == "%" || ch == "_" { out.append("\\") }
                out.append(ch)
            }
            return out + "%"
        }
        return try read("search contacts") { db in
            var ids: [String] = []
            var seen = Set<String>()
            func add(_ found: [String]) {
                for id in found where ids.count < limit && seen.insert(id).inserted { ids.append(id) }
            }
            add(
                try String.fetchAll(
                    db, sql: "SELECT ghl_id FROM contact WHERE ghl_id = ? AND \(here())", arguments: [q]))
            add(
                try String.fetchAll(
                    db,
                    sql:
                        "SELECT ghl_id FROM contact WHERE ghl_id >= ? AND ghl_id < ? AND \(here()) ORDER BY ghl_id LIMIT ?",
                    arguments: [q, q + "\u{10FFFF}", limit]))
            if hasPhones, digits.count >= 4, digits.count * 2 >= q.filter({ !$0.isWhitespace }).count {
                add(
                    try String.fetchAll(
                        db,
                        sql: """
                            SELECT p.ghl_id FROM contact_phone p JOIN contact c ON c.ghl_id = p.ghl_id
                            WHERE p.phone LIKE ? ESCAPE '\\' AND \(here("c")) LIMIT ?
                            """,
                        arguments: [like(digits), limit]))
            }
            // Names and emails: every word of the query somewhere in the contact's search text
            // ("Ana Lima"), for a query with a letter in it that named no contact id.
            if hasSearch, ids.isEmpty, q.contains(where: \.isLetter) {
                let words = q.lowercased().split(whereSeparator: \.isWhitespace).prefix(6).map { like(String($0)) }
                add(
                    try String.fetchAll(
                        db,
                        sql:
                            "SELECT s.ghl_id FROM contact_search s JOIN contact_data d ON d.ghl_id = s.ghl_id WHERE \(here("d")) AND "
                            + words.map { _ in "text LIKE ? ESCAPE '\\'" }.joined(separator: " AND ") + " LIMIT ?",
                        arguments: StatementArguments(words) + [limit]))
            }
            return try ids.map { id in try hit(db, id) }
        }
    }

    func hit(_ db: Database, _ id: String) throws -> ContactHit {
        let row = try Row.fetchOne(
            db, sql: "SELECT buckets, updated_at FROM contact WHERE ghl_id = ? AND \(here())", arguments: [id])
        let phone =
            hasPhones
            ? try String.fetchOne(db, sql: "SELECT phone FROM contact_phone WHERE ghl_id = ?", arguments: [id]) : nil
        let data =
            hasData
            ? try String.fetchOne(
                db, sql: "SELECT data FROM contact_data WHERE ghl_id = ? AND \(here())", arguments: [id]) : nil
        let name = data.flatMap { Contact(snapshot: Array($0.utf8)) }?.displayName
        var buckets: [Int] = []
        if let text = row?["buckets"] as String?, case .array(let items)? = try? JSONParser.parse(text) {
            buckets = items.compactMap { if case .number(let n) = $0 { Int(exactly: n) } else { nil } }
        }
        return ContactHit(
            ghlId: id, name: name, phone: phone, buckets: buckets,
            updatedAt: Timestamp(milliseconds: (row?["updated_at"] as Int64?) ?? 0))
    }

    /// The contact's data as last evaluated (its snapshot), if stored.
    public func snapshot(of ghlId: String) throws(StoreError) -> Contact? {
        guard hasData else { return nil }
        return try read("read the data of \(ghlId)") { db in
            try String.fetchOne(
                db, sql: "SELECT data FROM contact_data WHERE ghl_id = ? AND \(here())", arguments: [ghlId]
            )
            .flatMap { Contact(snapshot: Array($0.utf8)) }
        }
    }

    /// Events waiting for another attempt after a failure.
    public func retriesWaiting() throws(StoreError) -> Int {
        try read("count retries") { db in
            try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM inbox WHERE status = 'pending' AND attempts > 0 AND \(here())") ?? 0
        }
    }

    /// The contacts most recently changed, newest first (the overview's "latest" list).
    public func recentContacts(limit: Int = 10) throws(StoreError) -> [ContactHit] {
        try read("list recent contacts") { db in
            try String.fetchAll(
                db, sql: "SELECT ghl_id FROM contact WHERE \(here()) ORDER BY updated_at DESC LIMIT ?",
                arguments: [limit]
            )
            .map { try hit(db, $0) }
        }
    }
}
