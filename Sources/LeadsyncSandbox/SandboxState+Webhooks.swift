import LeadsyncValues

/// The sandbox GHL's webhooks: when a contact's tags (or fields) change through its API, it
/// emits the marketplace event GHL would, flat JSON with `type`, `locationId`, `id`, the
/// contact's fields, `timestamp` and a fresh `webhookId`. Delivery and signing belong to whoever
/// set the sink (the server's `SandboxWebhookEmitter`), as GHL's own delivery is not the API's.
extension SandboxState {
    /// Receives every emitted event body; nil (the default) emits nothing.
    public func setWebhookSink(_ sink: (@Sendable (JSONObject) -> Void)?) { webhookSink = sink }

    /// The contact properties GHL's webhook schemas list (`upstream/apps/webhook-Contact*.md`).
    /// Everything else the contact has (`dndSettings` above all, `dateUpdated`, the contact
    /// `type`) is absent from the event.
    static let webhookContactKeys: Set<String> = [
        "address1", "city", "companyName", "country", "source", "dateAdded", "dateOfBirth", "dnd", "email", "name",
        "firstName", "lastName", "phone", "postalCode", "state", "tags", "website", "attachments", "assignedTo",
        "customFields",
    ]

    /// Emits `type` for the contact as it is now, with only the properties its schema lists:
    /// `dndSettings` comes with `ContactDndUpdate` alone.
    func emit(_ type: String, contact: JSONObject) {
        guard let webhookSink, let id = contact["id"] else { return }
        var event = JSONObject()
        event["type"] = .string(type)
        event["locationId"] = .string(locationId)
        // Marketplace events carry the app's id (upstreams.md).
        event["appId"] = .string(appId)
        event["id"] = id
        for e in contact.entries
        where Self.webhookContactKeys.contains(e.key) || (type == "ContactDndUpdate" && e.key == "dndSettings") {
            // GHL omits empty fields from webhooks.
            if case .null = e.value { continue }
            if case .string(let s) = e.value, s.isEmpty { continue }
            event[e.key] = e.value
        }
        event["timestamp"] = .string(Timestamp(milliseconds: nowMs()).iso8601)
        event["webhookId"] = .string(Self.uuid())
        webhookSink(event)
    }

    /// Emits a `ContactDndUpdate` for a contact whose DND settings a test changed directly.
    public func emitDndUpdate(_ id: String) {
        if let c = ghlContacts[id] { emit("ContactDndUpdate", contact: c) }
    }

    /// Emits a `ContactTagUpdate` for a contact whose tags a test or the demo changed directly.
    public func emitTagUpdate(_ id: String) {
        if let c = ghlContacts[id] { emit("ContactTagUpdate", contact: c) }
    }

    /// A random (version 4) UUID in its usual text form.
    /// System randomness, not the sandbox's seeded generator: ids must differ between runs, or a
    /// server keeping its database across sandbox restarts would take new events for duplicates.
    static func uuid() -> String {
        let hex = Array("0123456789abcdef")
        var out = ""
        for i in 0..<32 {
            if [8, 12, 16, 20].contains(i) { out.append("-") }
            var nibble = Int.random(in: 0..<16)
            if i == 12 { nibble = 4 }
            if i == 16 { nibble = 8 | (nibble & 3) }
            out.append(hex[nibble])
        }
        return out
    }
}
