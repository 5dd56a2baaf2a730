import AsyncHTTPClient
import LeadsyncAuth
import LeadsyncRuntime
import LeadsyncStore
import LeadsyncUpstream
import LeadsyncValues

/// How leadsync reaches GHL and CallTools, from the environment (product.md §3). Secrets are
/// kept here and never printed: `description` masks them.
public struct UpstreamSettings: Sendable, CustomStringConvertible {
    public var ghlToken: String
    public var ghlLocationId: String
    public var ghlBaseURL: String
    public var calltoolsKey: String
    public var calltoolsBaseURL: String
    public var ghlRate: (Int, Double)
    public var calltoolsRate: (Int, Double)
    /// `LEADSYNC_CREATE_SETTLE_SECONDS` (default 30): see `Executor.createSettle`.
    public var createSettle: Duration = .seconds(30)
    /// How failed calls are retried (the clients' default unless a test shortens it).
    public var retry = RetryPolicy()
    /// When each upstream's circuit breaker opens and how often it probes
    /// (`LEADSYNC_BREAKER_FAILURES`, `LEADSYNC_BREAKER_PROBE_MAX_SECONDS`).
    public var breaker = CircuitBreaker.Settings()
    /// A Marketplace app's OAuth (`GHL_CLIENT_ID`, `GHL_CLIENT_SECRET`, `GHL_OAUTH_REDIRECT_URI`):
    /// GHL is then reached with the tokens an install stored, not with `ghlToken`.
    public var oauth: OAuthSettings?
    /// Seals stored tokens (`LEADSYNC_SECRET_KEY`); required with `oauth`.
    public var vault: TokenVault?

    public struct OAuthSettings: Sendable {
        public var clientId: String
        public var clientSecret: String
        public var redirectURI: String?
        public init(clientId: String, clientSecret: String, redirectURI: String?) {
            self.clientId = clientId
            self.clientSecret = clientSecret
            self.redirectURI = redirectURI
        }
    }

    public init(
        ghlToken: String, ghlLocationId: String, ghlBaseURL: String, calltoolsKey: String, calltoolsBaseURL: String,
        ghlRate: (Int, Double), calltoolsRate: (Int, Double)
    ) {
        self.ghlToken = ghlToken
        self.ghlLocationId = ghlLocationId
        self.ghlBaseURL = ghlBaseURL
        self.calltoolsKey = calltoolsKey
        self.calltoolsBaseURL = calltoolsBaseURL
        self.ghlRate = ghlRate
        self.calltoolsRate = calltoolsRate
    }

    /// A missing or malformed variable, named in one line.
    public struct Error: Swift.Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
        init(_ message: String) { self.message = message }
    }

    /// The outbound budgets alone (`plan` forecasts with them, needing no keys).
    public static func budgets(_ env: [String: String]) throws(Error) -> PlanRunner.Budgets {
        PlanRunner.Budgets(
            calltools: try rate(env, "CALLTOOLS_RATE_LIMIT", "1000/3600"),
            ghl: try rate(env, "GHL_RATE_LIMIT", "100/10"))
    }

    static func rate(_ env: [String: String], _ name: String, _ fallback: String) throws(Error) -> (Int, Double) {
        let text = env[name] ?? fallback
        let parts = text.split(separator: "/")
        guard parts.count == 2, let n = Int(parts[0]), n > 0, n <= 1_000_000_000, let s = Double(parts[1]),
            s.isFinite, s >= 0.001, s <= 31_622_400
        else {
            throw Error("\(name) must be REQUESTS/SECONDS, like \(fallback); got '\(text)'")
        }
        return (n, s)
    }

    /// Reads the variables; a missing or malformed one is a one-line `Error`.
    public static func fromEnvironment(_ env: [String: String]) throws(Error) -> UpstreamSettings {
        func required(_ name: String, _ what: String) throws(Error) -> String {
            guard let v = env[name]?.trimmedASCII, !v.isEmpty else { throw Error("\(name) is not set (\(what))") }
            return v
        }
        func rate(_ name: String, _ fallback: String) throws(Error) -> (Int, Double) {
            try UpstreamSettings.rate(env, name, fallback)
        }
        var settle = Duration.seconds(30)
        if let text = env["LEADSYNC_CREATE_SETTLE_SECONDS"]?.trimmedASCII, !text.isEmpty {
            guard let n = Int(text), (0...3600).contains(n) else {
                throw Error(
                    "LEADSYNC_CREATE_SETTLE_SECONDS must be a whole number of seconds, 0 to 3600; got '\(text)'")
            }
            settle = .seconds(n)
        }
        var breaker = CircuitBreaker.Settings()
        if let text = env["LEADSYNC_BREAKER_FAILURES"]?.trimmedASCII, !text.isEmpty {
            guard let n = Int(text), (1...1000).contains(n) else {
                throw Error("LEADSYNC_BREAKER_FAILURES must be a whole number from 1 to 1000; got '\(text)'")
            }
            breaker.threshold = n
        }
        if let text = env["LEADSYNC_BREAKER_PROBE_MAX_SECONDS"]?.trimmedASCII, !text.isEmpty {
            guard let n = Int(text), (1...3600).contains(n) else {
                throw Error("LEADSYNC_BREAKER_PROBE_MAX_SECONDS must be a whole number from 1 to 3600; got '\(text)'")
            }
            breaker.probeCap = .seconds(n)
            breaker.probeFirst = min(breaker.probeFirst, breaker.probeCap)
        }
        // OAuth when a client id is set; a Private Integration token otherwise.
        var oauth: OAuthSettings?
        var vault: TokenVault?
        if let clientId = env["GHL_CLIENT_ID"]?.trimmedASCII, !clientId.isEmpty {
            oauth = OAuthSettings(
                clientId: clientId,
                clientSecret: try required("GHL_CLIENT_SECRET", "the Marketplace app's client secret"),
                redirectURI: env["GHL_OAUTH_REDIRECT_URI"].flatMap { $0.isEmpty ? nil : $0 })
            do {
                vault = try TokenVault.fromEnvironment(env)
            } catch {
                throw Error(error.message)
            }
            guard vault != nil else {
                throw Error(
                    "LEADSYNC_SECRET_KEY is not set: OAuth tokens are stored encrypted with it, and are not stored without it"
                )
            }
        }
        var settings = UpstreamSettings(
            ghlToken: oauth != nil
                ? "" : try required("GHL_API_KEY", "the GHL Private Integration token; or set GHL_CLIENT_ID for OAuth"),
            ghlLocationId: try required("GHL_LOCATION_ID", "the GHL sub-account id"),
            ghlBaseURL: env["GHL_BASE_URL"] ?? GHLClient.defaultBaseURL,
            calltoolsKey: try required("CALLTOOLS_API_KEY", "the CallTools API key"),
            calltoolsBaseURL: env["CALLTOOLS_BASE_URL"] ?? CallToolsClient.defaultBaseURL,
            ghlRate: try rate("GHL_RATE_LIMIT", "100/10"),
            calltoolsRate: try rate("CALLTOOLS_RATE_LIMIT", "1000/3600"))
        settings.createSettle = settle
        settings.breaker = breaker
        settings.oauth = oauth
        settings.vault = vault
        return settings
    }

    public var description: String {
        "GHL \(ghlBaseURL) location \(ghlLocationId) (\(oauth != nil ? "OAuth" : "token ****")), CallTools "
            + "\(calltoolsBaseURL) (key ****)"
    }

    /// The Marketplace app for these settings (nil with a Private Integration token): its
    /// connection for the location authorizes every GHL call.
    public func app(
        http: HTTPClient, store: LeadsyncDatabase, breaker: CircuitBreaker?, now: @escaping @Sendable () -> Timestamp,
        onEvent: @escaping @Sendable (GHLConnection.Event) -> Void = { _ in }
    ) -> GHLApp? {
        guard let oauth, let vault else { return nil }
        return GHLApp(
            oauth: GHLOAuthClient(
                baseURL: ghlBaseURL, clientId: oauth.clientId, clientSecret: oauth.clientSecret,
                redirectURI: oauth.redirectURI, client: http),
            store: store, vault: vault, breakers: [ghlLocationId: breaker], now: now, onEvent: onEvent)
    }

    /// Clients sharing one HTTP client, and one budget and one circuit breaker per account.
    /// With OAuth, `store` keeps the tokens and the app (third) authorizes GHL calls.
    public func clients(
        http: HTTPClient, store: LeadsyncDatabase? = nil, now: @escaping @Sendable () -> Timestamp = { .now() },
        onCall: @escaping @Sendable (CallRecord) -> Void = { _ in },
        onAuthEvent: @escaping @Sendable (GHLConnection.Event) -> Void = { _ in }, shared: SharedClients? = nil
    )
        -> (GHLClient, CallToolsClient, GHLApp?)
    {
        let ghlBreaker = shared?.ghlBreaker ?? CircuitBreaker(upstream: .ghl, settings: breaker)
        let app =
            shared != nil
            ? shared?.app
            : store.flatMap { self.app(http: http, store: $0, breaker: ghlBreaker, now: now, onEvent: onAuthEvent) }
        // cannot trap: `rate` took only 0.001 to 31,622,400 seconds
        let ghlBudget = TokenBucket(capacity: ghlRate.0, period: .milliseconds(Int64(ghlRate.1 * 1000)))
        let ctBudget =
            shared?.calltools.budget
            // cannot trap: as above
            ?? TokenBucket(capacity: calltoolsRate.0, period: .milliseconds(Int64(calltoolsRate.1 * 1000)))
        let ctBreaker = shared?.calltools.breaker ?? CircuitBreaker(upstream: .calltools, settings: breaker)
        return (
            GHLClient(
                baseURL: ghlBaseURL, token: ghlToken, locationId: ghlLocationId, client: http, budget: ghlBudget,
                retry: retry, breaker: ghlBreaker, tokenSource: app?.connections[ghlLocationId], onCall: onCall),
            CallToolsClient(
                baseURL: calltoolsBaseURL, apiKey: calltoolsKey, client: http, budget: ctBudget, retry: retry,
                breaker: ctBreaker, onCall: onCall),
            app
        )
    }
}

/// What the locations of one appliance share (`Appliance`): the Marketplace app (one install
/// serves every location), and per CallTools account one budget and one circuit breaker, so two
/// locations on one key spend one budget. Each location still has its own clients (its own GHL
/// budget, its own call metrics).
public struct SharedClients: Sendable {
    public var app: GHLApp?
    public var ghlBreaker: CircuitBreaker
    public var calltools: (budget: TokenBucket, breaker: CircuitBreaker)
    /// The account's contact and phone locks: two locations on one account never write one
    /// phone's CallTools contact at once.
    public var locks: ContactLocks

    public init(
        app: GHLApp?, ghlBreaker: CircuitBreaker, calltools: (budget: TokenBucket, breaker: CircuitBreaker),
        locks: ContactLocks = ContactLocks()
    ) {
        self.app = app
        self.ghlBreaker = ghlBreaker
        self.calltools = calltools
        self.locks = locks
    }
}

/// The HTTP client a command uses; shut down explicitly when the command ends.
public final class HTTPClientHandle: Sendable {
    public let client = UpstreamHTTP.makeClient()
    public init() {}
    public func shutdown() async { try? await client.shutdown() }
}
