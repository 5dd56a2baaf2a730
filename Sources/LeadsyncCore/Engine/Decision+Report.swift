import LeadsyncValues

/// How decisions are shown to people (`dry-run`, `test` failures) and written as JSON
/// (`dry-run --json`). Names come from the rules the decision was made with.
extension Decision {
    /// The reason a rule has its outcome, in words.
    public static func reason(_ outcome: RuleOutcome, rules: CompiledRules) -> String {
        switch outcome {
        case .applied: return "applied"
        case .notMatched(let id):
            let info = rules.conditions[Int(id)]
            return "not matched: \(info.description) does not hold (line \(info.line):\(info.column))"
        case .blocked(let e): return "blocked by exclusion '\(rules.exclusions[Int(e)].name)'"
        case .disabled: return "disabled (enabled: false)"
        case .stopped(let r): return "not evaluated: rule '\(rules.rules[Int(r)].name)' applied with stop: true"
        case .notEvaluated: return "not evaluated (ContactDelete)"
        }
    }

    static func outcomeCode(_ outcome: RuleOutcome) -> StaticString {
        switch outcome {
        case .applied: return "applied"
        case .notMatched: return "not_matched"
        case .blocked: return "blocked"
        case .disabled: return "disabled"
        case .stopped: return "stopped"
        case .notEvaluated: return "not_evaluated"
        }
    }

    /// Multi-line human report, trace included.
    public func report(rules: CompiledRules, name: String? = nil) -> String {
        func list(_ items: [String]) -> String { items.isEmpty ? "-" : items.joined(separator: ", ") }
        func tags(_ t: TagChanges) -> String {
            let parts = t.add.map { "+\($0)" } + t.remove.map { "-\($0)" }
            return parts.isEmpty ? "-" : parts.joined(separator: ", ")
        }
        var out = "\(contactId)"
        if let name { out += "  \(name)" }
        out += "  (\(eventType))\n"
        var bucketText = list(buckets.map { rules.buckets[$0].name })
        if keptCurrentBuckets { bucketText += "  (kept: on_no_match: keep)" }
        if deleted { bucketText += "  (ContactDelete)" }
        out += "  buckets          \(bucketText)\n"
        out += "  rules            \(list(appliedRules.map { rules.rules[$0].name }))\n"
        out += "  excluded by      \(list(matchedExclusions.map { rules.exclusions[$0].name }))\n"
        out +=
            "  fields           \(fields.isEmpty ? "-" : fields.map { "\($0.slug)=\"\($0.value)\"" }.joined(separator: " "))\n"
        out += "  calltools tags   \(tags(calltoolsTags))\n"
        out += "  ghl tags         \(tags(ghlTags))\n"
        out += "  marked customer  \(markedCustomer ? (marksCustomer ? "yes (new)" : "yes") : "no")\n"
        out += "  trace\n"
        let width = (rules.exclusions.map { $0.name.count + 10 } + rules.rules.map { $0.name.count + 5 }).max() ?? 0
        func padded(_ s: String) -> String { s + String(repeating: " ", count: max(1, width + 2 - s.count)) }
        for (i, e) in rules.exclusions.enumerated() {
            out += "    \(padded("exclusion \(e.name)"))\(excluded.contains(i) ? "matched" : "no")\n"
        }
        // An untraced decision knows which rules applied, not why the others did not.
        let traced = isTraced(by: rules)
        for (i, r) in rules.rules.enumerated() {
            let reason =
                traced
                ? Decision.reason(trace.rules[i], rules: rules) : applied.contains(i) ? "applied" : "not traced"
            out += "    \(padded("rule \(r.name)"))\(reason)\n"
        }
        for note in trace.notes { out += "    note: \(note)\n" }
        return out
    }

    /// One JSON object, no trailing newline. Keys are documented in docs/cli.md.
    public func writeJSON(into w: inout JSONWriter, rules: CompiledRules, name: String?) {
        w.raw("{")
        w.key("contact_id", first: true)
        w.string(contactId)
        if let name {
            w.key("name")
            w.string(name)
        }
        w.key("event")
        w.string(eventType)
        w.key("buckets")
        w.strings(buckets.map { rules.buckets[$0].name })
        w.key("rules")
        w.strings(appliedRules.map { rules.rules[$0].name })
        w.key("excluded_by")
        w.strings(matchedExclusions.map { rules.exclusions[$0].name })
        w.key("fields")
        w.raw("{")
        for (i, f) in fields.enumerated() {
            w.key(f.slug, first: i == 0)
            w.string(f.value)
        }
        w.raw("}")
        w.key("calltools_tags")
        writeTags(calltoolsTags, &w)
        w.key("ghl_tags")
        writeTags(ghlTags, &w)
        w.key("marked_customer")
        w.bool(markedCustomer)
        w.key("kept_current_buckets")
        w.bool(keptCurrentBuckets)
        w.key("deleted")
        w.bool(deleted)
        w.key("trace")
        w.raw("{\"exclusions\":[")
        for (i, e) in rules.exclusions.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"name\":")
            w.string(e.name)
            w.raw(",\"matched\":")
            w.bool(excluded.contains(i))
            w.raw("}")
        }
        w.raw("],\"rules\":[")
        // An untraced decision lists no rule outcomes (evaluated without `Engine.Detail.trace`).
        for (i, r) in rules.rules.enumerated() where isTraced(by: rules) {
            if i > 0 { w.raw(",") }
            let outcome = trace.rules[i]
            w.raw("{\"name\":")
            w.string(r.name)
            w.raw(",\"outcome\":\"")
            w.raw(Decision.outcomeCode(outcome))
            w.raw("\"")
            if outcome != .applied {
                w.raw(",\"reason\":")
                w.string(Decision.reason(outcome, rules: rules))
            }
            w.raw("}")
        }
        w.raw("],\"notes\":")
        w.strings(trace.notes)
        w.raw("}}")
    }

    private func writeTags(_ t: TagChanges, _ w: inout JSONWriter) {
        w.raw("{\"add\":")
        w.strings(t.add)
        w.raw(",\"remove\":")
        w.strings(t.remove)
        w.raw("}")
    }
}
