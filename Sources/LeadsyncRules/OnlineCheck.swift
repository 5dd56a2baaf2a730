import LeadsyncCore
import LeadsyncValues
import Yams

/// What `check --online` learned from the accounts (reads only).
public struct AccountFacts: Sendable {
    /// CallTools buckets, name → id.
    public var buckets: [String: Int] = [:]
    /// CallTools tags to add that exist (as the rules spell them); the others are created on
    /// first use.
    public var existingTags: Set<String> = []
    /// Keys seen on CallTools contacts (nil: no contact to read, slugs not checked).
    public var fieldSlugs: Set<String>?
    /// How many CallTools contacts those keys come from.
    public var contactsRead = 0
    /// GHL custom fields: keys (without `contact.`), ids and names.
    public var customFields: CustomFieldCatalog?
    /// Folded tags of the conditions that no GHL contact carries.
    public var uncarriedTags: Set<String> = []
    /// The location's tags, for did-you-mean.
    public var locationTags: [String] = []
    public init() {}
}

/// `check --online`: the rules file against the accounts it names. Pure: the caller reads the
/// accounts (`AccountFacts`); this says, at each name's line and column, which ones are wrong.
public enum OnlineCheck {
    /// Folded tag names the conditions test literally, each with where it is first tested.
    public static func conditionTags(_ rules: CompiledRules) -> [(tag: String, line: Int, column: Int)] {
        firstPlaces(rules) { c in
            guard case .tags(let test, _) = c else { return [] }
            switch test {
            case .has(let s), .anyOf(let s), .allOf(let s), .noneOf(let s): return s.names
            case .anyContains, .anyMatches, .count: return []
            }
        }.map { ($0.name, $0.line, $0.column) }
    }

    /// Custom field keys the conditions read, each with where it is first read.
    public static func conditionCustomFields(_ rules: CompiledRules) -> [(key: String, line: Int, column: Int)] {
        firstPlaces(rules) { c in
            guard case .field(.customField(let key), _, _) = c else { return [] }
            return [key]
        }.map { ($0.name, $0.line, $0.column) }
    }

    /// The names `names` finds in the condition nodes of the file's exclusions and rules, each
    /// once, with the place of the node that first names it.
    static func firstPlaces(
        _ rules: CompiledRules, _ names: (Condition) -> [String]
    ) -> [(name: String, line: Int, column: Int)] {
        var out: [(String, Int, Int)] = []
        var seen = Set<String>()
        func walk(_ c: Condition) {
            switch c {
            case .all(let list, _), .any(let list, _): list.forEach(walk)
            case .not(let inner, _): walk(inner)
            case .tags, .field, .markedCustomer:
                let id = Int(c.id)
                let info = rules.conditions.indices.contains(id) ? rules.conditions[id] : nil
                for n in names(c) where seen.insert(n).inserted { out.append((n, info?.line ?? 0, info?.column ?? 0)) }
            }
        }
        for e in rules.exclusions where !e.builtIn { walk(e.condition) }
        for r in rules.rules { walk(r.condition) }
        return out
    }

    /// The diagnostics. `source` is the file's text (for the places of bucket references, field
    /// slugs and tags to add, which the compiled rules do not keep).
    public static func diagnose(source: String, file: String, rules: CompiledRules, facts: AccountFacts) -> [Diagnostic]
    {
        var out: [Diagnostic] = []
        let places = Places(source: source)
        // Buckets, by id or by name.
        let byId = Dictionary(facts.buckets.map { ($0.value, $0.key) }, uniquingKeysWith: { a, _ in a })
        for b in rules.buckets {
            let at = places.bucket[b.name] ?? (0, 0)
            switch b.reference {
            case .id(let id) where byId[id] == nil:
                out.append(
                    Diagnostic(
                        .error, .accountBucket,
                        "bucket '\(b.name)': CallTools has no bucket \(id)"
                            + suggestion(String(id), among: facts.buckets.keys.sorted(), numeric: true),
                        file: file, line: at.0, column: at.1))
            case .name(let name) where facts.buckets[name] == nil:
                out.append(
                    Diagnostic(
                        .error, .accountBucket,
                        "bucket '\(b.name)': CallTools has no bucket named '\(name)'"
                            + suggestion(name, among: facts.buckets.keys.sorted()),
                        file: file, line: at.0, column: at.1))
            default: break
            }
        }
        // Field slugs of the mappings.
        if let slugs = facts.fieldSlugs {
            var reported = Set<String>()
            for f in rules.fields where !slugs.contains(f.slug) && reported.insert(f.slug).inserted {
                let at = places.field[f.slug] ?? (0, 0)
                out.append(
                    Diagnostic(
                        .error, .accountField,
                        "field '\(f.slug)': not a field of this CallTools account (none of the \(facts.contactsRead) "
                            + "contacts read has it); CallTools drops a key it does not define"
                            + suggestion(f.slug, among: slugs.sorted()),
                        file: file, line: at.0, column: at.1))
            }
        }
        // CallTools tags to add.
        var seenTags = Set<String>()
        for r in rules.rules {
            for t in r.calltoolsTags.add where !facts.existingTags.contains(t) && seenTags.insert(t).inserted {
                let at = places.tagToAdd[t] ?? (r.line, 1)
                out.append(
                    Diagnostic(
                        .warning, .accountTag, "CallTools has no tag '\(t)' yet: it is created on first use",
                        file: file, line: at.0, column: at.1))
            }
        }
        // GHL custom fields.
        if let catalog = facts.customFields {
            for (key, line, column) in conditionCustomFields(rules) where !catalog.knows(key) {
                out.append(
                    Diagnostic(
                        .error, .accountCustomField,
                        "custom field '\(key)': GHL has no such custom field in this location"
                            + suggestion(key, among: catalog.keys), file: file, line: line, column: column))
            }
        }
        // Tags no contact carries.
        for (tag, line, column) in conditionTags(rules) where facts.uncarriedTags.contains(tag) {
            out.append(
                Diagnostic(
                    .warning, .tagNotCarried,
                    "no GHL contact carries the tag '\(tag)'"
                        + suggestion(tag, among: facts.locationTags.map(\.foldedForComparison)),
                    file: file, line: line, column: column))
        }
        return out.sorted()
    }

    /// "; did you mean 'X'?" for the closest candidate: the same letters and digits ignoring
    /// case and spacing, else within a small edit distance.
    static func suggestion(_ name: String, among candidates: [String], numeric: Bool = false) -> String {
        guard !numeric, !candidates.isEmpty else { return "" }
        func squash(_ s: String) -> String {
            String(s.lowercased().unicodeScalars.filter { CharacterSetLite.isAlnum($0) })
        }
        let target = squash(name)
        if let same = candidates.first(where: { squash($0) == target }) { return "; did you mean '\(same)'?" }
        var best: (String, Int)?
        for c in candidates {
            let d = distance(target, squash(c))
            if d <= max(2, target.count / 4), d < (best?.1 ?? Int.max) { best = (c, d) }
        }
        return best.map { "; did you mean '\($0.0)'?" } ?? ""
    }

    /// Levenshtein distance over characters (names are short).
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + [Int](repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    /// Where the names live in the file: `buckets:` keys, `fields:` keys (top level and in
    /// rules), and `calltools_tags: { add: [...] }` items.
    struct Places {
        var bucket: [String: (Int, Int)] = [:]
        var field: [String: (Int, Int)] = [:]
        var tagToAdd: [String: (Int, Int)] = [:]

        init(source: String) {
            guard let root = try? Yams.compose(yaml: source), case .mapping(let top) = root else { return }
            func at(_ n: Node) -> (Int, Int) { (n.mark?.line ?? 0, n.mark?.column ?? 0) }
            func value(_ map: Node.Mapping, _ key: String) -> Node? {
                map.first { $0.key.scalar?.string == key }?.value
            }
            if case .mapping(let b)? = value(top, "buckets") {
                for (k, v) in b { if let name = k.scalar?.string { bucket[name] = at(v) } }
            }
            func fields(_ n: Node?) {
                guard case .mapping(let f)? = n else { return }
                for (k, _) in f { if let slug = k.scalar?.string, field[slug] == nil { field[slug] = at(k) } }
            }
            fields(value(top, "fields"))
            if case .sequence(let rules)? = value(top, "rules") {
                for case .mapping(let r) in rules {
                    fields(value(r, "fields"))
                    if case .mapping(let ct)? = value(r, "calltools_tags"), case .sequence(let add)? = value(ct, "add")
                    {
                        for item in add {
                            if let t = item.scalar?.string, tagToAdd[t] == nil { tagToAdd[t] = at(item) }
                        }
                    }
                }
            }
        }
    }
}

enum CharacterSetLite {
    static func isAlnum(_ u: Unicode.Scalar) -> Bool { u.properties.isAlphabetic || ("0"..."9").contains(u) }
}
