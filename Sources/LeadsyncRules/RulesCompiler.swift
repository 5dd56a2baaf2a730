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

    mutating func compileBuckets(_ node: Node) -> ([Bucket], [Node]) {
        guard let entries = mapping(node, "buckets") else { return ([], []) }
        if entries.isEmpty { error(.missingKey, "buckets must declare at least one bucket", at: node) }
        var buckets: [Bucket] = []
        var nodes: [Node] = []
        for e in entries {
            if !Compiler.validName(e.key, underscore: true) {
                error(.badName, "bucket name '\(e.key)' must use only a-z, 0-9, '-' and '_'", at: e.keyNode)
            }
            var reference: Bucket.Reference?
            switch e.value {
            case .scalar:
                if let id = int(e.value, "bucket '\(e.key)'") { reference = .id(id) }
            case .mapping:
                guard let fields = mapping(e.value, "bucket '\(e.key)'") else { break }
                checkKeys(fields, allowed: ["id", "name"], context: "bucket '\(e.key)'")
                let id = fields.first { $0.key == "id" }
                let name = fields.first { $0.key == "name" }
                if id != nil && name != nil {
                    error(.badValue, "bucket '\(e.key)' takes either 'id' or 'name', not both", at: e.value)
                } else if let id, let v = int(id.value, "bucket id") {
                    reference = .id(v)
                } else if let name, let v = string(name.value, "bucket name") {
                    reference = .name(v)
                } else if id == nil && name == nil {
                    error(.missingKey, "bucket '\(e.key)' needs 'id' or 'name'", at: e.value)
                }
            default:
                error(.wrongType, "bucket '\(e.key)' must be a CallTools id, { id: ID } or { name: NAME }", at: e.value)
            }
            if case .id(let id)? = reference, id <= 0 {
                error(.badValue, "bucket '\(e.key)' id must be a positive number", at: e.value)
            }
            buckets.append(Bucket(name: e.key, reference: reference ?? .id(0)))
            nodes.append(e.keyNode)
        }
        return (buckets, nodes)
    }

    mutating func compileCallTools(_ node: Node) -> CallToolsSettings {
        var settings = CallToolsSettings()
        guard let entries = mapping(node, "calltools") else { return settings }
        checkKeys(entries, allowed: ["phone_field", "lookup_existing", "default_region"], context: "calltools")
        for e in entries {
            switch e.key {
            case "phone_field": if let s = string(e.value, "phone_field") { settings.phoneField = s }
            case "lookup_existing": if let b = bool(e.value, "lookup_existing") { settings.lookupExisting = b }
            case "default_region":
                guard let s = string(e.value, "default_region") else { break }
                if let region = PhoneRegion.known[s.uppercased()] {
                    settings.defaultRegion = region
                } else {
                    var message = "unknown default_region '\(s)'"
                    if let sug = suggestion(for: s.uppercased(), among: PhoneRegion.known.keys.sorted()) {
                        message += "; did you mean '\(sug)'?"
                    } else {
                        message += " (known: \(PhoneRegion.known.keys.sorted().joined(separator: ", ")))"
                    }
                    error(.badValue, message, at: e.value)
                }
            default: break
            }
        }
        return settings
    }

    /// A map of CallTools field slug → template.
    mutating func compileFieldMap(_ node: Node, _ what: String) -> [FieldTemplate] {
        guard let entries = mapping(node, what) else { return [] }
        var out: [FieldTemplate] = []
        for e in entries {
            if let t = compileTemplate(e.value, "field '\(e.key)'") {
                out.append(FieldTemplate(slug: e.key, template: t))
            }
        }
        return out
    }

    mutating func compileTemplate(_ node: Node, _ what: String) -> Template? {
        guard let text = string(node, what) else { return nil }
        let (template, errors) = Template.parse(text)
        for e in errors {
            let code: Diagnostic.Code = e.message.hasPrefix("unknown filter") ? .unknownFilter : .badTemplate
            let (line, column) = location(inScalar: node, offset: e.offset)
            diagnostics.append(Diagnostic(.error, code, e.message, file: file, line: line, column: column))
        }
        if let template { checkTemplatePaths(template, node) }
        return template
    }

    mutating func checkTemplatePaths(_ template: Template, _ node: Node) {
        for part in template.parts {
            guard case .expression(let e) = part else { continue }
            var paths = [e.path]
            for f in e.filters { if case .default(.path(let p)) = f { paths.append(p) } }
            for p in paths { _ = checkPath(p.description, at: node) }
        }
    }

    /// Line and column of a character offset inside a scalar: exact for plain and quoted
    /// scalars on one line (the common case); the scalar's start otherwise.
    func location(inScalar node: Node, offset: Int) -> (Int, Int) {
        let mark = SourceLocation(node)
        guard case .scalar(let s) = node else { return (mark.line, mark.column) }
        switch s.style {
        case .plain: return (mark.line, mark.column + offset)
        case .singleQuoted, .doubleQuoted:
            // Escapes shift columns; without them the text starts one past the quote.
            if !s.string.contains("\n") { return (mark.line, mark.column + 1 + offset) }
            return (mark.line, mark.column)
        default: return (mark.line, mark.column)
        }
    }

    mutating func compileExclusions(_ node: Node) -> [Exclusion] {
        guard case .sequence(let seq) = node else {
            error(.wrongType, "exclusions must be a list, found \(Compiler.kind(node))", at: node)
            return []
        }
        var out: [Exclusion] = []
        var seen: [String: Int] = [CompiledRules.markedCustomerExclusion: 0]
        for item in seq {
            guard let entries = mapping(item, "an exclusion") else { continue }
            checkKeys(entries, allowed: ["name", "when"], context: "an exclusion")
            let nameNode = requireKey(entries, "name", in: "an exclusion", at: item)
            let name = nameNode.flatMap { string($0, "exclusion name") }
            if let name, let nameNode {
                if !Compiler.validName(name, underscore: true) {
                    error(.badName, "exclusion name '\(name)' must use only a-z, 0-9, '-' and '_'", at: nameNode)
                }
                if name == CompiledRules.markedCustomerExclusion {
                    error(.duplicateName, "'marked-customer' is built in; choose another exclusion name", at: nameNode)
                } else if let line = seen[name] {
                    error(.duplicateName, "duplicate exclusion name '\(name)' (first at line \(line))", at: nameNode)
                } else {
                    seen[name] = nameNode.mark?.line ?? 0
                }
            }
            let when = requireKey(entries, "when", in: "exclusion '\(name ?? "?")'", at: item).flatMap {
                compileCondition($0)
            }
            if let name, let when { out.append(Exclusion(name: name, condition: when)) }
        }
        return out
    }

    static let ruleKeys = [
        "name", "when", "bucket", "exclusive", "ignore_exclusions", "fields", "calltools_tags", "ghl_tags",
        "mark_customer", "stop", "enabled",
    ]

    mutating func compileRules(_ node: Node, exclusionCount: Int, defaultFields: [FieldTemplate]) -> ([Rule], [Node]) {
        guard case .sequence(let seq) = node else {
            error(.wrongType, "rules must be a list, found \(Compiler.kind(node))", at: node)
            return ([], [])
        }
        if seq.isEmpty { error(.missingKey, "rules must hold at least one rule", at: node) }
        var rules: [Rule] = []
        var nodes: [Node] = []
        var seen: [String: Int] = [:]
        for item in seq {
            guard let entries = mapping(item, "a rule") else { continue }
            checkKeys(entries, allowed: Compiler.ruleKeys, context: "a rule")
            func value(_ key: String) -> Node? { entries.first { $0.key == key }?.value }
            var name = "?"
            if let nameNode = requireKey(entries, "name", in: "a rule", at: item), let n = string(nameNode, "rule name")
            {
                name = n
                if !Compiler.validName(n) {
                    error(.badName, "rule name '\(n)' must use only a-z, 0-9 and '-'", at: nameNode)
                }
                if let line = seen[n] {
                    error(.duplicateName, "duplicate rule name '\(n)' (first at line \(line))", at: nameNode)
                } else {
                    seen[n] = nameNode.mark?.line ?? 0
                }
            }
            let when = requireKey(entries, "when", in: "rule '\(name)'", at: item).flatMap { compileCondition($0) }

            var bucket: Int?
            if let b = value("bucket"), let text = string(b, "bucket") {
                referencedBuckets.insert(text)
                if let i = bucketNames.firstIndex(of: text) {
                    bucket = i
                } else {
                    var message = "rule '\(name)' routes to unknown bucket '\(text)'"
                    if let s = suggestion(for: text, among: bucketNames) { message += "; did you mean '\(s)'?" }
                    error(.unknownBucket, message, at: b)
                }
            }
            var ignores = [Bool](repeating: false, count: exclusionCount)
            if let node = value("ignore_exclusions"), let names = stringList(node, "ignore_exclusions") {
                let items: [Node] = node.sequence.map { Array($0) } ?? [node]
                for (k, n) in names.enumerated() {
                    if let i = exclusionNames.firstIndex(of: n) {
                        ignores[i] = true
                    } else {
                        var message = "unknown exclusion '\(n)' in ignore_exclusions"
                        if let s = suggestion(for: n, among: exclusionNames) { message += "; did you mean '\(s)'?" }
                        error(.unknownExclusion, message, at: k < items.count ? items[k] : node)
                    }
                }
            }
            let fields = value("fields").map { compileFieldMap($0, "fields of rule '\(name)'") } ?? []
            let ctTags = value("calltools_tags").map { compileTagChanges($0, "calltools_tags") } ?? TagChanges()
            let ghlTags = value("ghl_tags").map { compileTagChanges($0, "ghl_tags") } ?? TagChanges()
            let exclusive = value("exclusive").flatMap { bool($0, "exclusive") } ?? false
            let mark = value("mark_customer").flatMap { bool($0, "mark_customer") } ?? false
            let stop = value("stop").flatMap { bool($0, "stop") } ?? false
            let enabled = value("enabled").flatMap { bool($0, "enabled") } ?? true
            if value("bucket") == nil && !exclusive && ctTags.isEmpty && ghlTags.isEmpty && !mark && fields.isEmpty {
                error(
                    .missingKey,
                    "rule '\(name)' needs a 'bucket' (or tags, a mark, or exclusive: true to do something)",
                    at: item)
            }
            if let when {
                rules.append(
                    Rule(
                        name: name, condition: when, bucket: bucket, exclusive: exclusive,
                        ignoresExclusion: ignores, fields: fields, calltoolsTags: ctTags, ghlTags: ghlTags,
                        markCustomer: mark, stop: stop, enabled: enabled, line: item.mark?.line ?? 0,
                        defaultFields: defaultFields))
                nodes.append(item)
            }
        }
        return (rules, nodes)
    }

    mutating func compileTagChanges(_ node: Node, _ what: String) -> TagChanges {
        guard let entries = mapping(node, what) else { return TagChanges() }
        checkKeys(entries, allowed: ["add", "remove"], context: what)
        var changes = TagChanges()
        for e in entries {
            guard let list = stringList(e.value, "\(what).\(e.key)") else { continue }
            for tag in list where tag.trimmedASCII.isEmpty {
                error(.badValue, "\(what).\(e.key) holds an empty tag name", at: e.value)
            }
            if e.key == "add" {
                changes.add = list.map(\.trimmedASCII)
            } else {
                changes.remove = list.map(\.trimmedASCII)
            }
        }
        let overlap = Set(changes.add.map(\.foldedForComparison)).intersection(
            changes.remove.map(\.foldedForComparison))
        if !overlap.isEmpty {
            error(
                .badValue, "\(what) adds and removes the same tag: \(overlap.sorted().joined(separator: ", "))",
                at: node)
        }
        return changes
    }

    /// Warns about a rule that an earlier enabled `stop` rule always pre-empts: its condition is
    /// the earlier one, or an `all` that includes it, and it ignores no exclusion the earlier
    /// rule does not also ignore.
    mutating func warnUnreachable(_ rules: [Rule], _ nodes: [Node]) {
        for (j, later) in rules.enumerated() where later.enabled {
            for earlier in rules[..<j] where earlier.enabled && earlier.stop {
                let e = earlier.condition, l = later.condition
                let covered: Bool
                if description(e) == description(l) {
                    covered = true
                } else if case .all(let children, _) = l {
                    covered = children.contains { description($0) == description(e) }
                } else if case .any(let children, _) = e {
                    covered = children.contains { description($0) == description(l) }
                } else {
                    covered = false
                }
                let ignoresNoMore = zip(later.ignoresExclusion, earlier.ignoresExclusion).allSatisfy { !$0 || $1 }
                if covered && ignoresNoMore {
                    warning(
                        .unreachableRule,
                        "rule '\(later.name)' can never apply: rule '\(earlier.name)' (line \(earlier.line)) matches first and has stop: true",
                        at: nodes[j])
                    break
                }
            }
        }
    }

    func description(_ c: Condition) -> String { conditions[Int(c.id)].description }
}
