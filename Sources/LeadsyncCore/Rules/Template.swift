import LeadsyncValues

/// A compiled field template: `"text {{ PATH | filter | filter: arg }} text"`.
public struct Template: Sendable {
    public enum Part: Sendable {
        case literal(String)
        case expression(Expression)
    }

    public struct Expression: Sendable {
        public let path: FieldPath
        public let filters: [Filter]
        /// `path.headHash`, computed once: rendering looks the field up by it.
        let headHash: UInt64

        public init(path: FieldPath, filters: [Filter]) {
            self.path = path
            self.filters = filters
            headHash = path.headHash
        }
    }

    public enum DefaultValue: Sendable {
        case path(FieldPath)
        case literal(String)
    }

    public enum Filter: Sendable {
        case `default`(DefaultValue)
        case lower, upper, trim, title, digits, e164
        case truncate(Int)
        case join(String)
        case date(DatePattern)
    }

    public static let filterNames = [
        "default", "lower", "upper", "trim", "title", "digits", "e164", "truncate", "join", "date",
    ]

    public var source: String
    public var parts: [Part]

    /// A template problem at a character offset of the template text.
    public struct ParseError: Error, Sendable, Equatable {
        public var message: String
        public var offset: Int
    }

    /// Compiles a template; all problems are returned, not just the first.
    public static func parse(_ source: String) -> (template: Template?, errors: [ParseError]) {
        var parser = TemplateParser(source)
        let parts = parser.parse()
        if parser.errors.isEmpty { return (Template(source: source, parts: parts), []) }
        return (nil, parser.errors)
    }

    /// Renders against a contact. Returns nil when the result is empty (the field is left out);
    /// `note` receives a line for the trace when a filter rejected a value (e.g. a bad phone).
    public func render(_ contact: Contact, region: PhoneRegion, note: (String) -> Void) -> String? {
        if parts.count == 1, case .expression(let e) = parts[0] {
            let text = e.evaluate(contact, region: region, note: note).text
            return text.isEmpty ? nil : text
        }
        var out = ""
        for part in parts {
            switch part {
            case .literal(let s): out += s
            case .expression(let e): out += e.evaluate(contact, region: region, note: note).text
            }
        }
        return out.isEmpty ? nil : out
    }
}

/// A value flowing through a template's filters.
enum TemplateValue {
    case missing
    case text(String)
    case list([String])

    init(_ json: JSON?) {
        switch json {
        case nil, .null?, .object?: self = .missing
        case .array(let items)?: self = .list(items.compactMap(\.scalarText))
        case let scalar?: self = scalar.scalarText.map(TemplateValue.text) ?? .missing
        }
    }

    var isEmpty: Bool {
        switch self {
        case .missing: return true
        case .text(let s): return s.isEmpty
        case .list(let l): return l.isEmpty
        }
    }

    /// Lists print joined with ", " when no `join` filter says otherwise.
    var text: String {
        switch self {
        case .missing: return ""
        case .text(let s): return s
        case .list(let l): return l.joined(separator: ", ")
        }
    }

    func map(_ f: (String) -> String?) -> TemplateValue {
        switch self {
        case .missing: return .missing
        case .text(let s): return f(s).map(TemplateValue.text) ?? .missing
        case .list(let l): return .list(l.compactMap(f))
        }
    }
}

extension Template.Expression {
    func evaluate(_ contact: Contact, region: PhoneRegion, note: (String) -> Void) -> TemplateValue {
        var value = TemplateValue(contact.value(at: path, headHash: headHash))
        for filter in filters { value = filter.apply(value, contact, region: region, path: path, note: note) }
        return value
    }
}

extension Template.Filter {
    /// One filter step over `value`. `contact` serves `default: path`; `path` (the expression's)
    /// names the value in notes. The engine's compiled fields (`FieldProgram`) call this too,
    /// so the two renderings cannot drift apart.
    @inline(__always)
    func apply(
        _ value: TemplateValue, _ contact: borrowing Contact, region: PhoneRegion, path: FieldPath,
        note: (String) -> Void
    ) -> TemplateValue {
        switch self {
        case .default(let fallback):
            guard value.isEmpty else { return value }
            switch fallback {
            case .literal(let s): return .text(s)
            case .path(let p): return TemplateValue(contact.value(at: p))
            }
        case .lower: return value.map(\.lowercasedQuickly)
        case .upper: return value.map { $0.uppercased() }
        case .trim: return value.map(\.trimmedASCII)
        case .title: return value.map { $0.titleCased }
        case .digits:
            return value.map {
                String($0.unicodeScalars.filter { $0.value >= 48 && $0.value <= 57 }.map(Character.init))
            }
        case .e164:
            return value.map { raw in
                if let n = PhoneNumber.e164(raw, region: region) { return n }
                if !raw.isEmpty { note("'\(raw)' at \(path) is not a phone number leadsync can normalise") }
                return nil
            }
        case .truncate(let n): return value.map { String($0.prefix(n)) }
        case .join(let separator):
            if case .list(let l) = value { return .text(l.joined(separator: separator)) }
            return value
        case .date(let pattern):
            return value.map { raw in
                if let t = Timestamp(iso8601: raw) { return pattern.format(t) }
                note("'\(raw)' at \(path) is not an ISO-8601 date")
                return nil
            }
        }
    }
}

/// A date format such as `yyyy-MM-dd` (UTC). Letters: `yyyy` `yy` `MM` `M` `dd` `d` `HH` `H`
/// `mm` `ss` `SSS`; text in single quotes and any other character is copied.
public struct DatePattern: Sendable {
    enum Token: Sendable {
        case text(String)
        case year4, year2, month2, month1, day2, day1, hour2, hour1, minute2, second2, millis3
    }
    var tokens: [Token]

    public init(_ pattern: String) throws(Template.ParseError) {
        var tokens: [Token] = []
        let chars = Array(pattern)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            var run = 1
            while i + run < chars.count, chars[i + run] == c { run += 1 }
            switch (c, run) {
            case ("y", 4): tokens.append(.year4)
            case ("y", 2): tokens.append(.year2)
            case ("M", 2): tokens.append(.month2)
            case ("M", 1): tokens.append(.month1)
            case ("d", 2): tokens.append(.day2)
            case ("d", 1): tokens.append(.day1)
            case ("H", 2): tokens.append(.hour2)
            case ("H", 1): tokens.append(.hour1)
            case ("m", 2): tokens.append(.minute2)
            case ("s", 2): tokens.append(.second2)
            case ("S", 3): tokens.append(.millis3)
            case ("'", _):
                var j = i + 1
                var text = ""
                while j < chars.count, chars[j] != "'" {
                    text.append(chars[j])
                    j += 1
                }
                tokens.append(.text(text))
                i = j + 1
                continue
            default:
                if c.isLetter {
                    throw Template.ParseError(
                        message: "unsupported date pattern '\(String(repeating: c, count: run))'"
                            + " (use yyyy, yy, MM, M, dd, d, HH, H, mm, ss, SSS)", offset: i)
                }
                tokens.append(.text(String(repeating: c, count: run)))
            }
            i += run
        }
        self.tokens = tokens
    }

    public func format(_ t: Timestamp) -> String {
        let c = t.components
        var out = ""
        for token in tokens {
            switch token {
            case .text(let s): out += s
            case .year4: out += pad(c.year, 4)
            case .year2: out += pad(c.year % 100, 2)
            case .month2: out += pad(c.month, 2)
            case .month1: out += String(c.month)
            case .day2: out += pad(c.day, 2)
            case .day1: out += String(c.day)
            case .hour2: out += pad(c.hour, 2)
            case .hour1: out += String(c.hour)
            case .minute2: out += pad(c.minute, 2)
            case .second2: out += pad(c.second, 2)
            case .millis3: out += pad(c.millisecond, 3)
            }
        }
        return out
    }
}
