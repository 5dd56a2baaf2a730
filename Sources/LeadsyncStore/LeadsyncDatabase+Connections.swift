import Foundation
import GRDB
import LeadsyncValues

/// A GHL OAuth connection as stored: the token pair is `sealed` (encrypted by the caller with
/// `LEADSYNC_SECRET_KEY`; the store never sees a token in clear).
public struct GHLConnectionRecord: Sendable, Equatable {
    public enum State: String, Sendable {
        /// The pair works (as far as anyone knows).
        case connected
        /// A refresh was begun at `refreshStartedAt` and its answer not yet committed. Found so
        /// at start, the process died mid-refresh: the old refresh token may already be spent.
        case refreshing
        /// No way to a working token without a person: `reason` says why and what to do.
        case lost
    }

    /// The location id, or `company:<id>` for an agency (Company) token.
    public var key: String
    /// `Location` or `Company`, as GHL's token answer says.
    public var userType: String
    public var companyId: String?
    public var sealed: [UInt8]
    public var accessExpiresAt: Timestamp
    public var state: State
    public var reason: String?
    public var refreshStartedAt: Timestamp?
    public var updatedAt: Timestamp

    public init(
        key: String, userType: String, companyId: String?, sealed: [UInt8], accessExpiresAt: Timestamp,
        state: State = .connected, reason: String? = nil, refreshStartedAt: Timestamp? = nil, updatedAt: Timestamp
    ) {
        self.key = key
        self.userType = userType
        self.companyId = companyId
        self.sealed = sealed
        self.accessExpiresAt = accessExpiresAt
        self.state = state
        self.reason = reason
        self.refreshStartedAt = refreshStartedAt
        self.updatedAt = updatedAt
    }

    /// The key of an agency's (Company) token row.
    public static func companyKey(_ companyId: String) -> String { "company:\(companyId)" }
}

/// OAuth connections. Every write here is its own transaction on a `synchronous = FULL`
/// connection (the file database's setting): a new token pair is on disk before the caller
/// uses it or forgets the old one.
extension LeadsyncDatabase {
    public func connection(_ key: String) throws(StoreError) -> GHLConnectionRecord? {
        try read("read the GHL connection") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM ghl_connection WHERE key = ?", arguments: [key]).map(Self.record)
        }
    }

    public func connections() throws(StoreError) -> [GHLConnectionRecord] {
        try read("read the GHL connections") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM ghl_connection ORDER BY key").map(Self.record)
        }
    }

    /// Stores (replacing) a connection: a new install, or a refresh's new pair.
    public func saveConnection(_ r: GHLConnectionRecord) throws(StoreError) {
        try run("save the GHL connection") { db in
            try db.execute(
                sql: """
                    INSERT INTO ghl_connection (key, user_type, company_id, sealed, access_expires_at, state, reason,
                        refresh_started_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(key) DO UPDATE SET user_type = excluded.user_type, company_id = excluded.company_id,
                        sealed = excluded.sealed, access_expires_at = excluded.access_expires_at,
                        state = excluded.state, reason = excluded.reason,
                        refresh_started_at = excluded.refresh_started_at, updated_at = excluded.updated_at
                    """,
                arguments: [
                    r.key, r.userType, r.companyId, Data(r.sealed), r.accessExpiresAt.milliseconds, r.state.rawValue,
                    r.reason, r.refreshStartedAt?.milliseconds, r.updatedAt.milliseconds,
                ])
        }
    }

    /// Claims a refresh (before the request goes out): only while the row still holds `sealed`
    /// (the pair the caller would spend) and is `connected`, or `refreshing` when `takeOver`
    /// (a refresh a dead process left). False: another process (a `sync` beside the server)
    /// refreshed or is refreshing it; re-read the row instead of spending a used token.
    public func claimRefresh(_ key: String, sealed: [UInt8], at: Timestamp, takeOver: Bool) throws(StoreError) -> Bool {
        try run("mark the GHL connection refreshing") { db in
            try db.execute(
                sql: """
                    UPDATE ghl_connection SET state = 'refreshing', refresh_started_at = ?, updated_at = ?
                    WHERE key = ? AND sealed = ? AND (state = 'connected' OR (state = 'refreshing' AND ?))
                    """,
                arguments: [at.milliseconds, at.milliseconds, key, Data(sealed), takeOver])
            return db.changesCount > 0
        }
    }

    /// Marks a connection lost, with what a person must do; its tokens stay (sealed) until
    /// replaced by a reconnect or erased by an uninstall.
    public func markConnectionLost(_ key: String, reason: String, at: Timestamp) throws(StoreError) {
        try run("mark the GHL connection lost") { db in
            try db.execute(
                sql: "UPDATE ghl_connection SET state = 'lost', reason = ?, updated_at = ? WHERE key = ?",
                arguments: [reason, at.milliseconds, key])
        }
    }

    /// Erases a connection's tokens (an uninstall). Returns whether there was one.
    @discardableResult
    public func deleteConnection(_ key: String) throws(StoreError) -> Bool {
        try run("erase the GHL connection") { db in
            try db.execute(sql: "DELETE FROM ghl_connection WHERE key = ?", arguments: [key])
            return db.changesCount > 0
        }
    }

    static func record(_ row: Row) -> GHLConnectionRecord {
        let sealed: Data = row["sealed"] ?? Data()
        let startedAt: Int64? = row["refresh_started_at"]
        return GHLConnectionRecord(
            key: row["key"], userType: row["user_type"], companyId: row["company_id"], sealed: Array(sealed),
            accessExpiresAt: Timestamp(milliseconds: row["access_expires_at"]),
            state: GHLConnectionRecord.State(rawValue: row["state"]) ?? .lost, reason: row["reason"],
            refreshStartedAt: startedAt.map(Timestamp.init(milliseconds:)),
            updatedAt: Timestamp(milliseconds: row["updated_at"]))
    }
}
