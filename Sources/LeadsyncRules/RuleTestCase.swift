import LeadsyncCore
import LeadsyncValues
import Yams

/// One `tests:` entry (rules-v1.md §7).
public struct RuleTestCase: Sendable {
    public enum Input: Sendable {
        /// A GHL contact object.
        case contact(JSON)
        /// A GHL webhook payload, marketplace or workflow shape.
        case webhook(JSON)
        /// A JSON file, relative to the file that declares the test.
        case file(String)
    }

    public struct Expectation: Sendable {
        public var buckets: [String]?
        public var rules: [String]?
        public var excludedBy: [String]?
        public var fields: [FieldValue]?
        public var calltoolsTags: TagChanges?
        public var ghlTags: TagChanges?
        public var markedCustomer: Bool?
    }

    public var name: String
    public var file: String
    public var line: Int
    public var input: Input
    public var markedCustomer: Bool
    /// Bucket names the contact is in now (for `on_no_match: keep`).
    public var currentBuckets: [String]
    public var now: Timestamp?
    public var expect: Expectation
}

extension Compiler {
    static let testKeys = ["name", "contact", "webhook", "file", "state", "now", "expect"]
    static let expectKeys = [
        "buckets", "rules", "excluded_by", "fields", "calltools_tags", "ghl_tags", "marked_customer",
    ]

    mutating func compileTests(_ node: Node) {
        guard case .sequence(let seq) = node else {
            error(.wrongType, "tests must be a list, found \(Compiler.kind(node))", at: node)
            return
        }
        var seen: [String: Int] = [:]
        for item in seq {
            guard let entries = mapping(item, "a test") else { continue }
            checkKeys(entries, allowed: Compiler.testKeys, context: "a test")
            func value(_ key: String) -> Node? { entries.first { $0.key == key }?.value }
            let line = item.mark?.line ?? 0
            var name = "test at line \(line)"
            if let n = requireKey(entries, "name", in: "a test", at: item).flatMap({ string($0, "test name") }) {
                name = n
                if let first = seen[n] {
                    error(
                        .duplicateName, "duplicate test name '\(n)' (first at line \(first))", at: value("name") ?? item
                    )
                }
                seen[n] = line
            }
            let inputs = entries.filter { ["contact", "webhook", "file"].contains($0.key) }
            var input: RuleTestCase.Input?
            if inputs.count != 1 {
                error(
                    inputs.isEmpty ? .missingKey : .badTest,
                    "test '\(name)' needs exactly one of 'contact', 'webhook' or 'file'", at: item)
            } else {
                let e = inputs[0]
                switch e.key {
                case "contact", "webhook":
                    if case .mapping = e.value {
                        let json = Compiler.json(e.value)
                        do {
                            _ = try InboundContact.decode(json)
                            input = e.key == "contact" ? .contact(json) : .webhook(json)
                        } catch {
                            self.error(
                                .badTest, "test '\(name)': \(e.key) is not usable: \(error.message)", at: e.value)
                        }
                    } else {
                        error(
                            .wrongType, "test '\(name)': \(e.key) must be a mapping, found \(Compiler.kind(e.value))",
                            at: e.value)
                    }
                default:
                    if let path = string(e.value, "file") { input = .file(path) }
                }
            }
            var marked = false
            var current: [String] = []
            if let s = value("state"), let st = mapping(s, "state") {
                checkKeys(st, allowed: ["marked_customer", "buckets"], context: "a test state")
                for e in st {
                    if e.key == "marked_customer" { marked = bool(e.value, "marked_customer") ?? false }
                    if e.key == "buckets" { current = checkNames(e.value, bucketNames, .unknownBucket, "bucket") }
                }
            }
            var now: Timestamp?
            if let n = value("now"), let text = string(n, "now") {
                now = Timestamp(iso8601: text)
                if now == nil { error(.badValue, "now must be an ISO-8601 time such as 2026-01-31T12:00:00Z", at: n) }
            }
            var expect = RuleTestCase.Expectation()
            if let x = requireKey(entries, "expect", in: "test '\(name)'", at: item), let xe = mapping(x, "expect") {
                checkKeys(xe, allowed: Compiler.expectKeys, context: "expect")
                if xe.isEmpty { error(.badTest, "test '\(name)' expects nothing", at: x) }
                for e in xe {
                    switch e.key {
                    case "buckets": expect.buckets = checkNames(e.value, bucketNames, .unknownBucket, "bucket")
                    case "rules": expect.rules = checkNames(e.value, ruleNames, .unknownRule, "rule")
                    case "excluded_by":
                        expect.excludedBy = checkNames(e.value, exclusionNames, .unknownExclusion, "exclusion")
                    case "fields":
                        guard let fe = mapping(e.value, "expect.fields") else { break }
                        expect.fields = fe.compactMap { f in
                            guard case .scalar(let s) = f.value else {
                                error(.wrongType, "expected field values are strings", at: f.value)
                                return nil
                            }
                            return FieldValue(slug: f.key, value: s.string)
                        }
                    case "calltools_tags": expect.calltoolsTags = compileTagChanges(e.value, "expect.calltools_tags")
                    case "ghl_tags": expect.ghlTags = compileTagChanges(e.value, "expect.ghl_tags")
                    case "marked_customer": expect.markedCustomer = bool(e.value, "marked_customer")
                    default: break
                    }
                }
            }
            if let input {
                tests.append(
                    RuleTestCase(
                        name: name, file: file, line: line, input: input, markedCustomer: marked,
                        currentBuckets: current, now: now, expect: expect))
            }
        }
    }

    /// A list of names that must each be one of `known`.
    mutating func checkNames(_ node: Node, _ known: [String], _ code: Diagnostic.Code, _ what: String) -> [String] {
        guard let names = stringList(node, "\(what)s") else { return [] }
        guard checkNamesAgainstRules else { return names }
        let items: [Node] = node.sequence.map { Array($0) } ?? [node]
        for (i, n) in names.enumerated() where !known.contains(n) {
            var message = "unknown \(what) '\(n)'"
            if let s = suggestion(for: n, among: known) { message += "; did you mean '\(s)'?" }
            error(code, message, at: i < items.count ? items[i] : node)
        }
        return names
    }
}
