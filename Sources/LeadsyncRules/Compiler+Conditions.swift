import LeadsyncCore
import LeadsyncValues
import Yams

extension Compiler {
    static let conditionKeys = ["all", "any", "not", "tags", "field", "state"]
    static let tagOperators = ["has", "any_of", "all_of", "none_of", "any_contains", "any_matches", "count"]
    static let fieldOperators = [
        "equals", "not_equals", "in", "not_in", "contains", "starts_with", "ends_with", "matches",
        "is", "gt", "gte", "lt", "lte", "older_than", "newer_than",
    ]
    static let comparisons = ["gt", "gte", "lt", "lte", "eq"]

    /// Contact paths rules may use (rules-v1.md §4) and what they hold.
    static let knownPaths: [String: PathType] = [
        "id": .string, "locationId": .string, "firstName": .string, "lastName": .string, "name": .string,
        "email": .string, "phone": .string, "tags": .list, "dnd": .bool, "dndSettings": .object, "source": .string,
        "type": .string, "companyName": .string, "address1": .string, "city": .string, "state": .string,
        "country": .string, "postalCode": .string, "timezone": .string, "website": .string, "dateAdded": .date,
        "dateUpdated": .date, "dateOfBirth": .date, "assignedTo": .string, "customFields": .list,
        "event.type": .string,
    ]
    static let dndChannels = DNDValues.settingsChannels

    mutating func addCondition(_ description: String, at node: Node) -> Int32 {
        let mark = SourceLocation(node)
        conditions.append(ConditionInfo(description: description, line: mark.line, column: mark.column))
        return Int32(conditions.count - 1)
    }

    /// Validates a path; returns its type, or nil after reporting an unknown path.
    mutating func checkPath(_ path: String, at node: Node) -> PathType? {
        if let t = Compiler.knownPaths[path] { return t }
        let parts = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if parts.count >= 2, parts[0] == "customFields" || parts[0] == "customData",
            parts.dropFirst().allSatisfy({ !$0.isEmpty })
        {
            return .unknown
        }
        if parts.count == 3, parts[0] == "dndSettings", Compiler.dndChannels.contains(parts[1]),
            ["status", "message", "code"].contains(parts[2])
        {
            return .string
        }
        if parts.count == 2, parts[0] == "dndSettings", Compiler.dndChannels.contains(parts[1]) { return .object }
        var candidates = Array(Compiler.knownPaths.keys)
        candidates += Compiler.dndChannels.map { "dndSettings.\($0).status" }
        var message = "unknown field '\(path)'"
        if let s = suggestion(for: path, among: candidates) {
            message += "; did you mean '\(s)'?"
        } else {
            message += " (custom fields are 'customFields.KEY')"
        }
        error(.unknownField, message, at: node)
        return nil
    }

    /// Compiles one condition mapping (any depth). Reports and returns nil on errors.
    mutating func compileCondition(_ node: Node) -> Condition? {
        guard let entries = mapping(node, "a condition") else { return nil }
        let heads = entries.filter { Compiler.conditionKeys.contains($0.key) }
        if heads.isEmpty {
            if let first = entries.first {
                var message = "unknown condition '\(first.key)'"
                let candidates = Compiler.conditionKeys + Compiler.fieldOperators + Compiler.tagOperators
                if let s = suggestion(for: first.key, among: candidates) {
                    message +=
                        Compiler.conditionKeys.contains(s)
                        ? "; did you mean '\(s)'?"
                        : "; did you mean '{ field: PATH, \(s): ... }' or '{ tags: { \(s): ... } }'?"
                }
                message += " (a condition is one of: \(Compiler.conditionKeys.joined(separator: ", ")))"
                error(.unknownOperator, message, at: first.keyNode)
            } else {
                error(
                    .missingKey, "empty condition (expected one of: \(Compiler.conditionKeys.joined(separator: ", ")))",
                    at: node)
            }
            return nil
        }
        if heads.count > 1 {
            error(
                .badValue,
                "a condition has exactly one of \(heads.map { "'\($0.key)'" }.joined(separator: ", ")); combine them with 'all:'",
                at: heads[1].keyNode)
            return nil
        }
        let head = heads[0]
        switch head.key {
        case "all", "any":
            checkKeys(entries, allowed: [head.key], context: "'\(head.key)'")
            guard case .sequence(let seq) = head.value else {
                error(
                    .wrongType, "'\(head.key)' takes a list of conditions, found \(Compiler.kind(head.value))",
                    at: head.value)
                return nil
            }
            if seq.isEmpty {
                error(.badValue, "'\(head.key)' needs at least one condition", at: head.value)
                return nil
            }
            let children = seq.compactMap { compileCondition($0) }
            guard children.count == seq.count else { return nil }
            let inner = children.map { description($0) }
            let text =
                head.key == "all"
                ? "all of [\(inner.joined(separator: "; "))]" : "any of [\(inner.joined(separator: "; "))]"
            let id = addCondition(text, at: head.keyNode)
            return head.key == "all" ? .all(children, id: id) : .any(children, id: id)
        case "not":
            checkKeys(entries, allowed: ["not"], context: "'not'")
            guard let inner = compileCondition(head.value) else { return nil }
            return .not(inner, id: addCondition("not (\(description(inner)))", at: head.keyNode))
        case "state":
            checkKeys(entries, allowed: ["state"], context: "a state condition")
            guard let s = string(head.value, "state") else { return nil }
            guard s == "marked_customer" else {
                var message = "unknown state '\(s)'"
                if suggestion(for: s, among: ["marked_customer"]) != nil {
                    message += "; did you mean 'marked_customer'?"
                }
                error(.unknownOperator, message, at: head.value)
                return nil
            }
            return .markedCustomer(id: addCondition("state marked_customer", at: head.keyNode))
        case "tags":
            checkKeys(entries, allowed: ["tags"], context: "a tags condition")
            return compileTagCondition(head)
        default:
            return compileFieldCondition(entries, head)
        }
    }

    mutating func compileTagCondition(_ head: Entry) -> Condition? {
        guard let ops = mapping(head.value, "tags") else { return nil }
        guard ops.count == 1, let op = ops.first else {
            error(
                ops.isEmpty ? .missingKey : .badValue,
                "'tags' takes exactly one operator (\(Compiler.tagOperators.joined(separator: ", ")))", at: head.value)
            return nil
        }
        let test: TagTest
        let text: String
        switch op.key {
        case "has":
            guard let t = string(op.value, "tags.has") else { return nil }
            test = .has(TagSet([t]))
            text = "tags has \(quote(t))"
        case "any_of", "all_of", "none_of", "any_contains":
            guard let list = stringList(op.value, "tags.\(op.key)") else { return nil }
            if list.isEmpty {
                error(.badValue, "tags.\(op.key) needs at least one tag", at: op.value)
                return nil
            }
            switch op.key {
            case "any_of": test = .anyOf(TagSet(list))
            case "all_of": test = .allOf(TagSet(list))
            case "none_of": test = .noneOf(TagSet(list))
            default: test = .anyContains(list.map(\.foldedForComparison))
            }
            text = "tags \(op.key) [\(list.map(quote).joined(separator: ", "))]"
        case "any_matches":
            guard let pattern = string(op.value, "tags.any_matches"), let regex = compileRegex(pattern, at: op.value)
            else {
                return nil
            }
            test = .anyMatches(regex)
            text = "tags any_matches /\(pattern)/"
        case "count":
            guard let cmp = mapping(op.value, "tags.count") else { return nil }
            guard cmp.count == 1, let c = cmp.first else {
                error(
                    .badValue, "tags.count takes exactly one of \(Compiler.comparisons.joined(separator: ", "))",
                    at: op.value)
                return nil
            }
            guard let comparison = Comparison(rawValue: c.key) else {
                var message = "unknown comparison '\(c.key)'"
                if let s = suggestion(for: c.key, among: Compiler.comparisons) { message += "; did you mean '\(s)'?" }
                error(.unknownOperator, message, at: c.keyNode)
                return nil
            }
            guard let n = int(c.value, "tags.count.\(c.key)") else { return nil }
            test = .count(comparison, n)
            text = "tags count \(c.key) \(n)"
        default:
            var message = "unknown tag operator '\(op.key)'"
            if let s = suggestion(for: op.key, among: Compiler.tagOperators) { message += "; did you mean '\(s)'?" }
            error(.unknownOperator, message, at: op.keyNode)
            return nil
        }
        return .tags(test, id: addCondition(text, at: head.keyNode))
    }

    mutating func compileFieldCondition(_ entries: [Entry], _ head: Entry) -> Condition? {
        guard let path = string(head.value, "field") else { return nil }
        let pathType = checkPath(path, at: head.value)
        guard let (op, cs) = fieldOperator(entries, head, path: path), let pathType else { return nil }
        if !typeAllows(op.key, pathType, path: path, at: op.keyNode) { return nil }
        guard var (test, argText) = fieldTest(op, path: path, pathType: pathType, caseSensitive: cs) else { return nil }
        if cs { argText += " (case-sensitive)" }
        return .field(FieldPath(path), test, id: addCondition("\(path) \(op.key) \(argText)", at: head.keyNode))
    }

    /// The one operator of a field condition, and `case_sensitive`.
    mutating func fieldOperator(_ entries: [Entry], _ head: Entry, path: String) -> (Entry, Bool)? {
        var caseSensitive = false
        var op: Entry?
        for e in entries where e.key != "field" {
            if e.key == "case_sensitive" {
                caseSensitive = bool(e.value, "case_sensitive") ?? false
            } else if Compiler.fieldOperators.contains(e.key) {
                if op != nil {
                    error(
                        .badValue, "a field condition takes exactly one operator; found '\(op!.key)' and '\(e.key)'",
                        at: e.keyNode)
                    return nil
                }
                op = e
            } else {
                var message = "unknown field operator '\(e.key)'"
                if let s = suggestion(for: e.key, among: Compiler.fieldOperators + ["case_sensitive"]) {
                    message += "; did you mean '\(s)'?"
                }
                error(.unknownOperator, message, at: e.keyNode)
                return nil
            }
        }
        guard let op else {
            error(
                .missingKey,
                "field condition on '\(path)' needs an operator (\(Compiler.fieldOperators.joined(separator: ", ")))",
                at: head.keyNode)
            return nil
        }
        return (op, caseSensitive)
    }

    /// The test an operator and its argument make, with the argument as the trace shows it.
    mutating func fieldTest(
        _ op: Entry, path: String, pathType: PathType, caseSensitive cs: Bool
    ) -> (FieldTest, String)? {
        let test: FieldTest
        var argText: String
        switch op.key {
        case "equals", "not_equals", "contains", "starts_with", "ends_with":
            guard let literal = scalarLiteral(op.value, op.key) else { return nil }
            argText = quote(literal.text ?? "null")
            switch op.key {
            case "equals": test = .equals(literal, caseSensitive: cs)
            case "not_equals": test = .notEquals(literal, caseSensitive: cs)
            case "contains": test = .contains(literal, caseSensitive: cs)
            case "starts_with": test = .startsWith(literal, caseSensitive: cs)
            default: test = .endsWith(literal, caseSensitive: cs)
            }
        case "in", "not_in":
            guard case .sequence(let seq) = op.value else {
                error(.wrongType, "'\(op.key)' takes a list, found \(Compiler.kind(op.value))", at: op.value)
                return nil
            }
            let literals = seq.compactMap { scalarLiteral($0, op.key) }
            guard literals.count == seq.count else { return nil }
            argText = "[\(literals.map { quote($0.text ?? "null") }.joined(separator: ", "))]"
            test = op.key == "in" ? .isIn(literals, caseSensitive: cs) : .notIn(literals, caseSensitive: cs)
        case "matches":
            guard let pattern = string(op.value, "matches"), let regex = compileRegex(pattern, at: op.value) else {
                return nil
            }
            argText = "/\(pattern)/"
            test = .matches(regex)
        case "is":
            guard let s = string(op.value, "is") else { return nil }
            switch s {
            case "missing": test = .isMissing
            case "present": test = .isPresent
            case "empty": test = .isEmpty
            default:
                var message = "'is' takes missing, present or empty, found '\(s)'"
                if let sug = suggestion(for: s, among: ["missing", "present", "empty"]) {
                    message += "; did you mean '\(sug)'?"
                }
                error(.badValue, message, at: op.value)
                return nil
            }
            argText = s
        case "gt", "gte", "lt", "lte":
            let comparison = Comparison(rawValue: op.key)!  // cannot trap: the case names its four raw values
            if case .scalar(let s) = op.value, s.style == .plain,
                let n = op.value.float ?? op.value.int.map(Double.init)
            {
                if pathType == .date {
                    error(
                        .typeMismatch, "'\(path)' is a date; compare it with an ISO-8601 date such as '2025-01-31'",
                        at: op.value)
                    return nil
                }
                test = .compare(comparison, .number(n))
                argText = s.string
            } else if case .scalar(let s) = op.value, let t = Timestamp(iso8601: s.string) {
                test = .compare(comparison, .date(t))
                argText = s.string
            } else {
                error(
                    .wrongType,
                    "'\(op.key)' takes a number or an ISO-8601 date, found \(Compiler.kind(op.value))"
                        + (op.value.scalar.map { " '\($0.string)'" } ?? ""), at: op.value)
                return nil
            }
        case "older_than", "newer_than":
            guard let s = string(op.value, op.key) else { return nil }
            guard let d = RuleDuration(s) else {
                error(
                    .badDuration, "bad duration '\(s)' (use a whole number and a unit: 30m, 12h, 90d, 2w)", at: op.value
                )
                return nil
            }
            test = op.key == "older_than" ? .olderThan(d) : .newerThan(d)
            argText = d.text
        default:
            // The operator list and this switch disagree: a bug here, reported, never a trap.
            error(.unknownOperator, "field operator '\(op.key)' is listed but not implemented", at: op.keyNode)
            return nil
        }
        return (test, argText)
    }

    /// Operator/type combinations that can never make sense are load errors (rules-v1.md §4).
    mutating func typeAllows(_ op: String, _ type: PathType, path: String, at node: Node) -> Bool {
        let problem: String?
        switch (type, op) {
        case (.list, "gt"), (.list, "gte"), (.list, "lt"), (.list, "lte"):
            problem =
                "'\(op)' does not apply to '\(path)', a list"
                + (path == "tags" ? "; use tags: { count: { \(op): N } }" : "")
        case (.list, "older_than"), (.list, "newer_than"), (.list, "matches"), (.list, "starts_with"),
            (.list, "ends_with"):
            problem = "'\(op)' does not apply to '\(path)', a list" + (path == "tags" ? "; use a tags: condition" : "")
        case (.bool, let o) where !["equals", "not_equals", "in", "not_in", "is"].contains(o):
            problem = "'\(op)' does not apply to '\(path)', a boolean; use equals: true or equals: false"
        case (.object, let o) where o != "is":
            problem = "'\(path)' is an object; test one of its fields (e.g. '\(path).status')"
        case (.string, "older_than"), (.string, "newer_than"):
            problem =
                "'\(op)' needs a date field (dateAdded, dateUpdated, dateOfBirth or a custom field); '\(path)' is text"
        default:
            problem = nil
        }
        if let problem {
            error(.typeMismatch, problem, at: node)
            return false
        }
        return true
    }

    /// A scalar operand (string, number, boolean or null).
    mutating func scalarLiteral(_ node: Node, _ what: String) -> Literal? {
        guard case .scalar(let s) = node else {
            error(.wrongType, "'\(what)' takes a single value, found \(Compiler.kind(node))", at: node)
            return nil
        }
        return Literal(Compiler.json(scalar: s, node: node))
    }

    mutating func compileRegex(_ pattern: String, at node: Node) -> CompiledRegex? {
        do {
            return try CompiledRegex(pattern)
        } catch {
            let reason = "\(error)".split(separator: "\n").first.map(String.init) ?? "invalid pattern"
            self.error(.badRegex, "bad regular expression '\(pattern)': \(reason)", at: node)
            return nil
        }
    }

    func quote(_ s: String) -> String { "\"\(s)\"" }

    /// A YAML scalar as JSON: plain scalars resolve to null, booleans and numbers.
    static func json(scalar s: Node.Scalar, node: Node) -> JSON {
        if s.style == .plain {
            if node.null != nil { return .null }
            if let b = node.bool { return .bool(b) }
            if let i = node.int { return .number(Double(i)) }
            if let f = node.float, f.isFinite { return .number(f) }
        }
        return .string(s.string)
    }

    /// Any YAML node as JSON (test contacts and webhooks written inline).
    static func json(_ node: Node) -> JSON {
        switch node {
        case .scalar(let s): return json(scalar: s, node: node)
        case .sequence(let seq): return .array(seq.map { json($0) })
        case .mapping(let map):
            return .object(
                JSONObject(
                    map.compactMap { k, v in
                        k.scalar.map { JSONObject.Entry(key: $0.string, value: json(v)) }
                    }))
        case .alias: return .null
        }
    }
}
