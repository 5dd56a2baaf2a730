import AsyncHTTPClient
import LeadsyncValues
import NIOCore
import NIOHTTP1

/// What GHL's token endpoint answered: a token pair and whose it is. Never printed.
public struct OAuthGrant: Sendable, Equatable {
    public var accessToken: String
    public var refreshToken: String
    /// Seconds the access token lives (GHL: about 86,399).
    public var expiresIn: Int
    /// `Location` or `Company`.
    public var userType: String
    public var locationId: String?
    public var companyId: String?
    public var scope: String?

    public init(
        accessToken: String, refreshToken: String, expiresIn: Int, userType: String, locationId: String?,
        companyId: String?, scope: String? = nil
    ) {
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.expiresIn = expiresIn
        self.userType = userType
        self.locationId = locationId
        self.companyId = companyId
        self.scope = scope
    }

    /// GHL's token answer; nil when a required part is missing. `expires_in` is checked: a
    /// value past a year (or not a number) is taken as a day, never trusted to trap.
    public static func parse(_ body: JSON) -> OAuthGrant? {
        guard let access = body["access_token"]?.stringValue, !access.isEmpty,
            let refresh = body["refresh_token"]?.stringValue, !refresh.isEmpty
        else { return nil }
        var expires = 86_399
        if case .number(let n)? = body["expires_in"], n.isFinite, n >= 1, n <= 366 * 86_400 { expires = Int(n) }
        return OAuthGrant(
            accessToken: access, refreshToken: refresh, expiresIn: expires,
            userType: body["userType"]?.stringValue ?? "Location",
            locationId: body["locationId"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 },
            companyId: body["companyId"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 },
            scope: body["scope"]?.stringValue)
    }
}

/// A failed token request. Carries GHL's error code and description, never a token.
public struct OAuthError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// GHL answered with an error status (`error` is the OAuth error code, if any).
        case rejected(status: Int, error: String, description: String)
        /// No answer: `sent` says whether the request may have reached GHL.
        case unreachable(String, sent: Bool)
        /// An answer without a token pair.
        case invalidResponse(String)
    }
    public var call: String
    public var kind: Kind

    /// GHL will never accept this grant again (a refresh token already used, revoked, or a code
    /// already exchanged): only a person reconnecting the app helps.
    public var grantSpent: Bool {
        guard case .rejected(let status, let error, _) = kind else { return false }
        return error == "invalid_grant" || (status == 401 && error != "invalid_client")
    }

    /// Worth trying again with the same grant (nothing says GHL took it).
    public var isTransient: Bool {
        switch kind {
        case .rejected(let status, _, _): return status == 429 || status >= 500
        case .unreachable: return true
        case .invalidResponse: return false
        }
    }

    public var description: String {
        switch kind {
        case .rejected(let status, let error, let description):
            let what = [error, description].filter { !$0.isEmpty }.joined(separator: ": ")
            return "ghl \(call): HTTP \(status)" + (what.isEmpty ? "" : " (\(what))")
        case .unreachable(let m, _): return "ghl \(call): connection failed: \(m)"
        case .invalidResponse(let m): return "ghl \(call): unexpected answer: \(m)"
        }
    }
}

/// GHL's OAuth 2 endpoints for a Marketplace app: `POST /oauth/token` (authorization code and
/// refresh grants, form-encoded) and `POST /oauth/locationToken` (an agency token mints a
/// location's). Each call is one request: a refresh token is single-use, so a refresh whose
/// answer was lost is never sent again blindly (the caller decides, knowing what it committed).
public struct GHLOAuthClient: Sendable {
    public let baseURL: String
    public let clientId: String
    let clientSecret: String
    public let redirectURI: String?
    let client: HTTPClient
    let timeout: Duration

    public init(
        baseURL: String = GHLClient.defaultBaseURL, clientId: String, clientSecret: String, redirectURI: String?,
        client: HTTPClient, timeout: Duration = .seconds(15)
    ) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.clientId = clientId
        self.clientSecret = clientSecret
        self.redirectURI = redirectURI
        self.client = client
        self.timeout = timeout
    }

    /// Exchanges an install's authorization code.
    public func exchange(code: String, userType: String) async throws(OAuthError) -> OAuthGrant {
        var form = [
            ("client_id", clientId), ("client_secret", clientSecret), ("grant_type", "authorization_code"),
            ("code", code), ("user_type", userType),
        ]
        if let redirectURI { form.append(("redirect_uri", redirectURI)) }
        return try await post("/oauth/token", form: form, bearer: nil)
    }

    /// Spends `refreshToken` for a new pair (the answer's refresh token replaces it).
    public func refresh(_ refreshToken: String, userType: String) async throws(OAuthError) -> OAuthGrant {
        try await post(
            "/oauth/token",
            form: [
                ("client_id", clientId), ("client_secret", clientSecret), ("grant_type", "refresh_token"),
                ("refresh_token", refreshToken), ("user_type", userType),
            ], bearer: nil)
    }

    /// An agency token mints a token for one of its locations.
    public func locationToken(
        companyToken: String, companyId: String, locationId: String
    ) async throws(OAuthError)
        -> OAuthGrant
    {
        var grant = try await post(
            "/oauth/locationToken", form: [("companyId", companyId), ("locationId", locationId)], bearer: companyToken)
        grant.userType = "Location"
        if grant.locationId == nil { grant.locationId = locationId }
        return grant
    }

    func post(_ path: String, form: [(String, String)], bearer: String?) async throws(OAuthError) -> OAuthGrant {
        let call = "POST \(path)"
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        if let bearer {
            request.headers.add(name: "Authorization", value: "Bearer \(bearer)")
            request.headers.add(name: "Version", value: GHLClient.version)
        }
        let encoded = form.map { "\(UpstreamHTTP.percentEncode($0.0))=\(UpstreamHTTP.percentEncode($0.1))" }
            .joined(separator: "&")
        request.body = .bytes(ByteBuffer(string: encoded))
        let status: Int
        let bytes: [UInt8]
        do {
            let response = try await client.execute(request, timeout: .nanoseconds(timeout.nanoseconds))
            status = Int(response.status.code)
            bytes = Array(try await response.body.collect(upTo: 1 << 20).readableBytesView)
        } catch let error as HTTPClientError {
            switch error {
            case .connectTimeout: throw OAuthError(call: call, kind: .unreachable("connect timeout", sent: false))
            case .deadlineExceeded, .readTimeout:
                throw OAuthError(call: call, kind: .unreachable("no answer before the deadline", sent: true))
            default: throw OAuthError(call: call, kind: .unreachable(UpstreamHTTP.plain(error), sent: true))
            }
        } catch {
            throw OAuthError(call: call, kind: .unreachable(UpstreamHTTP.plain(error), sent: false))
        }
        let body = (try? JSONParser.parse(bytes)) ?? .null
        guard (200..<300).contains(status) else {
            // OAuth's `{"error", "error_description"}`, or GHL's `{"statusCode", "message"}`;
            // only short, plain text of it is kept (an echoed grant must not reach a log).
            func short(_ j: JSON?) -> String {
                guard let s = j?.stringValue else { return "" }
                return String(s.prefix(120))
            }
            throw OAuthError(
                call: call,
                kind: .rejected(
                    status: status, error: short(body["error"]),
                    description: short(body["error_description"] ?? body["message"])))
        }
        guard let grant = OAuthGrant.parse(body) else {
            throw OAuthError(call: call, kind: .invalidResponse("no access_token and refresh_token"))
        }
        return grant
    }
}
