import LeadsyncValues

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
