import GRDB
import LeadsyncCore
import LeadsyncSync
import LeadsyncValues
import Synchronization

/// The one owner of leadsync's SQLite file. It migrates on open and exposes writes named by
/// intent; nothing else in leadsync writes SQL.
///
/// A file database is a `DatabasePool` in WAL mode (readers never block the writer) with a busy
/// timeout; tests use an in-memory `DatabaseQueue`. Timestamps come from the caller: the store
/// reads no clock, so tests are deterministic.
public final class LeadsyncDatabase: Sendable {
    let writer: any DatabaseWriter
    /// The phone table exists (v5). False only for a read-only open (`dry-run --db`) of a file
    /// an older leadsync wrote and no newer one has migrated yet: phones are then unknown.
    let hasPhones: Bool
    /// The snapshot table exists (v7); false only for a read-only open of an older file.
    let hasData: Bool
    /// The operator page's search table exists (v8).
    let hasSearch: Bool
    /// Rows carry their location and phones their CallTools account (v9).
    let hasLocations: Bool
    /// The GHL location whose rows this value reads and writes ("" in single-location mode,
    /// and for rows written before several locations existed). One file holds every location;
    /// each location's server, passes and commands see only their own rows (`scoped`).
    public let location: String
    /// The CallTools account this location routes into ("" in single-location mode). Phones and
    /// resolved bucket and tag ids belong to the account, not the location: two locations that
    /// share a CallTools account share its contacts, so an exclusion matched in one holds for
    /// the phone in the other.
    public let account: String

    /// How long a write waits for a lock held by another connection before failing.
    public static let busyTimeout: Double = 5

    init(_ writer: any DatabaseWriter) throws {
        self.writer = writer
        try LeadsyncDatabase.migrator.migrate(writer)
        self.hasPhones = true
        self.hasData = true
        self.hasSearch = true
        self.hasLocations = true
        self.location = ""
        self.account = ""
    }

    private init(scoping base: LeadsyncDatabase, location: String, account: String) {
        self.writer = base.writer
        self.hasPhones = base.hasPhones
        self.hasData = base.hasData
        self.hasSearch = base.hasSearch
        self.hasLocations = base.hasLocations
        self.location = location
        self.account = account
    }

    /// The same file, seen as one location routing into one CallTools account. Cheap: the
    /// connection pool is shared.
    public func scoped(location: String, account: String) -> LeadsyncDatabase {
        LeadsyncDatabase(scoping: self, location: location, account: account)
    }

    /// SQL: the row belongs to this location (`alias.location`). Always true in a file older
    /// than v9 opened read-only (it has one location).
    func here(_ alias: String? = nil) -> String {
        guard hasLocations else { return "1" }
        return "\(alias.map { $0 + "." } ?? "")location = \(Self.literal(location))"
    }

    /// SQL: the row belongs to this CallTools account.
    func inAccount(_ alias: String? = nil) -> String {
        guard hasLocations else { return "1" }
        return "\(alias.map { $0 + "." } ?? "")account = \(Self.literal(account))"
    }

    /// SQL: the resolved bucket ids of this account (`name`, `calltools_id`).
    var bucketRows: String {
        hasLocations ? "calltools_bucket WHERE \(inAccount())" : "bucket_id"
    }

    /// SQL: the resolved tag ids of this account (`folded_name`, `calltools_id`).
    var tagRows: String {
        hasLocations ? "calltools_tag WHERE \(inAccount())" : "tag_id"
    }

    /// SQL: the index the workers walk pending events by.
    var dueIndex: String {
        hasLocations ? "INDEXED BY inbox_location" : "INDEXED BY inbox_status_seq"
    }

    /// Whether rows written in single-location mode (location "") are still unclaimed.
    public func hasUnscopedRows() throws(StoreError) -> Bool {
        try read("look for single-location rows") { db in
            try Bool.fetchOne(
                db,
                sql: """
                    SELECT EXISTS (SELECT 1 FROM contact WHERE location = '')
                        OR EXISTS (SELECT 1 FROM contact_data WHERE location = '')
                        OR EXISTS (SELECT 1 FROM inbox WHERE location = '')
                        OR EXISTS (SELECT 1 FROM sync_run WHERE location = '')
                        OR EXISTS (SELECT 1 FROM audit WHERE location = '')
                    """) ?? false
        }
    }

    /// Gives every row written in single-location mode to this location and account, in one
    /// transaction (moving from the environment variables to `leadsync.yaml`). Returns how
    /// many contact rows moved.
    @discardableResult
    public func claimUnscopedRows(at: Timestamp) throws(StoreError) -> Int {
        try run("give single-location rows to location \(location)") { db in
            for table in ["contact_data", "audit", "inbox", "sync_run"] {
                try db.execute(sql: "UPDATE \(table) SET location = ? WHERE location = ''", arguments: [location])
            }
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO live_rules_at SELECT ?, path, hash, text, loaded_at FROM live_rules_at
                    WHERE location = ''
                    """, arguments: [location])
            try db.execute(sql: "DELETE FROM live_rules_at WHERE location = ''")
            for table in ["contact_phone", "calltools_bucket", "calltools_tag"] {
                try db.execute(
                    sql: "UPDATE OR IGNORE \(table) SET account = ? WHERE account = ''", arguments: [account])
            }
            try db.execute(sql: "UPDATE contact SET location = ? WHERE location = ''", arguments: [location])
            return db.changesCount
        }
    }

    /// A string as an SQL literal (quotes doubled).
    static func literal(_ s: String) -> String {
        "'" + s.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "''") + "'"
    }

    /// The location a command-line run acts on (`--location`): `open` and `openReadOnly` see
    /// the file as its rows. Set once, before any open; a server scopes explicitly instead.
    public static let commandScope = Mutex<(location: String, account: String)>(("", ""))

    func commandScoped() -> LeadsyncDatabase {
        let (location, account) = Self.commandScope.withLock { $0 }
        return location.isEmpty && account.isEmpty ? self : scoped(location: location, account: account)
    }

    /// Opens (creating if needed) and migrates the database at `path`.
    public static func open(path: String) throws(StoreError) -> LeadsyncDatabase {
        var config = Configuration()
        config.busyMode = .timeout(busyTimeout)
        config.prepareDatabase { db in
            // Durability of acknowledged work matters more than write speed: FULL syncs the WAL
            // on every commit.
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        do {
            return try LeadsyncDatabase(DatabasePool(path: path, configuration: config)).commandScoped()
        } catch {
            throw StoreError(operation: "open \(path)", underlying: error)
        }
    }

    /// Opens an existing database for reading only (`dry-run --db`): nothing is created,
    /// migrated or written.
    public static func openReadOnly(path: String) throws(StoreError) -> LeadsyncDatabase {
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(busyTimeout)
        do {
            return try LeadsyncDatabase(readOnly: DatabaseQueue(path: path, configuration: config)).commandScoped()
        } catch {
            throw StoreError(operation: "open \(path) read-only", underlying: error)
        }
    }

    init(readOnly writer: any DatabaseWriter) throws {
        self.writer = writer
        let applied = try writer.read { try LeadsyncDatabase.migrator.appliedIdentifiers($0) }
        self.hasPhones = applied.contains("v5")
        self.hasData = applied.contains("v7")
        self.hasSearch = applied.contains("v8")
        self.hasLocations = applied.contains("v9")
        self.location = ""
        self.account = ""
        guard applied.contains("v1") else {
            throw StoreError(operation: "read it", underlying: DatabaseError(message: "not a leadsync database"))
        }
    }

    /// A private in-memory database (tests, dry runs).
    public static func inMemory() throws(StoreError) -> LeadsyncDatabase {
        do {
            return try LeadsyncDatabase(DatabaseQueue())
        } catch {
            throw StoreError(operation: "open in-memory database", underlying: error)
        }
    }

    /// Closes the file (graceful shutdown): waits for running statements, checkpoints the WAL.
    public func close() {
        if let pool = writer as? DatabasePool {
            try? pool.close()
        } else if let queue = writer as? DatabaseQueue {
            try? queue.close()
        }
    }

    /// Append-only: a released migration is never edited; changes come as new ones.
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.create(table: "contact") { t in
                t.primaryKey("ghl_id", .text)
                t.column("calltools_id", .integer).indexed()
                t.column("create_pending", .boolean).notNull().defaults(to: false)
                t.column("fields", .text).notNull().defaults(to: "{}")
                t.column("buckets", .text).notNull().defaults(to: "[]")
                t.column("tags", .text).notNull().defaults(to: "{}")
                t.column("marked_customer", .boolean).notNull().defaults(to: false)
                t.column("updated_at", .integer).notNull()
            }
            try db.create(table: "bucket_id") { t in
                t.primaryKey("name", .text)
                t.column("calltools_id", .integer).notNull()
                t.column("resolved_at", .integer).notNull()
            }
            try db.create(table: "tag_id") { t in
                t.primaryKey("folded_name", .text)
                t.column("name", .text).notNull()
                t.column("calltools_id", .integer)  // null: CallTools has no such tag
                t.column("resolved_at", .integer).notNull()
            }
            try db.create(table: "audit") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("ghl_id", .text).notNull().indexed()
                t.column("at", .integer).notNull()
                t.column("kind", .text).notNull()
                t.column("summary", .text).notNull()
                t.column("detail", .text)
            }
            try db.create(table: "sync_run") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("mode", .text).notNull()
                t.column("started_at", .integer).notNull()
                t.column("finished_at", .integer)
                t.column("status", .text).notNull()
                t.column("checkpoint", .text)
                t.column("counts", .text).notNull().defaults(to: "{}")
            }
        }
        // The server's durable inbox (issue 4): every accepted webhook, committed before the 200.
        m.registerMigration("v2") { db in
            try db.create(table: "inbox") { t in
                t.autoIncrementedPrimaryKey("seq")
                t.column("webhook_id", .text).unique()  // null for workflow events (they carry none)
                t.column("contact_id", .text).notNull()
                t.column("event_type", .text).notNull()
                t.column("source", .text).notNull()
                t.column("body", .text).notNull()
                t.column("received_at", .integer).notNull()
                t.column("status", .text).notNull().defaults(to: "pending")
                t.column("attempts", .integer).notNull().defaults(to: 0)
                t.column("next_attempt_at", .integer).notNull()
                t.column("last_error", .text)
                t.column("finished_at", .integer)
            }
            try db.create(index: "inbox_due", on: "inbox", columns: ["status", "next_attempt_at"])
            try db.create(index: "inbox_contact", on: "inbox", columns: ["contact_id", "status"])
        }
        // Workers walk pending events in arrival order and stop early: with a backlog of 40,000
        // events, grouping all of them per look cost more than applying them.
        m.registerMigration("v3") { db in
            try db.create(index: "inbox_status_seq", on: "inbox", columns: ["status", "seq"])
        }
        // Events held while an upstream's circuit breaker is open (status 'held'): which upstream.
        m.registerMigration("v4") { db in
            try db.alter(table: "inbox") { t in t.add(column: "held_by", .text) }
        }
        // Each GHL contact's phone (E.164, as CallTools gets it) and the by-phone exclusions it
        // matched: two GHL contacts with one phone share one CallTools contact, and an exclusion
        // on either holds for both (see `phoneSiblings`).
        // `seen_at`: how new the data behind the contact's applied state is (the GHL timestamp of
        // the newest event applied, or when GHL was read): an older event never overrides it.
        m.registerMigration("v5") { db in
            try db.alter(table: "contact") { t in t.add(column: "seen_at", .integer) }
            // An event being applied carries `started_at`; one still marked when the server
            // starts was being applied when the process died (`deaths`), so a poison event that
            // kills the process cannot crash-loop it.
            try db.alter(table: "inbox") { t in
                t.add(column: "started_at", .integer)
                t.add(column: "deaths", .integer).notNull().defaults(to: 0)
            }
            try db.create(table: "contact_phone") { t in
                t.column("ghl_id", .text).primaryKey()
                t.column("phone", .text).notNull().indexed()
                t.column("exclusions", .text).notNull().defaults(to: "")
                t.column("complete", .boolean).notNull().defaults(to: false)
                t.column("updated_at", .integer).notNull()
            }
        }
        // GHL OAuth connections (issue 9): one row per location (or `company:<id>` for an
        // agency's token), the token pair sealed by the caller (never in clear here).
        m.registerMigration("v6") { db in
            try db.create(table: "ghl_connection") { t in
                t.column("key", .text).primaryKey()
                t.column("user_type", .text).notNull()
                t.column("company_id", .text)
                t.column("sealed", .blob).notNull()
                t.column("access_expires_at", .integer).notNull()
                t.column("state", .text).notNull()
                t.column("reason", .text)
                t.column("refresh_started_at", .integer)
                t.column("updated_at", .integer).notNull()
            }
        }
        // What `plan` evaluates (issue 11): each contact's data as last evaluated (a compact
        // snapshot, rewritten only when it changes), and the rules the last server or sync ran.
        m.registerMigration("v7") { db in
            try db.create(table: "contact_data") { t in
                t.column("ghl_id", .text).primaryKey()
                t.column("data", .text).notNull()
                t.column("hash", .integer).notNull()
                t.column("updated_at", .integer).notNull()
            }
            try db.create(table: "live_rules") { t in
                t.column("id", .integer).primaryKey()
                t.column("path", .text).notNull()
                t.column("hash", .text).notNull()
                t.column("text", .text).notNull()
                t.column("loaded_at", .integer).notNull()
            }
        }
        // The operator page (issue 12): the contacts most recently changed, and a search by name
        // or email that scans a short text per contact instead of its whole snapshot, kept up
        // to date by triggers on the snapshot table (whoever writes it). The triggers delete and
        // insert: an `OR REPLACE` in a trigger takes the conflict policy of the statement that
        // fired it (an upsert's ABORT), and would fail the write.
        m.registerMigration("v8") { db in
            try db.create(index: "contact_updated_at", on: "contact", columns: ["updated_at"])
            try db.execute(
                sql: """
                    CREATE TABLE contact_search (ghl_id TEXT PRIMARY KEY NOT NULL, text TEXT NOT NULL);
                    INSERT INTO contact_search SELECT ghl_id, \(searchText("data")) FROM contact_data;
                    CREATE TRIGGER contact_search_insert AFTER INSERT ON contact_data BEGIN
                        DELETE FROM contact_search WHERE ghl_id = NEW.ghl_id;
                        INSERT INTO contact_search VALUES (NEW.ghl_id, \(searchText("NEW.data")));
                    END;
                    CREATE TRIGGER contact_search_update AFTER UPDATE OF data ON contact_data BEGIN
                        DELETE FROM contact_search WHERE ghl_id = NEW.ghl_id;
                        INSERT INTO contact_search VALUES (NEW.ghl_id, \(searchText("NEW.data")));
                    END;
                    CREATE TRIGGER contact_search_delete AFTER DELETE ON contact_data BEGIN
                        DELETE FROM contact_search WHERE ghl_id = OLD.ghl_id;
                    END;
                    """)
        }
        // Several locations in one file (issue 9): every row carries its GHL location; phones
        // and resolved CallTools ids carry their CallTools account. Rows written before have
        // location "" (single-location mode); `claimUnscopedRows` gives them to a location.
        // Contact ids stay the primary keys: GHL ids are unique across locations.
        m.registerMigration("v9") { db in
            try db.execute(
                sql: """
                    ALTER TABLE contact ADD COLUMN location TEXT NOT NULL DEFAULT '';
                    ALTER TABLE contact_data ADD COLUMN location TEXT NOT NULL DEFAULT '';
                    ALTER TABLE audit ADD COLUMN location TEXT NOT NULL DEFAULT '';
                    ALTER TABLE inbox ADD COLUMN location TEXT NOT NULL DEFAULT '';
                    ALTER TABLE sync_run ADD COLUMN location TEXT NOT NULL DEFAULT '';
                    ALTER TABLE contact_phone ADD COLUMN account TEXT NOT NULL DEFAULT '';
                    CREATE INDEX contact_location ON contact (location, updated_at);
                    CREATE INDEX contact_data_location ON contact_data (location, ghl_id);
                    CREATE INDEX audit_location ON audit (location, kind, ghl_id);
                    CREATE INDEX inbox_location ON inbox (location, status, seq);
                    CREATE INDEX sync_run_location ON sync_run (location, status);
                    CREATE INDEX contact_phone_account ON contact_phone (account, phone);
                    CREATE TABLE live_rules_at (
                        location TEXT PRIMARY KEY NOT NULL, path TEXT NOT NULL, hash TEXT NOT NULL,
                        text TEXT NOT NULL, loaded_at INTEGER NOT NULL);
                    INSERT INTO live_rules_at SELECT '', path, hash, text, loaded_at FROM live_rules;
                    DROP TABLE live_rules;
                    CREATE TABLE calltools_bucket (
                        account TEXT NOT NULL, name TEXT NOT NULL, calltools_id INTEGER NOT NULL,
                        resolved_at INTEGER NOT NULL, PRIMARY KEY (account, name));
                    INSERT INTO calltools_bucket SELECT '', name, calltools_id, resolved_at FROM bucket_id;
                    DROP TABLE bucket_id;
                    CREATE TABLE calltools_tag (
                        account TEXT NOT NULL, folded_name TEXT NOT NULL, name TEXT NOT NULL, calltools_id INTEGER,
                        resolved_at INTEGER NOT NULL, PRIMARY KEY (account, folded_name));
                    INSERT INTO calltools_tag SELECT '', folded_name, name, calltools_id, resolved_at FROM tag_id;
                    DROP TABLE tag_id;
                    """)
        }
        // `seen_from`: the earliest the data behind the applied state can be from. Equal to
        // `seen_at` for an event or a read; for a search page, which lags GHL's writes, its
        // request time less that lag, while `seen_at` is when it was applied. A pass compares
        // its page with `seen_from` (a webhook applied since makes it read GHL); an event is
        // compared with `seen_at`. Each errs towards reading GHL again.
        m.registerMigration("v10") { db in
            try db.alter(table: "contact") { t in t.add(column: "seen_from", .integer) }
        }
        return m
    }
}

/// The search text of a snapshot column (SQL): its names and email, lowercased (ASCII, as LIKE
/// compares). Not JSON (never written so, but hostile bytes must not fail a write): empty.
func searchText(_ column: String) -> String {
    let parts = ["firstName", "lastName", "name", "email", "companyName"].map {
        "coalesce(json_extract(\(column), '$.f.\($0)'), '')"
    }
    return "CASE WHEN json_valid(\(column)) THEN lower(\(parts.joined(separator: " || ' ' || "))) ELSE '' END"
}

/// A database failure, naming what leadsync was doing.
public struct StoreError: Error, CustomStringConvertible {
    public var operation: String
    public var underlying: any Error

    public var description: String {
        if let db = underlying as? DatabaseError {
            return "database: cannot \(operation): \(db.message ?? "SQLite error \(db.resultCode.rawValue)")"
        }
        return "database: cannot \(operation): \(underlying)"
    }

    /// The database was locked past the busy timeout, or the disk is full: worth retrying later.
    public var isTransient: Bool {
        guard let db = underlying as? DatabaseError else { return false }
        return [.SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_FULL, .SQLITE_IOERR].contains(db.resultCode.primaryResultCode)
    }
}
