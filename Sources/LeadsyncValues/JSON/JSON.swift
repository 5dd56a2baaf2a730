/// A JSON value, as leadsync reads it from GHL payloads and writes it in reports.
///
/// Objects keep their keys in input order (payloads are small, and stable output order makes
/// golden tests and diffs readable). Numbers are `Double`: GHL sends no integers beyond 2^53.
public enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSON])
    case object(JSONObject)

    /// The value under `key` when this is an object.
    @inlinable
    public subscript(key: String) -> JSON? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    public var arrayValue: [JSON]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The name of the JSON type, for error messages.
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    /// The value as text the way a template prints it: strings as is, numbers without a
    /// trailing `.0` when integral, booleans as `true`/`false`; `nil` for null, arrays, objects.
    public var scalarText: String? {
        switch self {
        case .string(let s): return s
        case .number(let d): return JSON.format(number: d)
        case .bool(let b): return b ? "true" : "false"
        case .null, .array, .object: return nil
        }
    }

    public static func format(number d: Double) -> String {
        if d.isFinite, d == d.rounded(), abs(d) < 1e15 {
            return String(Int64(d))
        }
        return String(d)
    }
}

/// An ordered JSON object. Lookups are linear: contact payloads have a few dozen keys at most,
/// where a scan beats hashing every key.
public struct JSONObject: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var key: String
        public var value: JSON
        @inlinable public init(key: String, value: JSON) {
            self.key = key
            self.value = value
        }
    }

    public var entries: [Entry]

    @inlinable public init(_ entries: [Entry] = []) { self.entries = entries }

    public init(_ pairs: KeyValuePairs<String, JSON>) {
        self.entries = pairs.map { Entry(key: $0.key, value: $0.value) }
    }

    @inlinable
    public subscript(key: String) -> JSON? {
        get {
            // Index, not `for entry in entries`: iterating by value would retain every key
            // and value just to compare keys.
            var i = 0
            let n = entries.count
            while i < n {
                if entries[i].key == key { return entries[i].value }
                i += 1
            }
            return nil
        }
        set {
            if let i = entries.firstIndex(where: { $0.key == key }) {
                if let newValue { entries[i].value = newValue } else { entries.remove(at: i) }
            } else if let newValue {
                entries.append(Entry(key: key, value: newValue))
            }
        }
    }

    public var keys: [String] { entries.map(\.key) }
    public var isEmpty: Bool { entries.isEmpty }
}
