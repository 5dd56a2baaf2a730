/// A GHL contact, normalised: the one shape the engine evaluates, whatever brought it in (an API
/// read, a marketplace webhook, a workflow webhook, a batch page, a test case).
///
/// `fields` holds GHL's camelCase contact fields as they came (`firstName`, `dndSettings`, ...),
/// with `tags` and `customFields` taken out into typed properties. Tags are folded once here
/// (trimmed, lower-cased) so that evaluating rules never folds a tag twice.
public struct Contact: Sendable {
    /// Immutable shared storage: contacts are passed around a lot (into closures, collections,
    /// tasks) and one reference to retain is far cheaper than seven. Reads of `let` properties
    /// need no exclusivity checks; a mutation (rare: construction, tests) replaces the storage.
    package final class Storage: Sendable {
        package let id: String
        package let fields: JSONObject
        package let tags: [String]
        package let foldedTags: [String]
        package let tagHashes: [UInt64]
        /// `TagHash.of` each key of `fields`, in order: lookups compare these before strings.
        package let keyHashes: [UInt64]
        /// Bit `hash & 63` set for each key's hash: a field that is absent (most contacts have
        /// no `dndSettings`) is usually known absent without scanning the keys.
        package let keyMask: UInt64
        package let customFields: [CustomFieldValue]
        package let eventType: String

        init(id: String, fields: JSONObject, tags: [String], customFields: [CustomFieldValue], eventType: String) {
            self.id = id
            self.fields = fields
            self.keyHashes = fields.entries.map { TagHash.of($0.key) }
            self.keyMask = keyHashes.reduce(0) { $0 | 1 << ($1 & 63) }
            self.tags = tags.filter { !$0.trimmedASCII.isEmpty }
            self.foldedTags = self.tags.map(\.foldedForComparison)
            self.tagHashes = self.foldedTags.map(TagHash.of)
            self.customFields = customFields
            self.eventType = eventType
        }

        /// `Contact.withField`.
        @inline(__always)
        func withField<R>(_ name: String, hash: UInt64, _ body: (UnsafePointer<JSONObject.Entry>?) -> R) -> R {
            if keyMask & 1 << (hash & 63) == 0 { return body(nil) }
            return keyHashes.withUnsafeBufferPointer { hashes in
                fields.entries.withUnsafeBufferPointer { entries in
                    for i in 0..<hashes.count where hashes[i] == hash && entries[i].key == name {
                        // cannot trap: entries[i] exists, so the buffer has a base address.
                        return body(entries.baseAddress! + i)
                    }
                    return body(nil)
                }
            }
        }

        func with(
            id: String? = nil, fields: JSONObject? = nil, tags: [String]? = nil,
            customFields: [CustomFieldValue]? = nil, eventType: String? = nil
        ) -> Storage {
            Storage(
                id: id ?? self.id, fields: fields ?? self.fields, tags: tags ?? self.tags,
                customFields: customFields ?? self.customFields, eventType: eventType ?? self.eventType)
        }
    }

    package private(set) var storage: Storage

    /// The GHL contact id; also `fields["id"]`, where rules read it (`{{ id }}`), kept the same.
    public var id: String {
        get { storage.id }
        set {
            var fields = storage.fields
            fields["id"] = .string(newValue)
            storage = storage.with(id: newValue, fields: fields)
        }
    }

    /// GHL's camelCase fields, without `tags` and `customFields` (see the type's comment).
    public var fields: JSONObject {
        get { storage.fields }
        set { storage = storage.with(fields: newValue) }
    }

    /// Tags as GHL spells them, for output and write-backs.
    public var tags: [String] { storage.tags }
    /// The same tags trimmed and lower-cased, in the same order.
    public var foldedTags: [String] { storage.foldedTags }
    /// `TagHash.of` each folded tag: tag tests compare these before comparing strings.
    public var tagHashes: [UInt64] { storage.tagHashes }

    public var customFields: [CustomFieldValue] {
        get { storage.customFields }
        set { storage = storage.with(customFields: newValue) }
    }

    /// What brought the contact in: a GHL event type (`ContactTagUpdate`, ...), `workflow`,
    /// `batch` or `manual`. Rules see it as `event.type`.
    public var eventType: String {
        get { storage.eventType }
        set { storage = storage.with(eventType: newValue) }
    }

    public init(
        id: String, fields: JSONObject = JSONObject(), tags: [String] = [], customFields: [CustomFieldValue] = [],
        eventType: String = "manual"
    ) {
        var fields = fields
        fields["id"] = .string(id)
        storage = Storage(id: id, fields: fields, tags: tags, customFields: customFields, eventType: eventType)
    }

    /// A top-level field by name, given the name's `TagHash` (precomputed by callers in hot paths).
    @inline(__always)
    public func field(_ name: String, hash: UInt64) -> JSON? {
        withField(name, hash: hash) { $0?.pointee.value }
    }

    public func field(_ name: String) -> JSON? { field(name, hash: TagHash.of(name)) }

    /// Calls `body` with the entry of a top-level field in place (nil when absent), found by
    /// name and the name's `TagHash`.
    ///
    /// Engine tests that only look at a value (is it empty, does it match) read it here instead
    /// of copying it out: through the arrays, a copy of `fields` or of an entry retained and
    /// released its storage (and the entry's key and value) per test, measured at a tenth of a
    /// decision. The pointer is valid only inside `body`.
    @inline(__always)
    public func withField<R>(
        _ name: String, hash: UInt64, _ body: (UnsafePointer<JSONObject.Entry>?) -> R
    ) -> R {
        // On the storage, not on a local copy of it: `let s = storage` retained it per lookup.
        storage.withField(name, hash: hash, body)
    }

    public var locationId: String? { field("locationId")?.stringValue }

    /// Display name for reports: `name`, else first and last name, else nil.
    public var displayName: String? {
        if let name = fields["name"]?.stringValue, !name.isEmpty { return name }
        let parts = [fields["firstName"]?.stringValue, fields["lastName"]?.stringValue].compactMap { $0 }.filter {
            !$0.isEmpty
        }
        return parts.isEmpty ? nil : parts.joined(separator: " ")
    }

    /// The value a rules path points at, or nil when it is absent.
    public func value(at path: FieldPath) -> JSON? { value(at: path, headHash: path.headHash) }

    /// `value(at:)` with the first component's hash computed once, by whoever holds the path.
    public func value(at path: FieldPath, headHash: UInt64) -> JSON? {
        switch path {
        case .tags:
            return .array(tags.map(JSON.string))
        case .eventType:
            return .string(eventType)
        case .customField(let key):
            return customField(key)?.value
        case .customFieldList:
            return .array(
                customFields.map { cf in
                    var o = JSONObject()
                    if let id = cf.id { o["id"] = .string(id) }
                    if let key = cf.key { o["key"] = .string(key) }
                    o["value"] = cf.value
                    return .object(o)
                })
        case .field(let first, let rest):
            guard var current = field(first, hash: headHash) else { return nil }
            for component in rest {
                guard let next = current[component] else { return nil }
                current = next
            }
            return current
        }
    }

    /// A custom field by key (`lead_score` or `contact.lead_score`), id, or display name
    /// (case-insensitive; workflow payloads carry only the name).
    public func customField(_ key: String) -> CustomFieldValue? {
        for cf in customFields where cf.key == key || cf.id == key { return cf }
        let folded = key.foldedForComparison
        for cf in customFields where cf.name?.foldedForComparison == folded { return cf }
        return nil
    }
}

/// FNV-1a over a folded tag's UTF-8: a cheap pre-check before string equality.
public enum TagHash {
    @inline(__always)
    public static func of(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return h
    }
}

/// One custom field value of a contact. GHL sends only `id` and `value`; `key` and `name` are
/// filled from a `CustomFieldCatalog` when one is known, and `name` alone by workflow webhooks.
public struct CustomFieldValue: Sendable, Equatable {
    public var id: String?
    /// The field key without the `contact.` prefix (`lead_score`).
    public var key: String?
    public var name: String?
    public var value: JSON

    public init(id: String? = nil, key: String? = nil, name: String? = nil, value: JSON) {
        self.id = id
        self.key = key.map(CustomFieldCatalog.stripPrefix)
        self.name = name
        self.value = value
    }
}

/// The location's custom field definitions (GET /locations/{id}/customFields), mapping ids to
/// keys and display names.
public struct CustomFieldCatalog: Sendable, Equatable {
    public struct Definition: Sendable, Equatable {
        public var id: String
        public var key: String
        public var name: String
        public init(id: String, key: String, name: String) {
            self.id = id
            self.key = CustomFieldCatalog.stripPrefix(key)
            self.name = name
        }
    }

    public var definitions: [Definition]
    private var byId: [String: Int]

    public init(_ definitions: [Definition] = []) {
        self.definitions = definitions
        var byId: [String: Int] = [:]
        for (i, d) in definitions.enumerated() { byId[d.id] = i }
        self.byId = byId
    }

    public static let empty = CustomFieldCatalog()

    /// Reads GHL's `{"customFields": [{"id", "name", "fieldKey"}, ...]}` response.
    public init(ghlResponse json: JSON) throws(PayloadError) {
        guard let list = json["customFields"]?.arrayValue else {
            throw PayloadError("custom field list: expected an object with a 'customFields' array")
        }
        var defs: [Definition] = []
        for item in list {
            guard let id = item["id"]?.stringValue else {
                throw PayloadError("custom field list: an entry has no 'id'")
            }
            let key = item["fieldKey"]?.stringValue ?? id
            defs.append(Definition(id: id, key: key, name: item["name"]?.stringValue ?? key))
        }
        self.init(defs)
    }

    public func definition(id: String) -> Definition? { byId[id].map { definitions[$0] } }

    /// Whether a rules file's custom field reference names a field here: a key (with or
    /// without `contact.`), an id, or a display name (case-insensitive), as `Contact.customField`
    /// resolves them.
    public func knows(_ reference: String) -> Bool {
        let key = Self.stripPrefix(reference)
        let folded = reference.foldedForComparison
        return definitions.contains { $0.key == key || $0.id == reference || $0.name.foldedForComparison == folded }
    }

    /// The keys, for suggestions.
    public var keys: [String] { definitions.map(\.key) }

    static func stripPrefix(_ key: String) -> String {
        key.hasPrefix("contact.") ? String(key.dropFirst(8)) : key
    }
}

/// A dotted path into a contact, compiled once from a rules file.
public enum FieldPath: Sendable, Equatable, CustomStringConvertible {
    case tags
    case eventType
    /// `customFields.KEY`
    case customField(String)
    /// `customFields` itself
    case customFieldList
    /// Any other path: the first component and the rest.
    case field(String, [String])

    public init(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        switch parts.first {
        case "tags" where parts.count == 1: self = .tags
        case "event" where parts.count == 2 && parts[1] == "type": self = .eventType
        case "customFields" where parts.count == 1: self = .customFieldList
        case "customFields": self = .customField(parts.dropFirst().joined(separator: "."))
        default: self = .field(parts[0], Array(parts.dropFirst()))
        }
    }

    /// The hash of the first component, for `Contact.value(at:headHash:)` (0 for the others).
    public var headHash: UInt64 {
        if case .field(let first, _) = self { return TagHash.of(first) }
        return 0
    }

    public var description: String {
        switch self {
        case .tags: return "tags"
        case .eventType: return "event.type"
        case .customFieldList: return "customFields"
        case .customField(let key): return "customFields.\(key)"
        case .field(let first, let rest): return ([first] + rest).joined(separator: ".")
        }
    }
}

/// A payload that is not a usable contact, with a one-line reason.
public struct PayloadError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    /// True when the payload is a well-formed GHL event that simply does not concern contacts.
    public var isIgnorableEvent: Bool
    public init(_ message: String, ignorable: Bool = false) {
        self.message = message
        self.isIgnorableEvent = ignorable
    }
    public var description: String { message }
}
