import LeadsyncCore
import LeadsyncValues

/// How `leadsync serve` runs: from the environment (product.md §3), flags override.
///
/// Upstream credentials are not here: the CLI builds the GHL and CallTools clients from the same
/// variables every command reads, and hands them to `LeadsyncServer`.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// `LEADSYNC_WORKFLOW_SECRET`; nil disables `/webhook/ghl-workflow` (403).
    public var workflowSecret: String?
    /// `LEADSYNC_ADMIN_TOKEN`; nil disables the admin endpoints (403).
    public var adminToken: String?
    /// Bodies above this are refused with 413.
    public var maxBodyBytes = 1 << 20
    /// Contacts processed at once (`LEADSYNC_WORKERS`).
    public var workers = 8
    /// Failed attempts before an event becomes a dead letter (`LEADSYNC_MAX_ATTEMPTS`); nil (the
    /// default) leaves it to `retryWindow`.
    public var maxAttempts: Int? = nil
    /// How long an event that keeps failing for a reason a retry may fix is tried again, from
    /// its arrival (`LEADSYNC_RETRY_WINDOW_HOURS`, default 24). Past it, it is a dead letter.
    /// Time held for an upstream that is down spends no attempt, and nothing dies while held.
    public var retryWindow: Duration = .seconds(24 * 3600)
    /// First wait before an event is tried again; doubles per attempt up to `retryCap`.
    public var retryBase: Duration = .seconds(10)
    public var retryCap: Duration = .seconds(30 * 60)
    /// Incremental reconcile interval (`LEADSYNC_SYNC_INTERVAL_MINUTES`; 0 turns it off).
    public var syncInterval: Duration? = .seconds(15 * 60)
    /// Hour of the daily full pass, UTC (`LEADSYNC_FULL_SYNC_HOUR`; `off` turns it off).
    public var fullSyncHour: Int? = 3
    /// Applied events are forgotten after this (their `webhookId`s stop de-duplicating).
    public var inboxRetention: Duration = .seconds(7 * 24 * 3600)
    /// A signed marketplace event whose GHL `timestamp` is older than this is answered 200
    /// `ignored` and not stored (`LEADSYNC_EVENT_MAX_AGE_HOURS`, default 24): a captured event
    /// sent again later is not applied. Longer than GHL's own retries (about 70 minutes), shorter
    /// than `inboxRetention`, so every event young enough to apply is still de-duplicated.
    public var eventMaxAge: Duration = .seconds(24 * 3600)
    /// A connection with no request under way (or whose headers never finish) for this long is
    /// closed (`LEADSYNC_IDLE_TIMEOUT_SECONDS`, default 30).
    public var idleTimeoutSeconds = 30
    /// A request body not received in full within this is answered 408 (slow senders hold no
    /// worker of ours for long).
    public var bodyTimeout: Duration = .seconds(10)
    /// The body timeout in force: never more than half the idle timeout, because the HTTP layer
    /// closes a connection whose request is still being read once it has been idle that long,
    /// and a slow sender should get its 408, not a silent close.
    public var effectiveBodyTimeout: Duration {
        min(bodyTimeout, .milliseconds(idleTimeoutSeconds * 500))
    }
    /// Connections open at once (`LEADSYNC_MAX_CONNECTIONS`, default 1024); more wait in the
    /// kernel's backlog.
    public var maxConnections = 1024
    /// The Marketplace app's id (`GHL_APP_ID`): signed events of another app are ignored.
    public var appId: String?
    /// The least length of the admin token and the workflow secret read from the environment.
    public static let minimumSecretLength = 32
    /// `Retry-After` on a 429 when the inbox cannot store an event. GHL retries about ten minutes
    /// later whatever this says; a proxy or a test may honour it.
    public var storeRetryAfterSeconds = 60
    /// How long graceful shutdown lets in-flight contacts finish before cancelling them (their
    /// events stay in the inbox and resume on restart).
    public var shutdownGrace: Duration = .seconds(10)

    public init() {}

    public struct Error: Swift.Error, CustomStringConvertible {
        public var description: String
    }

    /// Reads the server's own variables; a malformed one is a one-line error naming it.
    public static func fromEnvironment(_ env: [String: String]) throws(Error) -> ServerConfiguration {
        var c = ServerConfiguration()
        func nonEmpty(_ name: String) -> String? {
            guard let v = env[name]?.trimmedASCII, !v.isEmpty else { return nil }
            return v
        }
        func int(_ name: String, _ range: ClosedRange<Int>) throws(Error) -> Int? {
            guard let text = nonEmpty(name) else { return nil }
            guard let n = Int(text), range.contains(n) else {
                throw Error(
                    description:
                        "\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound); got '\(text)'")
            }
            return n
        }
        if let h = nonEmpty("LEADSYNC_HOST") { c.host = h }
        if let p = try int("LEADSYNC_PORT", 0...65535) { c.port = p }
        // A guessable secret is no secret: refuse short ones, without echoing them.
        func secret(_ name: String) throws(Error) -> String? {
            guard let v = nonEmpty(name) else { return nil }
            guard v.count >= minimumSecretLength else {
                throw Error(
                    description:
                        "\(name) must be at least \(minimumSecretLength) characters (it has \(v.count)); "
                        + "make one with: openssl rand -hex 32")
            }
            return v
        }
        c.workflowSecret = try secret("LEADSYNC_WORKFLOW_SECRET")
        c.appId = env["GHL_APP_ID"].flatMap { $0.trimmedASCII.isEmpty ? nil : $0.trimmedASCII }
        c.adminToken = try secret("LEADSYNC_ADMIN_TOKEN")
        if let h = try int("LEADSYNC_EVENT_MAX_AGE_HOURS", 1...720) { c.eventMaxAge = .seconds(h * 3600) }
        if let s = try int("LEADSYNC_IDLE_TIMEOUT_SECONDS", 1...3600) { c.idleTimeoutSeconds = s }
        if let n = try int("LEADSYNC_MAX_CONNECTIONS", 16...100_000) { c.maxConnections = n }
        if let w = try int("LEADSYNC_WORKERS", 1...256) { c.workers = w }
        if let a = try int("LEADSYNC_MAX_ATTEMPTS", 1...10_000) { c.maxAttempts = a }
        if let h = try int("LEADSYNC_RETRY_WINDOW_HOURS", 1...720) { c.retryWindow = .seconds(h * 3600) }
        if let m = try int("LEADSYNC_SYNC_INTERVAL_MINUTES", 0...100_000) {
            c.syncInterval = m == 0 ? nil : .seconds(m * 60)
        }
        if let text = nonEmpty("LEADSYNC_FULL_SYNC_HOUR") {
            if text.lowercased() == "off" {
                c.fullSyncHour = nil
            } else {
                guard let h = Int(text), (0...23).contains(h) else {
                    throw Error(
                        description: "LEADSYNC_FULL_SYNC_HOUR must be an hour 0-23 (UTC) or 'off'; got '\(text)'")
                }
                c.fullSyncHour = h
            }
        }
        return c
    }

    /// The wait before attempt `attempts + 1` of an event, with up to 20% jitter.
    func retryDelay(afterAttempts attempts: Int) -> Duration {
        let base = retryBase * (1 << min(max(attempts - 1, 0), 20))
        let capped = min(base, retryCap)
        return capped + capped * Double.random(in: 0..<0.2)
    }
}
