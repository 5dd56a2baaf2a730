import LeadsyncCore

/// Which rules and exclusions a file's tests reach (`leadsync test --coverage`): per rule, the
/// tests in which it applied, was blocked by an exclusion, or did not match; per exclusion, the
/// tests in which it matched. An item no test makes apply (or match) is unreached: nothing
/// checks that it still does what it says.
public struct RuleCoverage: Sendable {
    public struct Item: Sendable, Equatable {
        public enum Kind: String, Sendable { case rule, exclusion }
        public var kind: Kind
        public var name: String
        /// Where it is declared (0 for a built-in exclusion).
        public var line: Int
        /// Tests in which a rule applied / an exclusion matched.
        public var hits: Int = 0
        /// Tests in which a rule's condition held but an exclusion blocked it.
        public var blocked: Int = 0
        /// Tests that evaluated it without a match.
        public var misses: Int = 0
        /// The first few tests that hit it.
        public var tests: [String] = []
        public var reached: Bool { hits > 0 }
    }

    /// The file's rules and exclusions (the built-in `marked-customer` is not the file's, and
    /// is not counted).
    public var items: [Item] { slots.compactMap { $0 } }
    /// Indexed like the trace: exclusions then rules; nil for a built-in.
    private var slots: [Item?]
    public private(set) var tests = 0

    public init(rules: CompiledRules) {
        var slots: [Item?] = []
        for e in rules.exclusions {
            let id = Int(e.condition.id)
            let line = rules.conditions.indices.contains(id) ? rules.conditions[id].line : 0
            slots.append(e.builtIn ? nil : Item(kind: .exclusion, name: e.name, line: line))
        }
        for r in rules.rules { slots.append(Item(kind: .rule, name: r.name, line: r.line)) }
        self.slots = slots
    }

    /// One test's decision.
    public mutating func add(_ decision: Decision, test: String) {
        tests += 1
        let exclusionCount = decision.trace.exclusions.count
        for (i, matched) in decision.trace.exclusions.enumerated() where i < slots.count && slots[i] != nil {
            if matched {
                slots[i]?.hits += 1
                if slots[i]?.tests.count ?? 3 < 3 { slots[i]?.tests.append(test) }
            } else {
                slots[i]?.misses += 1
            }
        }
        for (j, outcome) in decision.trace.rules.enumerated() where exclusionCount + j < slots.count {
            let k = exclusionCount + j
            switch outcome {
            case .applied:
                slots[k]?.hits += 1
                if slots[k]?.tests.count ?? 3 < 3 { slots[k]?.tests.append(test) }
            case .blocked: slots[k]?.blocked += 1
            case .notMatched: slots[k]?.misses += 1
            case .disabled, .stopped, .notEvaluated: break
            }
        }
    }

    /// Items no test reached.
    public var unreached: [Item] { items.filter { !$0.reached } }

    /// The share of items reached, 0 to 100 (100 for a file with none).
    public var percent: Double {
        items.isEmpty ? 100 : Double(items.count - unreached.count) * 100 / Double(items.count)
    }
}
