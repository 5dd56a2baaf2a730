import LeadsyncCore
import LeadsyncValues
import Yams

/// The sections of a rules file: buckets, calltools, fields, exclusions, rules.
extension Compiler {
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
            checkKeys(entries, allowed: ["name", "when", "by_phone"], context: "an exclusion")
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
            var byPhone = true
            if let node = entries.first(where: { $0.key == "by_phone" })?.value {
                byPhone = bool(node, "by_phone") ?? true
            }
            if let name, let when { out.append(Exclusion(name: name, condition: when, byPhone: byPhone)) }
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

    /// The first do-not-call key `condition` reads, if any.
    static func dndKeyRead(by condition: Condition) -> String? {
        condition.keysRead.first(where: DNDValues.keys.contains)
    }

    /// Warns (`do-not-call`) where the file can dial a contact who asked not to be called: a rule
    /// that routes to a bucket while ignoring every exclusion that reads `dnd`/`dndSettings`
    /// (at its `ignore_exclusions`), or a file that routes to buckets with no DND check at all
    /// (once, at `rules:`). A rule whose own condition reads a DND key guards itself.
    mutating func warnDoNotCall(_ exclusions: [Exclusion], _ rules: [Rule], _ nodes: [Node], rulesKey: Node?) {
        let guards = exclusions.indices.filter {
            !exclusions[$0].builtIn && Self.dndKeyRead(by: exclusions[$0].condition) != nil
        }
        var unguarded: [String] = []
        for (j, rule) in rules.enumerated() where rule.enabled && rule.bucket != nil {
            guard Self.dndKeyRead(by: rule.condition) == nil else { continue }
            guard !guards.isEmpty else {
                unguarded.append(rule.name)
                continue
            }
            let ignored = guards.filter { rule.ignoresExclusion[$0] }
            guard ignored.count == guards.count else { continue }
            let names = ignored.map { "'\(exclusions[$0].name)'" }.joined(separator: ", ")
            let key = Self.dndKeyRead(by: exclusions[ignored[0]].condition) ?? "dnd"
            var at = nodes[j]
            if case .mapping(let map) = nodes[j], let list = map["ignore_exclusions"] {
                at = list.sequence?.first { $0.string == exclusions[ignored[0]].name } ?? list
            }
            warning(
                .doNotCall,
                "rule '\(rule.name)' ignores \(ignored.count == 1 ? "exclusion" : "exclusions") \(names), which "
                    + "\(ignored.count == 1 ? "reads" : "read") \(key): it routes contacts who asked not to be called "
                    + "to bucket '\(bucketNames[rule.bucket ?? 0])'",
                at: at)
        }
        if !unguarded.isEmpty, let rulesKey {
            let list =
                unguarded.prefix(3).map { "'\($0)'" }.joined(separator: ", ") + (unguarded.count > 3 ? ", …" : "")
            warning(
                .doNotCall,
                "no exclusion reads dnd or dndSettings: \(unguarded.count == 1 ? "rule" : "rules") \(list) "
                    + "can route contacts who asked not to be called to a bucket",
                at: rulesKey)
        }
    }
}
