import LeadsyncValues

/// The sandbox GHL as a Marketplace app's authorization server (upstreams.md, "OAuth"):
/// `POST /oauth/token` (form-encoded; `authorization_code` and `refresh_token` grants),
/// `POST /oauth/locationToken` (an agency token mints a location's), `GET /oauth/chooselocation`
/// (the install screen: redirects to the app with a code). Access tokens expire after
/// `accessTokenSeconds`; a refresh token works once, and its reuse is refused as GHL refuses it.
public struct SandboxOAuthApp: Sendable {
    public var clientId: String
    public var clientSecret: String
    /// How long an access token lives (GHL: 86,399 s; seconds in tests).
    public var accessTokenSeconds: Int
    public var companyId: String

    public init(
        clientId: String = "sandbox-client-id", clientSecret: String = "sandbox-client-secret",
        accessTokenSeconds: Int = 86_399, companyId: String = "sandboxCompany0001"
    ) {
        self.clientId = clientId
        self.clientSecret = clientSecret
        self.accessTokenSeconds = accessTokenSeconds
        self.companyId = companyId
    }
}

struct SandboxGrantHolder: Sendable {
    var userType: String
    var locationId: String?
    var companyId: String
    var expiresAtMs: Int64
}

extension SandboxState {
    /// Turns OAuth on: GHL then takes (besides the fixed token) the access tokens it issued.
    public func enableOAuth(_ app: SandboxOAuthApp) { oauthApp = app }

    /// What a person installing the app does: a fresh authorization code for this location
    /// (`Location`) or the agency (`Company`).
    public func issueCode(userType: String = "Location") -> String {
        let code = "code-" + Self.uuid()
        codes[code] = userType
        return code
    }

    /// Every access and refresh token issued so far (tests search the database file for them).
    public func issuedTokens() -> [String] {
        Array(accessTokens.keys) + Array(refreshTokens.keys) + Array(spentRefreshTokens)
    }

    /// Spends every live refresh token, as another copy of the app refreshing would: the next
    /// refresh with any of them is refused as reused.
    public func spendAllRefreshTokens() {
        for token in refreshTokens.keys { spentRefreshTokens.insert(token) }
        refreshTokens.removeAll()
    }

    /// How many refresh grants were answered, and how many refused as reused.
    public var oauthCounts: (refreshed: Int, reusedRefused: Int, expiredRefused: Int) {
        (oauthRefreshed, oauthReuseRefused, oauthExpiredRefused)
    }

    /// Whether an API call's bearer is accepted for this location, and if not, GHL's answer.
    func ghlBearerAccepted(_ authorization: String?) -> Bool {
        guard let authorization, authorization.hasPrefix("Bearer ") else { return false }
        let token = String(authorization.dropFirst(7))
        if token == ghlToken { return true }
        guard let holder = accessTokens[token] else { return false }
        if holder.expiresAtMs <= nowMs() {
            oauthExpiredRefused += 1
            return false
        }
        return holder.userType == "Location" && holder.locationId == locationId
    }

    static func oauthError(_ status: Int, _ error: String, _ description: String) -> SandboxResponse {
        .json(
            status,
            .object(JSONObject(["error": .string(error), "error_description": .string(description)])))
    }

    /// `/oauth/...`.
    func handleOAuth(
        method: String, path: String, query: [String: String], headers: [String: String], body: [UInt8]
    ) -> SandboxResponse {
        guard let app = oauthApp else { return Self.ghlError(404, "Cannot \(method) \(path)") }
        switch (method, path) {
        case ("GET", "/oauth/chooselocation"):
            guard let redirect = query["redirect_uri"], query["client_id"] == app.clientId else {
                return Self.oauthError(400, "invalid_request", "client_id and redirect_uri are required")
            }
            let code = issueCode(userType: query["user_type"] ?? "Location")
            return SandboxResponse(
                status: 302, headers: [("Location", redirect + (redirect.contains("?") ? "&" : "?") + "code=" + code)],
                body: nil)
        case ("POST", "/oauth/token"):
            guard (headers["content-type"] ?? "").lowercased().hasPrefix("application/x-www-form-urlencoded") else {
                return Self.oauthError(400, "invalid_request", "body must be application/x-www-form-urlencoded")
            }
            let f = FormEncoding.fields(body)
            guard f["client_id"] == app.clientId, f["client_secret"] == app.clientSecret else {
                return Self.oauthError(401, "invalid_client", "Invalid client credentials")
            }
            switch f["grant_type"] {
            case "authorization_code":
                guard let code = f["code"], let userType = codes.removeValue(forKey: code) else {
                    return Self.oauthError(400, "invalid_grant", "Invalid authorization code")
                }
                return grant(
                    userType: userType, locationId: userType == "Company" ? nil : locationId, app: app)
            case "refresh_token":
                guard let token = f["refresh_token"] else {
                    return Self.oauthError(400, "invalid_request", "refresh_token is required")
                }
                guard let holder = refreshTokens.removeValue(forKey: token) else {
                    if spentRefreshTokens.contains(token) { oauthReuseRefused += 1 }
                    return Self.oauthError(400, "invalid_grant", "Invalid grant: refresh token is invalid")
                }
                spentRefreshTokens.insert(token)
                oauthRefreshed += 1
                return grant(userType: holder.userType, locationId: holder.locationId, app: app)
            default:
                return Self.oauthError(
                    400, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token")
            }
        case ("POST", "/oauth/locationToken"):
            guard let auth = headers["authorization"], auth.hasPrefix("Bearer "),
                let holder = accessTokens[String(auth.dropFirst(7))], holder.userType == "Company",
                holder.expiresAtMs > nowMs()
            else { return Self.ghlError(401, "Invalid JWT") }
            let f = FormEncoding.fields(body)
            guard f["companyId"] == holder.companyId, f["locationId"] == locationId else {
                return Self.ghlError(400, "Location not found for this company")
            }
            return grant(userType: "Location", locationId: locationId, app: app)
        default:
            return Self.ghlError(404, "Cannot \(method) \(path)")
        }
    }

    func grant(userType: String, locationId: String?, app: SandboxOAuthApp) -> SandboxResponse {
        let access = "at-" + Self.uuid()
        let refresh = "rt-" + Self.uuid()
        let holder = SandboxGrantHolder(
            userType: userType, locationId: locationId, companyId: app.companyId,
            expiresAtMs: nowMs() + Int64(app.accessTokenSeconds) * 1000)
        accessTokens[access] = holder
        refreshTokens[refresh] = holder
        var o = JSONObject()
        o["access_token"] = .string(access)
        o["token_type"] = .string("Bearer")
        o["expires_in"] = .number(Double(app.accessTokenSeconds))
        o["refresh_token"] = .string(refresh)
        o["scope"] = .string("contacts.readonly contacts.write locations/customFields.readonly")
        o["userType"] = .string(userType)
        if let locationId { o["locationId"] = .string(locationId) }
        o["companyId"] = .string(app.companyId)
        o["userId"] = .string("sandboxUser0001")
        return .json(200, .object(o))
    }

    /// The app's `INSTALL` / `UNINSTALL` event for this location, as GHL delivers it.
    public func emitAppEvent(_ type: String) {
        guard let webhookSink else { return }
        var event = JSONObject()
        event["type"] = .string(type)
        event["appId"] = .string(appId)
        event["versionId"] = .string(appId)
        event["locationId"] = .string(locationId)
        event["companyId"] = .string(oauthApp?.companyId ?? "sandboxCompany0001")
        event["timestamp"] = .string(Timestamp(milliseconds: nowMs()).iso8601)
        event["webhookId"] = .string(Self.uuid())
        webhookSink(event)
    }
}
