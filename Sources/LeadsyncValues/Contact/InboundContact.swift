/// A contact as it arrived, with what the envelope said about it.
public struct InboundContact: Sendable {
    public enum Shape: String, Sendable {
        /// `GET /contacts/{id}` (`{"contact": {...}}`) or a bare contact object.
        case api
        /// A marketplace webhook (`ContactCreate`, `ContactUpdate`, ...), flat JSON.
        case marketplace
        /// A workflow "Custom Webhook" step: snake_case, `contact_id`, tags as one string.
        case workflow
    }

    public var contact: Contact
    public var shape: Shape
    /// Marketplace webhooks only: the de-duplication key.
    public var webhookId: String?
    /// Marketplace webhooks only: when GHL says the event happened.
    public var timestamp: Timestamp?
    /// `ContactDelete`: the contact must leave every managed bucket.
    public var deleted: Bool

    /// The contact event types leadsync acts on.
    public static let contactEventTypes: Set<String> = [
        "ContactCreate", "ContactUpdate", "ContactTagUpdate", "ContactDndUpdate", "ContactDelete",
    ]

    /// Recognises the shape of `json` and normalises it.
    ///
    /// A contact from GHL's API (search, `GET /contacts/{id}`, an export) carries its own `type`,
    /// the contact type (`lead`, `customer`): that is data, never an event. A marketplace webhook
    /// is recognised by its envelope: an event name in `type` (`ContactTagUpdate`, ...), or a
    /// `webhookId` / `timestamp` / `appId` beside it.
    ///
    /// - Parameters:
    ///   - defaultEventType: `event.type` for shapes that carry none (`manual` for the CLI,
    ///     `batch` for a sync pass).
    ///   - expecting: `.api` where the caller knows it holds a contact from the API (a search page,
    ///     a re-read): no key is then taken for an envelope.
    /// - Throws: `PayloadError` with a one-line reason; `isIgnorableEvent` is set for well-formed
    ///   marketplace events of other types (e.g. `OpportunityCreate`).
    public static func decode(
        _ json: JSON, catalog: CustomFieldCatalog = .empty, defaultEventType: String = "manual",
        expecting: Shape? = nil
    )
        throws(PayloadError) -> InboundContact
    {
        guard case .object(let object) = json else {
            throw PayloadError("expected a JSON object, found \(json.typeName)")
        }
        if case .object(let inner)? = object["contact"], object["contact_id"] == nil {
            return try decodeAPI(inner, catalog: catalog, eventType: defaultEventType)
        }
        if expecting == .api { return try decodeAPI(object, catalog: catalog, eventType: defaultEventType) }
        if object["contact_id"] != nil {
            return try decodeWorkflow(object, catalog: catalog)
        }
        if let typeValue = object["type"], case .event(let type) = classifyType(typeValue, in: object) {
            guard contactEventTypes.contains(type) else {
                throw PayloadError("event type '\(type)' does not concern contacts", ignorable: true)
            }
            return try decodeMarketplace(object, type: type, catalog: catalog)
        }
        if object["id"] == nil, object["contacts"] != nil {
            throw PayloadError("a list of contacts ('contacts'), not one contact: give its items one by one")
        }
        return try decodeAPI(object, catalog: catalog, eventType: defaultEventType)
    }

    enum TypeMeaning: Equatable {
        /// A webhook's event name.
        case event(String)
        /// The contact's own type (`lead`, `customer`): data.
        case contactType
    }

    /// What a top-level `type` means: an event name when the object has a webhook envelope
    /// (`webhookId`, `timestamp`, `appId`) or the value is one of GHL's event names (PascalCase
    /// like `ContactTagUpdate`, or upper case like `INSTALL`); otherwise the contact type.
    static func classifyType(_ value: JSON, in object: JSONObject) -> TypeMeaning {
        guard case .string(let type) = value else { return .contactType }
        if contactEventTypes.contains(type) { return .event(type) }
        let envelope = object["webhookId"] != nil || object["timestamp"] != nil || object["appId"] != nil
        if envelope && !type.isEmpty { return .event(type) }
        return looksLikeEventName(type) ? .event(type) : .contactType
    }

    /// `OpportunityCreate`, `InboundMessage`, `INSTALL`: ASCII letters only, starting upper case,
    /// with at least two upper-case letters. Contact types (`lead`, `customer`) are lower case.
    static func looksLikeEventName(_ s: String) -> Bool {
        var uppers = 0
        for (i, b) in s.utf8.enumerated() {
            let upper = b >= 0x41 && b <= 0x5A
            let lower = b >= 0x61 && b <= 0x7A
            guard upper || lower else { return false }
            if i == 0 && !upper { return false }
            if upper { uppers += 1 }
        }
        return uppers >= 2
    }

    static func requireId(_ value: JSON?, key: String) throws(PayloadError) -> String {
        switch value {
        case .string(let s)? where !s.trimmedASCII.isEmpty: return s.trimmedASCII
        case nil, .null?: throw PayloadError("no contact id ('\(key)')")
        default: throw PayloadError("'\(key)' must be a non-empty string")
        }
    }

    static func decodeAPI(
        _ object: JSONObject, catalog: CustomFieldCatalog, eventType: String
    )
        throws(PayloadError) -> InboundContact
    {
        let id = try requireId(object["id"], key: "id")
        var fields = JSONObject()
        fields.entries.reserveCapacity(object.entries.count)
        var tags: [String] = []
        var customFields: [CustomFieldValue] = []
        for entry in object.entries {
            switch entry.key {
            case "tags": tags = try tagList(entry.value)
            case "customFields", "customField": customFields = try customFieldList(entry.value, catalog: catalog)
            case "dnd", "dndSettings", "inboundDndSettings":
                fields.entries.append(.init(key: entry.key, value: try DNDValues.normalised(entry.key, entry.value)))
            default: fields.entries.append(entry)
            }
        }
        let contact = Contact(id: id, fields: fields, tags: tags, customFields: customFields, eventType: eventType)
        return InboundContact(contact: contact, shape: .api, webhookId: nil, timestamp: nil, deleted: false)
    }

    static func decodeMarketplace(
        _ object: JSONObject, type: String, catalog: CustomFieldCatalog
    )
        throws(PayloadError) -> InboundContact
    {
        let id = try requireId(object["id"], key: "id")
        var fields = JSONObject()
        var tags: [String] = []
        var customFields: [CustomFieldValue] = []
        var webhookId: String?
        var timestamp: Timestamp?
        for entry in object.entries {
            switch entry.key {
            case "type": continue
            case "webhookId": webhookId = entry.value.stringValue
            case "timestamp": timestamp = entry.value.stringValue.flatMap(Timestamp.init(iso8601:))
            case "tags": tags = try tagList(entry.value)
            case "customFields", "customField": customFields = try customFieldList(entry.value, catalog: catalog)
            case "dnd", "dndSettings", "inboundDndSettings":
                fields.entries.append(.init(key: entry.key, value: try DNDValues.normalised(entry.key, entry.value)))
            default: fields.entries.append(entry)
            }
        }
        let contact = Contact(id: id, fields: fields, tags: tags, customFields: customFields, eventType: type)
        return InboundContact(
            contact: contact, shape: .marketplace, webhookId: webhookId, timestamp: timestamp,
            deleted: type == "ContactDelete")
    }

    /// Workflow keys that map onto GHL contact fields.
    static let workflowFieldNames: [String: String] = [
        "first_name": "firstName", "last_name": "lastName", "full_name": "name", "email": "email", "phone": "phone",
        "country": "country", "timezone": "timezone", "contact_source": "source", "contact_type": "type",
        "date_created": "dateAdded", "company_name": "companyName", "address1": "address1", "city": "city",
        "state": "state", "postal_code": "postalCode", "date_of_birth": "dateOfBirth", "assigned_to": "assignedTo",
        "dnd": "dnd", "website": "website",
    ]

    /// Workflow keys that are envelope, not contact data.
    static let workflowEnvelopeKeys: Set<String> = [
        "contact_id", "tags", "customData", "location", "workflow", "triggerData", "contact", "user",
        "attributionSource", "lastAttributionSource", "message", "calendar", "full_address", "id",
    ]

    static func decodeWorkflow(_ object: JSONObject, catalog: CustomFieldCatalog) throws(PayloadError) -> InboundContact
    {
        let id = try requireId(object["contact_id"], key: "contact_id")
        var fields = JSONObject()
        var customFields: [CustomFieldValue] = []
        for entry in object.entries {
            if let mapped = workflowFieldNames[entry.key] {
                let value = mapped == "dnd" ? try DNDValues.normalised(mapped, entry.value) : entry.value
                if !value.isNull { fields[mapped] = value }
            } else if !workflowEnvelopeKeys.contains(entry.key) {
                switch entry.value {
                case .object, .null: continue
                default:
                    // Custom fields arrive as top-level keys named by their display names.
                    let def = catalog.definitions.first { $0.name.foldedForComparison == entry.key.foldedForComparison }
                    customFields.append(
                        CustomFieldValue(id: def?.id, key: def?.key, name: entry.key, value: entry.value))
                }
            }
        }
        if let location = object["location"]?["id"]?.stringValue { fields["locationId"] = .string(location) }
        switch object["customData"] {
        case .object(let data)?: fields["customData"] = .object(data)
        case .string(let text)?:
            // Some workflow steps send customData as a JSON string.
            if let parsed = try? JSONParser.parse(text), case .object = parsed { fields["customData"] = parsed }
        default: break
        }
        let tags = try tagList(object["tags"] ?? .null)
        let contact = Contact(id: id, fields: fields, tags: tags, customFields: customFields, eventType: "workflow")
        return InboundContact(contact: contact, shape: .workflow, webhookId: nil, timestamp: nil, deleted: false)
    }

    /// Tags as an array of strings, or (workflow) one comma-separated string.
    static func tagList(_ value: JSON) throws(PayloadError) -> [String] {
        switch value {
        case .null: return []
        case .string(let s): return s.split(separator: ",").map { String($0).trimmedASCII }.filter { !$0.isEmpty }
        case .array(let items):
            var tags: [String] = []
            tags.reserveCapacity(items.count)
            for item in items {
                guard let s = item.stringValue else {
                    throw PayloadError("'tags' must hold strings, found \(item.typeName)")
                }
                tags.append(s)
            }
            return tags
        default: throw PayloadError("'tags' must be an array or a comma-separated string, found \(value.typeName)")
        }
    }

    static func customFieldList(_ value: JSON, catalog: CustomFieldCatalog) throws(PayloadError) -> [CustomFieldValue] {
        switch value {
        case .null: return []
        case .array(let items):
            var result: [CustomFieldValue] = []
            for item in items {
                guard case .object(let o) = item else {
                    throw PayloadError("'customFields' entries must be objects, found \(item.typeName)")
                }
                let id = o["id"]?.stringValue
                let key = o["key"]?.stringValue ?? o["fieldKey"]?.stringValue
                let def = id.flatMap(catalog.definition(id:))
                let v = o["value"] ?? o["fieldValue"] ?? .null
                result.append(CustomFieldValue(id: id, key: key ?? def?.key, name: def?.name, value: v))
            }
            return result
        case .object(let o):
            // Tolerate `{"key": value}` maps (hand-written test contacts).
            return o.entries.map { CustomFieldValue(key: $0.key, value: $0.value) }
        default: throw PayloadError("'customFields' must be an array, found \(value.typeName)")
        }
    }
}
