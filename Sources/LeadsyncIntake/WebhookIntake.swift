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
        notBefore: Timestamp? = nil
    ) -> IntakeVerdict {
        switch signature {
        case .valid: break
        case .missing: return .unauthorized("no x-ghl-signature or x-wh-signature header")
        case .invalid(let reason): return .unauthorized(reason)
        }
        return envelope(body: body, notBefore: notBefore)
    }

    /// A signed marketplace webhook's envelope: its event type, contact id, age.
    public static func envelope(body: [UInt8], notBefore: Timestamp? = nil) -> IntakeVerdict {
        let o: JSONObject
        switch object(body) {
        case .success(let parsed): o = parsed
        case .failure(let refusal): return refusal.verdict
        }
        guard let typeValue = o["type"] else { return .badRequest("no 'type' (the GHL event name)") }
        guard let type = typeValue.stringValue, !type.isEmpty else {
            return .badRequest("'type' must be a non-empty string")
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

    /// A workflow webhook (the shared secret was checked by the caller).
    public static func workflow(body: [UInt8]) -> IntakeVerdict {
        let o: JSONObject
        switch object(body) {
        case .success(let parsed): o = parsed
        case .failure(let refusal): return refusal.verdict
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
