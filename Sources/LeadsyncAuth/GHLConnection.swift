import LeadsyncStore
import LeadsyncUpstream
import LeadsyncValues
import Synchronization

/// One GHL location's OAuth connection: the access token every GHL call sends, refreshed ahead
/// of its expiry and once on a 401, one refresh at a time.
///
/// A refresh, step by step (each a failpoint, `oauth-refresh-1` … `-3`, for the kill tests):
/// 1. the row is marked `refreshing` (committed) and the refresh request goes out;
/// 2. GHL answers with a new pair and spends the old refresh token;
/// 3. the new pair is sealed and committed (`synchronous = FULL`), and only then used.
///
/// Killed before 2, the saved refresh token still works. Killed between 2 and 3, GHL has spent
/// it and the answer is gone: nothing can recover that without a person, so the connection is
/// `lost`, said once in the log, in a metric, in `stats` and by `/readyz`, and GHL work is held
/// (not dead-lettered) until the location is reconnected.
public actor GHLConnection: BearerTokenSource {
    /// What a connection looks like from outside (never a token).
    public struct Status: Sendable, Equatable {
        public enum State: String, Sendable {
            case connected
            /// No tokens: the app is not installed for this location (or was uninstalled).
            case notConnected = "not-connected"
            case lost
        }
        public var state: State
        public var accessExpiresAt: Timestamp?
        public var reason: String?
        public var refreshes: Int
    }

    /// A refresh's outcome, for metrics and logs (`ok`, `retry`, `lost`).
    public enum Event: Sendable {
        case refreshed(location: String)
        case refreshFailed(location: String, error: String)
        case lost(location: String, reason: String)
        case connected(location: String)
    }

    public nonisolated let locationId: String
    let store: LeadsyncDatabase
    let vault: TokenVault
    let oauth: GHLOAuthClient
    let breaker: CircuitBreaker?
    let now: @Sendable () -> Timestamp
    let onEvent: @Sendable (Event) -> Void
    /// The agency (Company) connection for a company id, which can mint this location's token
    /// again when its own refresh token is spent (an agency install).
    let company: @Sendable (String) async -> GHLConnection?
    /// The row's key: the location id, or `company:<id>` for an agency's token.
    public nonisolated let key: String

    var secret: TokenVault.Secret?
    var record: GHLConnectionRecord?
    var inFlight: Task<String, any Error>?
    var started = false
    private nonisolated let published: Mutex<Status>

    public init(
        locationId: String, store: LeadsyncDatabase, vault: TokenVault, oauth: GHLOAuthClient,
        breaker: CircuitBreaker?, rowKey: String? = nil,
        company: @escaping @Sendable (String) async -> GHLConnection? = { _ in nil },
        now: @escaping @Sendable () -> Timestamp, onEvent: @escaping @Sendable (Event) -> Void = { _ in }
    ) {
        self.locationId = locationId
        self.key = rowKey ?? locationId
        self.store = store
        self.vault = vault
        self.oauth = oauth
        self.breaker = breaker
        self.company = company
        self.now = now
        self.onEvent = onEvent
        published = Mutex(Status(state: .notConnected, accessExpiresAt: nil, reason: nil, refreshes: 0))
    }

    /// Its state now (for `stats`, `/readyz`, metrics).
    public nonisolated var status: Status { published.withLock { $0 } }

    /// Reads the stored connection at start. A row left `refreshing` means the process died
    /// mid-refresh: the saved refresh token is tried at once, so a spent one is reported now,
    /// not at the next expiry.
    public func start() async {
        guard !started else { return }
        started = true
        do {
            guard let row = try store.connection(key) else {
                return notConnected(
                    "GHL location \(locationId) is not connected: install the app (or run `leadsync ghl connect`)")
            }
            record = row
            if row.state == .lost {
                return markLost(row.reason ?? "the connection was lost", store: false)
            }
            let opened = try vault.open(row.sealed, for: key)
            secret = opened.secret
            if opened.rotated {
                try save(
                    opened.secret, expiresAt: row.accessExpiresAt, userType: row.userType, companyId: row.companyId)
            }
            publish(.connected, reason: nil)
            if row.state == .refreshing {
                _ = try? await refreshOnce()
            }
        } catch {
            markLost("\(error)", store: false)
        }
    }

    // MARK: BearerTokenSource

    public func bearerToken() async throws(UpstreamError) -> String {
        if !started { await start() }
        guard let secret, let record, status.state == .connected else { throw notSent() }
        let lifetime = Duration.seconds(secret.lifetimeSeconds)
        // Ahead of expiry: a quarter of its life, at most 10 minutes (a day's token is renewed
        // 10 minutes early; a test's 30-second one at 22 s).
        let margin = min(lifetime / 4, .seconds(600))
        let left = Duration.milliseconds(record.accessExpiresAt.milliseconds - now().milliseconds)
        guard left <= margin else { return secret.accessToken }
        do {
            return try await refreshOnce()
        } catch {
            // Still valid: use it while the refresh is retried on the next call.
            if left > .zero, status.state == .connected { return secret.accessToken }
            throw notSent()
        }
    }

    public func refused(_ token: String) async throws(UpstreamError) -> String {
        if !started { await start() }
        if let current = secret?.accessToken, current != token, status.state == .connected { return current }
        do {
            return try await refreshOnce()
        } catch {
            throw notSent()
        }
    }

    func notSent() -> UpstreamError {
        UpstreamError(
            service: .ghl, call: "GHL",
            kind: .circuitOpen(status.reason ?? "GHL location \(locationId) is not connected"),
            attempts: 0)
    }

    // MARK: Refresh

    /// One refresh at a time: callers arriving meanwhile wait for its token.
    func refreshOnce() async throws -> String {
        if let inFlight { return try await inFlight.value }
        let task = Task { try await self.performRefresh() }
        inFlight = task
        defer { inFlight = nil }
        return try await task.value
    }

    struct RefreshFailed: Error, CustomStringConvertible {
        var description: String
    }

    func performRefresh() async throws -> String {
        guard let secret, let record else { throw RefreshFailed(description: "not connected") }
        let interrupted = record.state == .refreshing
        guard try store.claimRefresh(key, sealed: record.sealed, at: now(), takeOver: interrupted) else {
            // Another process got there first: take what it committed, never spend our copy.
            guard let row = try store.connection(key), row.state == .connected, row.sealed != record.sealed else {
                throw RefreshFailed(description: "another process is refreshing the token of \(locationId)")
            }
            let opened = try vault.open(row.sealed, for: key)
            self.secret = opened.secret
            self.record = row
            published.withLock { $0.accessExpiresAt = row.accessExpiresAt }
            return opened.secret.accessToken
        }
        self.record?.state = .refreshing
        Failpoint.hit("oauth-refresh-1")
        let grant: OAuthGrant
        do {
            grant = try await oauth.refresh(secret.refreshToken, userType: record.userType)
        } catch {
            if error.grantSpent {
                if let companyId = record.companyId, record.userType == "Location",
                    let agency = await company(companyId), let minted = try? await agency.mint(for: locationId)
                {
                    return try accept(minted)
                }
                let why =
                    interrupted
                    ? "a token refresh was interrupted (the process stopped at \(record.refreshStartedAt?.iso8601 ?? "?")) "
                        + "after GHL had spent the refresh token"
                    : "GHL refused the refresh token (\(error))"
                markLost(
                    "GHL location \(locationId) must be reconnected: \(why); reinstall the app or run "
                        + "`leadsync ghl connect` (docs/operations.md, \"Reconnecting a location\")", store: true)
                throw RefreshFailed(description: why)
            }
            onEvent(.refreshFailed(location: locationId, error: error.description))
            if case .unreachable(_, sent: false) = error.kind {
                // GHL never saw it: the saved token is as good as before.
                try? store.saveConnection(with(record, state: .connected))
                self.record?.state = .connected
            }
            throw RefreshFailed(description: error.description)
        }
        Failpoint.hit("oauth-refresh-2")
        let token = try accept(grant)
        Failpoint.hit("oauth-refresh-3")
        return token
    }

    /// Commits a new pair, then uses it.
    func accept(_ grant: OAuthGrant) throws -> String {
        let fresh = TokenVault.Secret(
            accessToken: grant.accessToken, refreshToken: grant.refreshToken, lifetimeSeconds: grant.expiresIn)
        try save(
            fresh, expiresAt: Timestamp(milliseconds: now().milliseconds + Int64(grant.expiresIn) * 1000),
            userType: grant.userType, companyId: grant.companyId ?? record?.companyId)
        published.withLock { $0.refreshes += 1 }
        onEvent(.refreshed(location: locationId))
        return fresh.accessToken
    }

    func save(_ s: TokenVault.Secret, expiresAt: Timestamp, userType: String, companyId: String?) throws {
        let row = GHLConnectionRecord(
            key: key, userType: userType, companyId: companyId, sealed: try vault.seal(s, for: key),
            accessExpiresAt: expiresAt, state: .connected, updatedAt: now())
        try store.saveConnection(row)
        secret = s
        record = row
        published.withLock { $0.accessExpiresAt = expiresAt }
    }

    func with(_ r: GHLConnectionRecord, state: GHLConnectionRecord.State) -> GHLConnectionRecord {
        var r = r
        r.state = state
        r.updatedAt = now()
        return r
    }

    // MARK: Install, uninstall

    /// A new grant for this location (an install's code, `ghl connect`, a minted agency token):
    /// committed, then GHL work resumes.
    public func connect(_ grant: OAuthGrant) throws {
        started = true
        _ = try accept(grant)
        publish(.connected, reason: nil)
        breaker?.reconnect()
        onEvent(.connected(location: locationId))
    }

    /// The app was uninstalled: its tokens are erased and GHL work stops until a new install.
    public func uninstall() {
        _ = try? store.deleteConnection(key)
        secret = nil
        record = nil
        notConnected("the app was uninstalled from GHL location \(locationId): install it again to resume")
    }

    /// For an agency (Company) connection: a token for one of its locations.
    func mint(for location: String) async throws -> OAuthGrant {
        guard let companyId = record?.companyId else { throw RefreshFailed(description: "no company id") }
        let token = try await bearerToken()
        return try await oauth.locationToken(companyToken: token, companyId: companyId, locationId: location)
    }

    // MARK: State

    func notConnected(_ reason: String) {
        publish(.notConnected, reason: reason)
        breaker?.disconnect(reason)
    }

    func markLost(_ reason: String, store persist: Bool) {
        if persist { try? store.markConnectionLost(key, reason: reason, at: now()) }
        record?.state = .lost
        publish(.lost, reason: reason)
        breaker?.disconnect(reason)
        onEvent(.lost(location: locationId, reason: reason))
    }

    func publish(_ state: Status.State, reason: String?) {
        published.withLock {
            $0.state = state
            $0.reason = reason
            if state != .connected { $0.accessExpiresAt = nil } else { $0.accessExpiresAt = record?.accessExpiresAt }
        }
    }
}
