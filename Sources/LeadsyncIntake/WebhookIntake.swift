import LeadsyncValues

/// What `/webhook/ghl` and `/webhook/ghl-workflow` decide about one request, before storing.
/// Pure: bytes and headers in, a verdict out (and a fuzz target: Fuzz/).
public enum IntakeVerdict: Equatable, Sendable {
    /// Store it.
    case store(NewInboxEvent)
    /// Well-formed and signed, but not to be applied: 200 `ignored`, with the reason (a metric
    /// label: `not-a-contact-event`, `too-old`) and what to log.
    case ignored(reason: String, detail: String)
    /// 400 with the reason.
    case badRequest(String)
    /// 401 with the reason.
    case unauthorized(String)
    /// The app was installed or uninstalled (`INSTALL`, `UNINSTALL`): acted on at once, not queued.
    case app(AppEvent)
}

/// A Marketplace app's lifecycle event.
public struct AppEvent: Equatable, Sendable {
    /// `INSTALL` or `UNINSTALL`.
    public var type: String
    /// Nil for an agency-wide event.
    public var locationId: String?
    public var companyId: String?
}

/// Whose events this appliance takes: GHL signs every app's webhooks with one key, so a valid
/// signature proves the event came from GHL, not that it is ours.
public struct Audience: Equatable, Sendable {
    /// The configured locations.
    public var locations: Set<String>
    /// The Marketplace app's id (`GHL_APP_ID`): events of another app are not ours. Nil: not checked.
    public var appId: String?

    public init(locations: Set<String>, appId: String? = nil) {
        self.locations = locations
        self.appId = appId
    }
}

/// What checking a marketplace webhook's signature said (the caller verifies: the crypto lives in
/// `LeadsyncWebhooks`, and this module stays pure and cheap to fuzz).
public enum SignatureCheck: Sendable, Equatable {
    case valid
    /// Neither `x-ghl-signature` nor `x-wh-signature`.
    case missing
    /// Malformed, or not matching the body: the reason.
    case invalid(String)
}

public enum WebhookIntake {
    /// A marketplace webhook: signature over the exact bytes first, then the envelope.
    /// `notBefore`: events with an older GHL `timestamp` are ignored (a replay past the window).
    public static func marketplace(
        body: [UInt8], signature: SignatureCheck,
        notBefore: Timestamp? = nil, audience: Audience? = nil
    ) -> IntakeVerdict {
        switch signature {
        case .valid: break
        case .missing: return .unauthorized("no x-ghl-signature or x-wh-signature header")
        case .invalid(let reason): return .unauthorized(reason)
        }
        return envelope(body: body, notBefore: notBefore, audience: audience)
    }

    /// The app lifecycle events.
    public static let appEventTypes: Set<String> = ["INSTALL", "UNINSTALL"]

    /// A signed marketplace webhook's envelope: whose it is, its event type, contact id, age.
    public static func envelope(body: [UInt8], notBefore: Timestamp? = nil, audience: Audience? = nil) -> IntakeVerdict
    {
        let o: JSONObject
        switch object(body) {
        case .success(let parsed): o = parsed
        case .failure(let refusal): return refusal.verdict
        }
        guard let typeValue = o["type"] else { return .badRequest("no 'type' (the GHL event name)") }
        guard let type = typeValue.stringValue, !type.isEmpty else {
            return .badRequest("'type' must be a non-empty string")
        }
        let location = o["locationId"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        if let audience {
            if let appId = audience.appId, o["appId"]?.stringValue != appId {
                return .ignored(
                    reason: "other_app", detail: "appId \(o["appId"]?.stringValue ?? "(none)") is not \(appId)")
            }
            // An agency-wide app event names a company and no location.
            let agencyWide = appEventTypes.contains(type) && location == nil && o["companyId"]?.stringValue != nil
            if !agencyWide, !(location.map(audience.locations.contains) ?? false) {
                return .ignored(
                    reason: "unknown_location", detail: "locationId \(location ?? "(none)") is not configured here")
            }
        }
        if appEventTypes.contains(type) {
            return .app(
                AppEvent(
                    type: type, locationId: location,
                    companyId: o["companyId"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }))
        }
        guard InboundContact.contactEventTypes.contains(type) else {
            return .ignored(reason: "not-a-contact-event", detail: "event type \(type)")
        }
        if let notBefore, let stamp = o["timestamp"]?.stringValue.flatMap(Timestamp.init(iso8601:)),
            stamp < notBefore
        {
            return .ignored(
                reason: "too-old", detail: "timestamp \(stamp.iso8601) is before \(notBefore.iso8601)")
        }
        guard let id = o["id"]?.stringValue?.trimmedASCII ?? o["contactId"]?.stringValue?.trimmedASCII, !id.isEmpty
        else {
            return .badRequest("no contact id ('id')")
        }
        let webhookId = o["webhookId"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        return .store(
            NewInboxEvent(
                webhookId: webhookId, contactId: id, eventType: type, source: "marketplace",
                body: String(decoding: body, as: UTF8.self)))
    }

    struct Refusal: Error {
        var verdict: IntakeVerdict
    }

    /// The body as a JSON object, or the 400 that says why it is not one.
    static func object(_ body: [UInt8]) -> Result<JSONObject, Refusal> {
        let json: JSON
        do {
            json = try JSONParser.parse(body)
        } catch {
            return .failure(Refusal(verdict: .badRequest("body is not JSON: \(error.message)")))
        }
        guard case .object(let o) = json else {
            return .failure(Refusal(verdict: .badRequest("body must be a JSON object, found \(json.typeName)")))
        }
        return .success(o)
    }

    /// A workflow webhook (the shared secret was checked by the caller). Its location, when the
    /// payload names one (`location.id`, else `locationId`), must be one of `audience`'s.
    public static func workflow(body: [UInt8], audience: Audience? = nil) -> IntakeVerdict {
        let o: JSONObject
        switch object(body) {
        case .success(let parsed): o = parsed
        case .failure(let refusal): return refusal.verdict
        }
        if let audience, let named = o["location"]?["id"] ?? o["locationId"] {
            guard let location = named.stringValue, audience.locations.contains(location) else {
                return .ignored(
                    reason: "unknown_location",
                    detail: "location \(named.stringValue ?? named.typeName) is not configured here")
            }
        }
        guard let id = o["contact_id"]?.stringValue?.trimmedASCII, !id.isEmpty else {
            return .badRequest("no 'contact_id'")
        }
        return .store(
            NewInboxEvent(
                webhookId: nil, contactId: id, eventType: "workflow", source: "workflow",
                body: String(decoding: body, as: UTF8.self)))
    }
}
