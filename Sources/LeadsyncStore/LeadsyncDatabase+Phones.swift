import GRDB
import LeadsyncSync
import LeadsyncValues

/// What the store remembers of a GHL contact's phone: the number CallTools knows it by, and the
/// exclusions that hold for that phone because they matched this contact.
public struct PhoneRecord: Sendable, Equatable {
    /// E.164, as the rules' phone field renders it.
    public var phone: String
    /// Names of the by-phone exclusions the contact matched, in file order.
    public var exclusions: [String]
    /// The exclusions were evaluated on data whose source cannot have left out a field they
    /// read (a full read, a webhook that carries it). When false, a sibling about to be dialled
    /// reads this contact again first.
    public var complete: Bool

    public init(phone: String, exclusions: [String], complete: Bool) {
        self.phone = phone
        self.exclusions = exclusions
        self.complete = complete
    }
}

/// Another GHL contact with the same phone: its record, and what CallTools holds for it.
public struct PhoneSibling: Sendable, Equatable {
    public var ghlId: String
    public var record: PhoneRecord
    public var applied: AppliedState
    public init(ghlId: String, record: PhoneRecord, applied: AppliedState) {
        self.ghlId = ghlId
        self.record = record
        self.applied = applied
    }
}

extension LeadsyncDatabase {
    /// The phone record of `ghlId`, if one was written.
    public func phoneRecord(_ ghlId: String) throws(StoreError) -> PhoneRecord? {
        guard hasPhones else { return nil }
        return try read("read the phone of \(ghlId)") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM contact_phone WHERE ghl_id = ?", arguments: [ghlId]).map(
                Self.decodePhone)
        }
    }

    /// The other GHL contacts known to have `phone`, with their applied state (`.new` for one
    /// never written to CallTools).
    public func phoneSiblings(_ phone: String, except ghlId: String) throws(StoreError) -> [PhoneSibling] {
        guard hasPhones else { return [] }
        return try read("read the contacts with phone \(phone)") { db in
            let rows = try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT p.*, c.calltools_id, c.create_pending, c.fields, c.buckets, c.tags,
                            c.marked_customer, c.updated_at AS c_updated_at, c.ghl_id AS c_ghl_id
                        FROM contact_phone p LEFT JOIN contact c ON c.ghl_id = p.ghl_id
                        WHERE p.phone = ? AND p.ghl_id != ? AND \(inAccount("p")) ORDER BY p.ghl_id LIMIT 100
                        """), arguments: [phone, ghlId])
            return rows.map { row in
                let applied: AppliedState =
                    (row["c_ghl_id"] as String?) == nil
                    ? .new : Self.decode(row, updatedAt: "c_updated_at").applied
                return PhoneSibling(ghlId: row["ghl_id"], record: Self.decodePhone(row), applied: applied)
            }
        }
    }

    /// Writes (or, with nil, forgets) the phone record of `ghlId`.
    public func setPhoneRecord(_ ghlId: String, _ record: PhoneRecord?, at: Timestamp) throws(StoreError) {
        try run("record the phone of \(ghlId)") { db in try writePhone(db, ghlId, record, at: at) }
    }

    func writePhone(_ db: Database, _ ghlId: String, _ record: PhoneRecord?, at: Timestamp) throws {
        guard let record else {
            try db.execute(sql: "DELETE FROM contact_phone WHERE ghl_id = ?", arguments: [ghlId])
            return
        }
        try db.execute(
            sql: """
                INSERT INTO contact_phone (ghl_id, phone, exclusions, complete, updated_at, account)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT(ghl_id) DO UPDATE SET phone = excluded.phone, exclusions = excluded.exclusions,
                    complete = excluded.complete, updated_at = excluded.updated_at, account = excluded.account
                """,
            arguments: [
                ghlId, record.phone, record.exclusions.joined(separator: "\n"), record.complete, at.milliseconds,
                account,
            ])
    }

    static func decodePhone(_ row: Row) -> PhoneRecord {
        let names: String = row["exclusions"]
        return PhoneRecord(
            phone: row["phone"], exclusions: names.isEmpty ? [] : names.split(separator: "\n").map(String.init),
            complete: row["complete"])
    }
}
