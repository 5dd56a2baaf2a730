import LeadsyncValues

/// A compiled field template: `"text {{ PATH | filter | filter: arg }} text"`.
public struct Template: Sendable {
    public enum Part: Sendable {
        case literal(String)
        case expression(Expression)
    }

    public struct Expression: Sendable {
        public var path: FieldPath
        public var filters: [Filter]
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
        var value = TemplateValue(contact.value(at: path))
        for filter in filters {
            switch filter {
            case .default(let fallback):
                if value.isEmpty {
                    switch fallback {
                    case .literal(let s): value = .text(s)
                    case .path(let p): value = TemplateValue(contact.value(at: p))
                    }
                }
            case .lower: value = value.map { $0.lowercased() }
            case .upper: value = value.map { $0.uppercased() }
            case .trim: value = value.map { $0.trimmedASCII }
            case .title: value = value.map { $0.titleCased }
            case .digits:
                value = value.map {
                    String($0.unicodeScalars.filter { $0.value >= 48 && $0.value <= 57 }.map(Character.init))
                }
            case .e164:
                value = value.map { raw in
                    if let n = PhoneNumber.e164(raw, region: region) { return n }
                    if !raw.isEmpty { note("'\(raw)' at \(path) is not a phone number leadsync can normalise") }
                    return nil
                }
            case .truncate(let n): value = value.map { String($0.prefix(n)) }
            case .join(let separator):
                if case .list(let l) = value { value = .text(l.joined(separator: separator)) }
            case .date(let pattern):
                value = value.map { raw in
                    if let t = Timestamp(iso8601: raw) { return pattern.format(t) }
                    note("'\(raw)' at \(path) is not an ISO-8601 date")
                    return nil
                }
            }
        }
        return value
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

/// Parses template text; collects every error with its character offset.
struct TemplateParser {
    let chars: [Character]
    var i = 0
    var errors: [Template.ParseError] = []

    init(_ source: String) { chars = Array(source) }

    mutating func parse() -> [Template.Part] {
        var parts: [Template.Part] = []
        var literal = ""
        while i < chars.count {
            if chars[i] == "{", i + 1 < chars.count, chars[i + 1] == "{" {
                if !literal.isEmpty {
                    parts.append(.literal(literal))
                    literal = ""
                }
                let open = i
                guard let close = findClose(from: i + 2) else {
                    errors.append(.init(message: "unterminated '{{' (expected '}}')", offset: open))
                    return parts
                }
                if let e = parseExpression(start: i + 2, end: close) { parts.append(.expression(e)) }
                i = close + 2
            } else {
                literal.append(chars[i])
                i += 1
            }
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        return parts
    }

    func findClose(from start: Int) -> Int? {
        var j = start
        var quote: Character?
        while j + 1 < chars.count {
            let c = chars[j]
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "'" || c == "\"" {
                quote = c
            } else if c == "}" && chars[j + 1] == "}" {
                return j
            }
            j += 1
        }
        return nil
    }

    /// Splits `PATH | f | f: arg` on pipes outside quotes.
    mutating func parseExpression(start: Int, end: Int) -> Template.Expression? {
        var segments: [(text: String, offset: Int)] = []
        var current = ""
        var currentStart = start
        var quote: Character?
        for j in start..<end {
            let c = chars[j]
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "'" || c == "\"" {
                quote = c
            } else if c == "|" {
                segments.append((current, currentStart))
                current = ""
                currentStart = j + 1
                continue
            }
            current.append(c)
        }
        segments.append((current, currentStart))
        let pathText = segments[0].text.trimmedASCII
        guard !pathText.isEmpty else {
            errors.append(.init(message: "empty expression in '{{ }}'", offset: start - 2))
            return nil
        }
        guard let path = parsePath(pathText, offset: segments[0].offset + leadingSpaces(segments[0].text)) else {
            return nil
        }
        var filters: [Template.Filter] = []
        for segment in segments.dropFirst() {
            let offset = segment.offset + leadingSpaces(segment.text)
            if let f = parseFilter(segment.text.trimmedASCII, offset: offset) { filters.append(f) }
        }
        return Template.Expression(path: path, filters: filters)
    }

    func leadingSpaces(_ s: String) -> Int { s.prefix { $0 == " " || $0 == "\t" }.count }

    mutating func parsePath(_ text: String, offset: Int) -> FieldPath? {
        let valid = text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { part in
            !part.isEmpty && part.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
        }
        guard valid else {
            errors.append(
                .init(
                    message: "'\(text)' is not a field path (expected e.g. firstName or customFields.lead_score)",
                    offset: offset))
            return nil
        }
        return FieldPath(text)
    }

    mutating func parseFilter(_ text: String, offset: Int) -> Template.Filter? {
        guard !text.isEmpty else {
            errors.append(.init(message: "empty filter after '|'", offset: offset))
            return nil
        }
        let name: String
        var argument: String?
        var argumentOffset = offset
        if let colon = text.firstIndex(of: ":") {
            name = String(text[..<colon]).trimmedASCII
            let rawArg = String(text[text.index(after: colon)...])
            argument = rawArg.trimmedASCII
            argumentOffset = offset + text.distance(from: text.startIndex, to: colon) + 1 + self.leadingSpaces(rawArg)
        } else {
            name = text
        }
        func noArgument(_ f: Template.Filter) -> Template.Filter? {
            if argument != nil {
                errors.append(.init(message: "filter '\(name)' takes no argument", offset: offset))
                return nil
            }
            return f
        }
        func requireArgument() -> String? {
            guard let a = argument, !a.isEmpty else {
                errors.append(.init(message: "filter '\(name)' needs an argument ('\(name): ...')", offset: offset))
                return nil
            }
            return a
        }
        switch name {
        case "lower": return noArgument(.lower)
        case "upper": return noArgument(.upper)
        case "trim": return noArgument(.trim)
        case "title": return noArgument(.title)
        case "digits": return noArgument(.digits)
        case "e164": return noArgument(.e164)
        case "default":
            guard let a = requireArgument() else { return nil }
            if let literal = unquote(a) { return .default(.literal(literal)) }
            if a.first == "'" || a.first == "\"" {
                errors.append(.init(message: "unterminated quoted argument", offset: argumentOffset))
                return nil
            }
            guard let path = parsePath(a, offset: argumentOffset) else { return nil }
            return .default(.path(path))
        case "truncate":
            guard let a = requireArgument() else { return nil }
            guard let n = Int(a), n >= 0 else {
                errors.append(.init(message: "truncate needs a whole number, got '\(a)'", offset: argumentOffset))
                return nil
            }
            return .truncate(n)
        case "join":
            guard let a = requireArgument() else { return nil }
            guard let s = unquote(a) else {
                errors.append(.init(message: "join needs a quoted separator, e.g. join: ', '", offset: argumentOffset))
                return nil
            }
            return .join(s)
        case "date":
            guard let a = requireArgument() else { return nil }
            guard let s = unquote(a) else {
                errors.append(
                    .init(message: "date needs a quoted pattern, e.g. date: 'yyyy-MM-dd'", offset: argumentOffset))
                return nil
            }
            do {
                return .date(try DatePattern(s))
            } catch {
                errors.append(.init(message: error.message, offset: argumentOffset + 1 + error.offset))
                return nil
            }
        default:
            var message = "unknown filter '\(name)'"
            if let s = suggestion(for: name, among: Template.filterNames) { message += "; did you mean '\(s)'?" }
            errors.append(.init(message: message, offset: offset))
            return nil
        }
    }

    func unquote(_ s: String) -> String? {
        guard s.count >= 2, let f = s.first, f == "'" || f == "\"", s.last == f else { return nil }
        return String(s.dropFirst().dropLast())
    }
}
