import LeadsyncValues

/// Evaluates contacts against compiled rules. Pure: no I/O, no clock; the same contact, state
/// and time always give the same decision (rules-v1.md §5).
public struct Engine: Sendable {
    public let rules: CompiledRules
    /// The conditions compiled to closures, exclusions then rules (see `ConditionProgram`).
    let exclusionPrograms: Programs<ConditionProgram>
    let rulePrograms: Programs<ConditionProgram>
    /// What the rule walk needs of each rule, as plain values (no reference counting per read).
    let ruleFlags: [RuleFlags]
    /// Each rule's CallTools fields compiled (`FieldProgram`): its merged mapping, and its own
    /// overrides for when several rules apply.
    let fieldPrograms: [Programs<FieldProgram>]
    let fieldOverrides: [[FieldProgram]]

    struct RuleFlags {
        var bucket: Int
        /// An exclusion (index, below 64) whose condition is the rule's own, or -1: the rule
        /// reuses that exclusion's result instead of matching the tags again. Rules that act on
        /// what an exclusion keeps out ("customer" excludes, "customer-tag" marks) are common.
        var sameAsExclusion: Int
        /// The condition's id, what the trace names when the reused result is "no".
        var conditionId: Int32
        var exclusive, stop, enabled, marks, hasTags: Bool
        /// Bit i set: exclusion i does not block the rule (exclusions past 63 use the rule's array).
        var ignores: UInt64
    }

    public init(rules: CompiledRules) {
        self.rules = rules
        exclusionPrograms = Programs(rules.exclusions.map { ConditionProgram($0.condition) })
        rulePrograms = Programs(rules.rules.map { ConditionProgram($0.condition) })
        let region = rules.calltools.defaultRegion
        fieldPrograms = rules.rules.map { Programs($0.mergedFields.map { FieldProgram($0, region: region) }) }
        fieldOverrides = rules.rules.map { $0.fields.map { FieldProgram($0, region: region) } }
        ruleFlags = rules.rules.map { r in
            var ignores: UInt64 = 0
            for (i, ignored) in r.ignoresExclusion.enumerated() where ignored && i < 64 { ignores |= 1 << UInt64(i) }
            let same = rules.exclusions.indices.first {
                $0 < 64 && Engine.sameTagMatch(rules.exclusions[$0].condition, r.condition)
            }
            return RuleFlags(
                bucket: r.bucket ?? -1, sameAsExclusion: same ?? -1, conditionId: r.condition.id,
                exclusive: r.exclusive, stop: r.stop, enabled: r.enabled,
                marks: r.markCustomer, hasTags: !r.calltoolsTags.isEmpty || !r.ghlTags.isEmpty,
                ignores: ignores)
        }
    }

    /// What a decision carries beyond its buckets, tags and what applied.
    public struct Detail: OptionSet, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// Why each rule did or did not apply (`Trace.rules`, `Trace.exclusions`).
        public static let trace = Detail(rawValue: 1)
        /// The CallTools fields, rendered from their templates.
        public static let fields = Detail(rawValue: 2)
        public static let all: Detail = [.trace, .fields]
    }

    /// The desired state for `contact`, given what local state says and the evaluation time.
    ///
    /// `detail` leaves out what the caller does not need. Without `.trace` the decision's trace
    /// holds only notes: what applied and what was excluded is still in `applied` and
    /// `excluded`, but not why each other rule did not apply (`plan` and bulk evaluation skip
    /// it; `explain`, `dry-run`, tests and the audit keep it). Without `.fields` no template is
    /// rendered: for a comparison of what applies, never for a decision that is carried out.
    public func evaluate(
        _ contact: Contact, state: ContactState = .none, now: Timestamp, deleted: Bool = false,
        detail: Detail = .all
    )
        -> Decision
    {
        let tracing = detail.contains(.trace)
        let ruleCount = rules.rules.count
        if deleted {
            return Decision(
                contactId: contact.id, eventType: contact.eventType, buckets: [], keptCurrentBuckets: false, fields: [],
                calltoolsTags: TagChanges(), ghlTags: TagChanges(), markedCustomer: state.markedCustomer,
                marksCustomer: false, deleted: true, applied: IndexBits(), excluded: IndexBits(),
                trace: Trace(
                    exclusions: tracing ? [Bool](repeating: false, count: rules.exclusions.count) : [],
                    rules: tracing ? [RuleOutcome](repeating: .notEvaluated, count: ruleCount) : [],
                    notes: ["ContactDelete: the contact leaves every managed bucket"]))
        }

        // 1-2. Exclusions (index 0 is the built-in marked-customer).
        var excluded = IndexBits()
        for i in 0..<exclusionPrograms.count where exclusionPrograms.with(i, { $0.run(contact, state, now) }) < 0 {
            excluded.insert(i)
        }
        // What the contact's own data matched, before exclusions shared through its phone.
        let ownExclusions = excluded.low
        var notes: [String] = []
        for shared in state.phoneExclusions where shared.exclusion < rules.exclusions.count {
            excluded.insert(shared.exclusion)
            notes.append(
                "exclusion '\(rules.exclusions[shared.exclusion].name)' matched GHL contact \(shared.contactId), "
                    + "which has the same phone")
        }
        let anyExcluded = !excluded.isEmpty

        // 3. Rules in file order.
        var outcomes = [RuleOutcome]()
        if tracing { outcomes.reserveCapacity(ruleCount) }
        var applied = IndexBits()
        var buckets: [Int] = []
        var bucketsLocked = false
        var calltoolsTags = TagChanges()
        var ghlTags = TagChanges()
        var marks = false
        var firstApplied = -1
        var severalApplied = false
        var stoppedBy: Int32 = -1
        for r in 0..<ruleCount {
            if stoppedBy >= 0 {
                if !tracing { break }
                outcomes.append(.stopped(by: stoppedBy))
                continue
            }
            let flags = ruleFlags[r]
            if !flags.enabled {
                if tracing { outcomes.append(.disabled) }
                continue
            }
            let failed: Int32
            if flags.sameAsExclusion >= 0 {
                failed = ownExclusions & (1 << UInt64(flags.sameAsExclusion)) != 0 ? -1 : flags.conditionId
            } else {
                failed = rulePrograms.with(r) { $0.run(contact, state, now) }
            }
            if failed >= 0 {
                if tracing { outcomes.append(.notMatched(condition: failed)) }
                continue
            }
            if anyExcluded, let blocker = blockingExclusion(excluded, flags, r) {
                if tracing { outcomes.append(.blocked(exclusion: Int32(blocker))) }
                continue
            }
            if tracing { outcomes.append(.applied) }
            applied.insert(r)
            if firstApplied < 0 { firstApplied = r } else { severalApplied = true }
            // `exclusive` fixes the bucket set to this rule's bucket (none, for a rule without
            // one); later rules may still tag or mark, but not route.
            if !bucketsLocked {
                if flags.exclusive {
                    buckets = flags.bucket >= 0 ? [flags.bucket] : []
                    bucketsLocked = true
                } else if flags.bucket >= 0, !buckets.contains(flags.bucket) {
                    buckets.append(flags.bucket)
                }
            }
            if flags.hasTags {
                let rule = rules.rules[r]
                calltoolsTags.merge(rule.calltoolsTags)
                ghlTags.merge(rule.ghlTags)
            }
            if flags.marks { marks = true }
            if flags.stop { stoppedBy = Int32(r) }
        }

        // 4. The desired state.
        var fields: [FieldValue] = []
        var kept = false
        if firstApplied >= 0 {
            if buckets.count > 1 { buckets.sort() }
            if detail.contains(.fields) {
                fields = renderFields(
                    contact, firstApplied: firstApplied, several: severalApplied, applied: applied, notes: &notes)
            }
        } else if rules.onNoMatch == .keep && !anyExcluded {
            buckets = state.buckets.sorted()
            kept = true
        }
        var exclusionTrace: [Bool] = []
        if tracing {
            exclusionTrace = (0..<rules.exclusions.count).map { excluded.contains($0) }
        }
        return Decision(
            contactId: contact.id, eventType: contact.eventType, buckets: buckets, keptCurrentBuckets: kept,
            fields: fields, calltoolsTags: calltoolsTags, ghlTags: ghlTags,
            markedCustomer: state.markedCustomer || marks, marksCustomer: marks && !state.markedCustomer,
            deleted: false, applied: applied, excluded: excluded,
            trace: Trace(exclusions: exclusionTrace, rules: outcomes, notes: notes))
    }

    /// True when both conditions are the same one-regex tag test (`any_matches` with the same
    /// pattern): the only case worth sharing, since it is the one that reads every tag.
    static func sameTagMatch(_ a: Condition, _ b: Condition) -> Bool {
        guard case .tags(.anyMatches(let x), _) = a, case .tags(.anyMatches(let y), _) = b else { return false }
        return x.pattern == y.pattern
    }

    /// The first matching exclusion that rule `r` does not ignore.
    @inline(__always)
    func blockingExclusion(_ excluded: IndexBits, _ flags: RuleFlags, _ r: Int) -> Int? {
        let blocking = excluded.low & ~flags.ignores
        if blocking != 0 { return blocking.trailingZeroBitCount }
        guard !excluded.high.isEmpty else { return nil }
        for i in 64..<rules.exclusions.count where excluded.contains(i) && !rules.rules[r].ignoresExclusion[i] {
            return i
        }
        return nil
    }

    /// Default mapping with each applied rule's overrides merged over it, in order.
    func renderFields(
        _ contact: Contact, firstApplied: Int, several: Bool, applied: IndexBits,
        notes: inout [String]
    ) -> [FieldValue] {
        var values: [FieldValue] = []
        func render(_ p: FieldProgram) {
            let before = notes.count
            if let v = p.render(contact, &notes) { values.append(FieldValue(slug: p.slug, value: v)) }
            // A filter's remark (a bad phone, a bad date) names the field it came from.
            for n in before..<notes.count { notes[n] = "field \(p.slug): \(notes[n]); left out" }
        }
        if several {
            var merged = fieldPrograms[firstApplied].owned
            for r in applied.indexes where r > firstApplied { merged = FieldProgram.merge(merged, fieldOverrides[r]) }
            values.reserveCapacity(merged.count)
            for p in merged { render(p) }
        } else {
            let programs = fieldPrograms[firstApplied]
            values.reserveCapacity(programs.count)
            for i in 0..<programs.count { programs.with(i, render) }
        }
        return values
    }

    static func holds(_ test: TagTest, _ contact: Contact) -> Bool {
        let tags = contact.foldedTags
        let hashes = contact.tagHashes
        switch test {
        case .has(let set), .anyOf(let set):
            for i in 0..<hashes.count where set.contains(hash: hashes[i], name: tags[i]) { return true }
            return false
        case .allOf(let set):
            for k in 0..<set.names.count {
                var found = false
                for i in 0..<hashes.count where hashes[i] == set.hashes[k] && tags[i] == set.names[k] {
                    found = true
                    break
                }
                if !found { return false }
            }
            return true
        case .noneOf(let set):
            for i in 0..<hashes.count where set.contains(hash: hashes[i], name: tags[i]) { return false }
            return true
        case .anyContains(let substrings):
            for tag in tags {
                for s in substrings where tag.utf8Contains(s) { return true }
            }
            return false
        case .anyMatches(let regex):
            for tag in tags where regex.matches(tag) { return true }
            return false
        case .count(let op, let n):
            return op.holds(tags.count, n)
        }
    }

    static func holds(_ test: FieldTest, _ value: JSON?, now: Timestamp) -> Bool {
        switch test {
        case .isMissing:
            return value == nil || value == .null
        case .isPresent:
            return !(value == nil || value == .null)
        case .isEmpty:
            switch value {
            case nil, .null?: return true
            case .string(let s)?: return s.isEmpty
            case .array(let a)?: return a.isEmpty
            case .object(let o)?: return o.isEmpty
            default: return false
            }
        case .equals(let literal, let cs):
            return anyScalar(value) { equal($0, literal, cs) }
        case .notEquals(let literal, let cs):
            return !anyScalar(value) { equal($0, literal, cs) }
        case .isIn(let literals, let cs):
            return anyScalar(value) { v in literals.contains { equal(v, $0, cs) } }
        case .notIn(let literals, let cs):
            return !anyScalar(value) { v in literals.contains { equal(v, $0, cs) } }
        case .contains(let literal, let cs):
            return anyText(value, cs) { $0.utf8Contains(cs ? literal.text ?? "" : literal.folded ?? "") }
        case .startsWith(let literal, let cs):
            return anyText(value, cs) { $0.hasPrefix(cs ? literal.text ?? "" : literal.folded ?? "") }
        case .endsWith(let literal, let cs):
            return anyText(value, cs) { $0.hasSuffix(cs ? literal.text ?? "" : literal.folded ?? "") }
        case .matches(let regex):
            return anyText(value, true) { regex.matches($0) }
        case .compare(let op, let comparand):
            return anyScalar(value) { v in
                switch comparand {
                case .number(let n):
                    guard let x = numeric(v) else { return false }
                    return op.holds(x, n)
                case .date(let d):
                    guard let s = v.stringValue, let t = Timestamp(iso8601: s) else { return false }
                    return op.holds(t, d)
                }
            }
        case .olderThan(let d):
            guard let t = timestamp(value) else { return false }
            return now.milliseconds - t.milliseconds > d.milliseconds
        case .newerThan(let d):
            guard let t = timestamp(value) else { return false }
            return now.milliseconds - t.milliseconds < d.milliseconds
        }
    }

    /// True when `body` holds for the value, or for some element when it is a list.
    @inline(__always)
    static func anyScalar(_ value: JSON?, _ body: (JSON) -> Bool) -> Bool {
        switch value {
        case nil: return false
        case .array(let items)?: return items.contains(where: body)
        case let v?: return body(v)
        }
    }

    @inline(__always)
    static func anyText(_ value: JSON?, _ caseSensitive: Bool, _ body: (String) -> Bool) -> Bool {
        anyScalar(value) { v in
            guard let text = v.scalarText else { return false }
            return body(caseSensitive ? text : text.foldedForComparison)
        }
    }

    @inline(__always)
    static func equal(_ value: JSON, _ literal: Literal, _ caseSensitive: Bool) -> Bool {
        if case .string(let s) = value {
            return caseSensitive ? s == literal.text : s.foldedForComparison == literal.folded
        }
        if value == .null { return literal.text == nil }
        guard let text = value.scalarText else { return false }
        return caseSensitive ? text == literal.text : text.foldedForComparison == literal.folded
    }

    static func numeric(_ value: JSON) -> Double? {
        switch value {
        case .number(let n): return n
        case .string(let s): return Double(s.trimmedASCII)
        default: return nil
        }
    }

    static func timestamp(_ value: JSON?) -> Timestamp? {
        switch value {
        case .string(let s)?: return Timestamp(iso8601: s)
        // GHL sometimes sends epoch milliseconds.
        case .number(let n)?: return Timestamp(epochMilliseconds: n)
        default: return nil
        }
    }
}
