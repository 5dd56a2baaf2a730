import LeadsyncCore
import LeadsyncValues
import Yams

/// A rules file after loading: the compiled rules when it had no errors, every diagnostic, and
/// its test cases.
public struct RulesDocument: Sendable {
    public var file: String
    public var source: String
    public var rules: CompiledRules?
    /// What compiled even when there were errors: used to check names in a sibling tests file
    /// without repeating the rules file's own errors there.
    public var partial: CompiledRules?
    public var diagnostics: [Diagnostic]
    public var tests: [RuleTestCase]

    public var sourceLines: [Substring] { source.split(separator: "\n", omittingEmptySubsequences: false) }
}

/// Turns rules YAML into `CompiledRules`, reporting every problem it finds (rules-v1.md §8).
public enum RulesCompiler {
    /// Compiles rules text. `file` is only used in diagnostics.
    public static func compile(source: String, file: String) -> RulesDocument {
        let yaml = YAMLDocument(text: source, file: file)
        var diagnostics = yaml.diagnostics
        var compiled: CompiledRules?
        var tests: [RuleTestCase] = []
        if let root = yaml.root {
            var compiler = Compiler(file: file, source: source)
            compiled = compiler.compileRoot(root)
            tests = compiler.tests
            diagnostics += compiler.diagnostics
        } else if diagnostics.isEmpty {
            diagnostics.append(
                Diagnostic(
                    .error, .missingKey, "the file is empty; expected 'version', 'buckets' and 'rules'",
                    file: file, line: 1, column: 1))
        }
        diagnostics.sort()
        return RulesDocument(
            file: file, source: source, rules: diagnostics.hasErrors ? nil : compiled, partial: compiled,
            diagnostics: diagnostics, tests: tests)
    }

    /// Compiles a `NAME.tests.yaml` file (a top-level `tests:` list) against compiled rules.
    public static func compileTests(
        source: String, file: String, against rules: CompiledRules?
    ) -> (tests: [RuleTestCase], diagnostics: [Diagnostic]) {
        let yaml = YAMLDocument(text: source, file: file)
        var diagnostics = yaml.diagnostics
        var tests: [RuleTestCase] = []
        if let root = yaml.root {
            var compiler = Compiler(file: file, source: source)
            compiler.knownNames(from: rules)
            if let entries = compiler.mapping(root, "a tests file") {
                compiler.checkKeys(entries, allowed: ["tests"], context: "a tests file")
                if let node = entries.first(where: { $0.key == "tests" })?.value {
                    compiler.compileTests(node)
                } else {
                    compiler.error(.missingKey, "a tests file needs a top-level 'tests:' list", at: root)
                }
            }
            tests = compiler.tests
            diagnostics += compiler.diagnostics
        }
        diagnostics.sort()
        return (tests, diagnostics)
    }
}

/// One key of a YAML mapping with its nodes.
struct Entry {
    var key: String
    var keyNode: Node
    var value: Node
}

/// What a field path is known to hold, for load-time type checks.
enum PathType {
    case string, bool, date, list, object, unknown
}

struct Compiler {
    let file: String
    let source: String
    var diagnostics: [Diagnostic] = []
    var conditions: [ConditionInfo] = []
    var bucketNames: [String] = []
    var exclusionNames: [String] = [CompiledRules.markedCustomerExclusion]
    var ruleNames: [String] = []
    /// Buckets named by any rule's `bucket:`, even a rule that failed to compile, so one error
    /// does not cause a misleading unused-bucket warning.
    var referencedBuckets: Set<String> = []
    var tests: [RuleTestCase] = []
    /// False when the rules did not compile at all: test expectations cannot be checked.
    var checkNamesAgainstRules = true

    init(file: String, source: String) {
        self.file = file
        self.source = source
    }

    mutating func knownNames(from rules: CompiledRules?) {
        guard let rules else {
            checkNamesAgainstRules = false
            return
        }
        bucketNames = rules.buckets.map(\.name)
        exclusionNames = rules.exclusions.map(\.name)
        ruleNames = rules.rules.map(\.name)
    }

    // MARK: Diagnostics helpers

    mutating func error(_ code: Diagnostic.Code, _ message: String, at node: Node) {
        let mark = SourceLocation(node)
        diagnostics.append(Diagnostic(.error, code, message, file: file, line: mark.line, column: mark.column))
    }

    mutating func warning(_ code: Diagnostic.Code, _ message: String, at node: Node) {
        let mark = SourceLocation(node)
        diagnostics.append(Diagnostic(.warning, code, message, file: file, line: mark.line, column: mark.column))
    }

    static func kind(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let s):
            if s.style == .plain {
                if node.null != nil { return "null" }
                if node.bool != nil { return "a boolean" }
                if node.int != nil || node.float != nil { return "a number" }
            }
            return "a string"
        }
    }

    /// The entries of a mapping, or a wrong-type diagnostic. Keys renamed by the duplicate-key
    /// pass are dropped (they were reported already).
    mutating func mapping(_ node: Node, _ what: String) -> [Entry]? {
        guard case .mapping(let map) = node else {
            error(.wrongType, "\(what) must be a mapping, found \(Compiler.kind(node))", at: node)
            return nil
        }
        var entries: [Entry] = []
        for (k, v) in map {
            guard case .scalar(let s) = k else {
                error(.wrongType, "keys must be plain strings", at: k)
                continue
            }
            if s.string.hasPrefix(YAMLDocument.duplicateMarker) { continue }
            entries.append(Entry(key: s.string, keyNode: k, value: v))
        }
        return entries
    }

    mutating func checkKeys(_ entries: [Entry], allowed: [String], context: String) {
        for e in entries where !allowed.contains(e.key) {
            var message = "unknown key '\(e.key)' in \(context)"
            if let s = suggestion(for: e.key, among: allowed) { message += "; did you mean '\(s)'?" }
            error(.unknownKey, message, at: e.keyNode)
        }
    }

    mutating func requireKey(_ entries: [Entry], _ key: String, in what: String, at node: Node) -> Node? {
        if let e = entries.first(where: { $0.key == key }) { return e.value }
        error(.missingKey, "\(what) is missing required key '\(key)'", at: node)
        return nil
    }

    mutating func string(_ node: Node, _ what: String) -> String? {
        guard case .scalar(let s) = node, !(s.style == .plain && (node.null != nil)) else {
            error(.wrongType, "\(what) must be a string, found \(Compiler.kind(node))", at: node)
            return nil
        }
        return s.string
    }

    mutating func bool(_ node: Node, _ what: String) -> Bool? {
        if case .scalar(let s) = node, s.style == .plain, let b = node.bool { return b }
        error(.wrongType, "\(what) must be true or false, found \(Compiler.kind(node))", at: node)
        return nil
    }

    mutating func int(_ node: Node, _ what: String) -> Int? {
        if case .scalar(let s) = node, s.style == .plain, let i = node.int { return i }
        error(.wrongType, "\(what) must be a whole number, found \(Compiler.kind(node))", at: node)
        return nil
    }

    /// A list of strings; a single string is accepted as a list of one.
    mutating func stringList(_ node: Node, _ what: String) -> [String]? {
        switch node {
        case .sequence(let seq):
            var out: [String] = []
            for item in seq {
                if let s = string(item, "each entry of \(what)") { out.append(s) }
            }
            return out
        case .scalar:
            return string(node, what).map { [$0] }
        default:
            error(.wrongType, "\(what) must be a list of strings, found \(Compiler.kind(node))", at: node)
            return nil
        }
    }

    /// Rule names: `[a-z0-9-]+` (rules-v1.md §3). Buckets and exclusions also allow `_`, as in
    /// the spec's own `cold_leads`.
    static func validName(_ name: String, underscore: Bool = false) -> Bool {
        !name.isEmpty
            && name.utf8.allSatisfy {
                ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || (underscore && $0 == 0x5F)
            }
    }

    // MARK: The file

    static let topLevelKeys = [
        "version", "buckets", "calltools", "fields", "exclusions", "rules", "on_no_match", "webhooks", "completeness",
        "tests",
    ]

    mutating func compileRoot(_ root: Node) -> CompiledRules? {
        guard let entries = mapping(root, "the rules file") else { return nil }
        checkKeys(entries, allowed: Compiler.topLevelKeys, context: "the rules file")
        func value(_ key: String) -> Node? { entries.first { $0.key == key }?.value }

        if let v = requireKey(entries, "version", in: "the rules file", at: root) {
            if case .scalar(let s) = v, s.style == .plain, v.int == 1 {
            } else {
                let shown = v.scalar?.string ?? Compiler.kind(v)
                error(.unsupportedVersion, "unsupported version '\(shown)'; supported versions: 1", at: v)
            }
        }

        var buckets: [Bucket] = []
        var bucketNodes: [Node] = []
        if let node = requireKey(entries, "buckets", in: "the rules file", at: root) {
            (buckets, bucketNodes) = compileBuckets(node)
        }
        bucketNames = buckets.map(\.name)

        var settings = CallToolsSettings()
        if let node = value("calltools") { settings = compileCallTools(node) }

        var fields: [FieldTemplate] = []
        if let node = value("fields") { fields = compileFieldMap(node, "fields") }

        var exclusions = [
            Exclusion(
                name: CompiledRules.markedCustomerExclusion,
                condition: .markedCustomer(id: addCondition("state marked_customer", at: root)),
                builtIn: true)
        ]
        if let node = value("exclusions") { exclusions += compileExclusions(node) }
        exclusionNames = exclusions.map(\.name)

        var rules: [Rule] = []
        var ruleNodes: [Node] = []
        if let node = requireKey(entries, "rules", in: "the rules file", at: root) {
            (rules, ruleNodes) = compileRules(node, exclusionCount: exclusions.count, defaultFields: fields)
        }
        ruleNames = rules.map(\.name)

        var onNoMatch = OnNoMatch.remove
        if let node = value("on_no_match"), let text = string(node, "on_no_match") {
            if let v = OnNoMatch(rawValue: text) {
                onNoMatch = v
            } else {
                error(.badValue, "on_no_match must be 'remove' or 'keep', found '\(text)'", at: node)
            }
        }

        var webhooks = WebhookSettings()
        if let node = value("webhooks"), let entries = mapping(node, "webhooks") {
            checkKeys(entries, allowed: ["trust_workflow_payload"], context: "webhooks")
            for e in entries where e.key == "trust_workflow_payload" {
                if let b = bool(e.value, "trust_workflow_payload") { webhooks.trustWorkflowPayload = b }
            }
        }

        var completeness = CompletenessSettings()
        if let node = value("completeness"), let entries = mapping(node, "completeness") {
            checkKeys(entries, allowed: ["trust_when_absent"], context: "completeness")
            for e in entries where e.key == "trust_when_absent" {
                for key in stringList(e.value, "trust_when_absent") ?? [] {
                    if Compiler.omissibleKeys.contains(key) {
                        completeness.trustedWhenAbsent.insert(key)
                    } else {
                        error(
                            .badValue,
                            "trust_when_absent: no source leaves out '\(key)'; the keys a source may omit are "
                                + Compiler.omissibleKeys.sorted().joined(separator: ", "), at: e.value)
                    }
                }
            }
        }

        // Warnings.
        warnIncompleteSources(exclusions, webhooks: webhooks, completeness: completeness)
        for (i, b) in buckets.enumerated() where !referencedBuckets.contains(b.name) {
            warning(.unusedBucket, "bucket '\(b.name)' is declared but no rule routes to it", at: bucketNodes[i])
        }
        warnUnreachable(rules, ruleNodes)
        warnDoNotCall(exclusions, rules, ruleNodes, rulesKey: entries.first { $0.key == "rules" }?.keyNode)

        if let node = value("tests") { compileTests(node) }

        return CompiledRules(
            buckets: buckets, calltools: settings, fields: fields, exclusions: exclusions, rules: rules,
            onNoMatch: onNoMatch, conditions: conditions, sourceHash: Compiler.hash(source), webhooks: webhooks,
            completeness: completeness)
    }

    /// Every key some source may leave out (`ContactSource.mayOmit`).
    static let omissibleKeys: Set<String> = [ContactSource.search, .webhook("ContactTagUpdate"), .workflowPayload]
        .reduce(into: Set<String>()) { $0.formUnion($1.mayOmit) }

    /// An exclusion that reads a field some source may omit: say how such a contact is completed
    /// before it is dialled, or the risk when the rules trust the field when absent.
    mutating func warnIncompleteSources(
        _ exclusions: [Exclusion], webhooks: WebhookSettings, completeness: CompletenessSettings
    ) {
        var sources: [ContactSource] = [.search, .webhook("ContactTagUpdate")]
        if webhooks.trustWorkflowPayload { sources.append(.workflowPayload) }
        for exclusion in exclusions where !exclusion.builtIn {
            var reported: Set<String> = []
            func walk(_ c: Condition) {
                switch c {
                case .all(let list, _), .any(let list, _): for x in list { walk(x) }
                case .not(let x, _): walk(x)
                case .field(.field(let key, _), _, let id):
                    let omitting = sources.filter { $0.mayOmit.contains(key) }
                    guard !omitting.isEmpty, reported.insert(key).inserted, Int(id) < conditions.count else { return }
                    let info = conditions[Int(id)]
                    let who = omitting.map { "\($0)" }.joined(separator: ", ")
                    let message =
                        completeness.trustedWhenAbsent.contains(key)
                        ? "exclusion '\(exclusion.name)' reads \(key), which \(who) may leave out, and "
                            + "completeness.trust_when_absent trusts it: such a contact can be dialled on a "
                            + "\(key) that was never sent"
                        : "exclusion '\(exclusion.name)' reads \(key), which \(who) may leave out: a contact "
                            + "without it is re-read with GET /contacts/{id} before it is put in a bucket"
                    // Trusting an omitted field is a risk (a warning); completing it is how the
                    // file runs (a note, shown by `check`).
                    let severity: Diagnostic.Severity = completeness.trustedWhenAbsent.contains(key) ? .warning : .note
                    diagnostics.append(
                        Diagnostic(
                            severity, .incompleteSource, message, file: file, line: info.line, column: info.column))
                case .field, .tags, .markedCustomer: break
                }
            }
            walk(exclusion.condition)
        }
    }

    static func hash(_ text: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

}
