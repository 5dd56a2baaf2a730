import LeadsyncAuth
import LeadsyncServer
import LeadsyncStore
import LeadsyncUpstream
import LeadsyncValues

/// `leadsync ghl connect --code CODE` (a headless first install: the code from the app's
/// redirect, exchanged here and sealed into the database) and `leadsync ghl status`.
public enum GHLCommands {
    public static func connect(
        code: String, userType: String, dbPath: String, environment: [String: String], console: Console
    ) async -> Int32 {
        func fail(_ message: String) -> Int32 {
            console.err.line("leadsync: \(message)")
            console.err.flush()
            return 1
        }
        guard !(environment["GHL_CLIENT_ID"] ?? "").isEmpty else {
            return fail("GHL_CLIENT_ID is not set: `ghl connect` is for a Marketplace app (OAuth)")
        }
        let settings: UpstreamSettings
        let store: LeadsyncDatabase
        do {
            settings = try UpstreamSettings.fromEnvironment(environment)
        } catch {
            return fail(error.message)
        }
        do {
            store = try LeadsyncDatabase.open(path: dbPath)
        } catch {
            return fail(error.description)
        }
        defer { store.close() }
        let http = HTTPClientHandle()
        let (_, _, app) = settings.clients(http: http.client, store: store, now: { .now() })
        var code32: Int32 = 0
        if let app {
            do {
                let locations = try await app.install(code: code, userType: userType)
                console.out.line("connected: GHL location(s) \(locations.joined(separator: ", "))")
            } catch {
                code32 = fail(error.description)
            }
        }
        await http.shutdown()
        console.out.flush()
        return code32
    }

    /// Each stored connection: state, expiry, why it needs a person (never a token).
    public static func status(dbPath: String, console: Console) -> Int32 {
        guard let store = StoreCommands.open(dbPath, mustExist: true, console: console) else { return 1 }
        defer { store.close() }
        do {
            let rows = try store.connections()
            if rows.isEmpty {
                console.out.line("no OAuth connection stored (Private Integration token, or not installed)")
            }
            for r in rows {
                console.out.line(connectionLine(r))
            }
            console.out.flush()
            return rows.contains { $0.state == .lost } ? 1 : 0
        } catch {
            console.err.line("leadsync: \(error)")
            return 1
        }
    }

    static func connectionLine(_ r: GHLConnectionRecord) -> String {
        var line = "\(r.key.rightPadded(to: 24)) \(r.userType.rightPadded(to: 9)) \(r.state.rawValue)"
        line += "  access token expires \(r.accessExpiresAt.iso8601)"
        if let reason = r.reason { line += "  (\(reason))" }
        if r.state == .refreshing {
            line +=
                "  (a refresh begun at \(r.refreshStartedAt?.iso8601 ?? "?") was not finished: the next command or "
                + "server start finishes it, or says that the location must be reconnected)"
        }
        return line
    }
}
