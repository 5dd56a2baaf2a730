import LeadsyncValues

/// What the local state says about a contact before evaluation.
public struct ContactState: Sendable, Equatable {
    /// Marked a customer (by a `mark_customer` rule or `leadsync mark-customer`).
    public var markedCustomer: Bool
    /// Managed buckets the contact is in now (indexes into `CompiledRules.buckets`); used by
    /// `on_no_match: keep`.
    public var buckets: [Int]
    /// Exclusions that matched another GHL contact with the same phone (`Exclusion.byPhone`):
    /// they hold for this contact too, as if they had matched it.
    public var phoneExclusions: [PhoneExclusion]

    public init(markedCustomer: Bool = false, buckets: [Int] = [], phoneExclusions: [PhoneExclusion] = []) {
        self.markedCustomer = markedCustomer
        self.buckets = buckets
        self.phoneExclusions = phoneExclusions
    }

    public static let none = ContactState()
}

/// An exclusion (index into `CompiledRules.exclusions`) that matched another GHL contact holding
/// the same phone.
public struct PhoneExclusion: Sendable, Equatable {
    public var exclusion: Int
    public var contactId: String
    public init(exclusion: Int, contactId: String) {
        self.exclusion = exclusion
        self.contactId = contactId
    }
}

/// A CallTools field and its rendered value.
public struct FieldValue: Sendable, Equatable {
    public var slug: String
    public var value: String
    public init(slug: String, value: String) {
        self.slug = slug
        self.value = value
    }
}

/// The outcome of one rule in a decision's trace.
public enum RuleOutcome: Sendable, Equatable {
    /// The condition held and nothing blocked it.
    case applied
    /// The condition did not hold; the id names the condition node that failed first.
    case notMatched(condition: Int32)
    /// The condition held but a matching exclusion (index) blocks the rule.
    case blocked(exclusion: Int32)
    /// `enabled: false`.
    case disabled
    /// An earlier applied rule (index) had `stop: true`.
    case stopped(by: Int32)
    /// Not evaluated at all (a `ContactDelete`).
    case notEvaluated
}

/// A set of small indexes (rules, exclusions): one word inline, more only past 64, so a decision
/// records what applied without allocating.
public struct IndexBits: Sendable, Equatable {
    var low: UInt64 = 0
    var high: [UInt64] = []

    public init() {}

    public init(_ indexes: some Sequence<Int>) {
        for i in indexes { insert(i) }
    }

    @inline(__always)
    public mutating func insert(_ i: Int) {
        if i < 64 {
            low |= 1 << UInt64(i)
            return
        }
        let word = i / 64 - 1
        while high.count <= word { high.append(0) }
        high[word] |= 1 << UInt64(i % 64)
    }

    @inline(__always)
    public func contains(_ i: Int) -> Bool {
        if i < 64 { return low & (1 << UInt64(i)) != 0 }
        let word = i / 64 - 1
        return word < high.count && high[word] & (1 << UInt64(i % 64)) != 0
    }

    public var isEmpty: Bool { low == 0 && high.allSatisfy { $0 == 0 } }

    /// The members, ascending.
    public var indexes: [Int] {
        var out: [Int] = []
        for (w, word) in ([low] + high).enumerated() {
            var bits = word
            while bits != 0 {
                out.append(w * 64 + bits.trailingZeroBitCount)
                bits &= bits - 1
            }
        }
        return out
    }
}

/// Why the decision is what it is: every exclusion and every rule, in file order.
///
/// Built only when asked for (`Engine.Detail.trace`, the default): `plan` and the
/// benchmarks need what applied, which the decision keeps as `IndexBits`, not why each other
/// rule did not. An untraced decision has empty `exclusions` and `rules`.
public struct Trace: Sendable, Equatable {
    /// Indexed like `CompiledRules.exclusions`: whether each matched. Empty when not traced.
    public var exclusions: [Bool]
    /// Indexed like `CompiledRules.rules`. Empty when not traced.
    public var rules: [RuleOutcome]
    /// Remarks such as a phone number the `e164` filter could not normalise.
    public var notes: [String]

    public init(exclusions: [Bool], rules: [RuleOutcome], notes: [String] = []) {
        self.exclusions = exclusions
        self.rules = rules
        self.notes = notes
    }
}

/// The desired state for one contact: a value, compared in tests, turned into calls by the planner.
public struct Decision: Sendable, Equatable {
    public var contactId: String
    public var eventType: String
    /// Desired managed buckets: indexes into `CompiledRules.buckets`, ascending.
    public var buckets: [Int]
    /// True when `on_no_match: keep` left the buckets as the state said they were.
    public var keptCurrentBuckets: Bool
    /// CallTools fields for the contact, in mapping order. Empty when no rule applied.
    public var fields: [FieldValue]
    public var calltoolsTags: TagChanges
    public var ghlTags: TagChanges
    /// Sticky: true when the contact was marked already or an applied rule marks it.
    public var markedCustomer: Bool
    /// True when an applied rule marked the contact in this decision (the mark is new).
    public var marksCustomer: Bool
    /// A `ContactDelete`: the contact leaves every managed bucket.
    public var deleted: Bool
    /// The rules that applied and the exclusions that matched (kept with or without a trace).
    public var applied: IndexBits
    public var excluded: IndexBits
    public var trace: Trace

    /// `applied` and `excluded` default to what `trace` records.
    public init(
        contactId: String, eventType: String, buckets: [Int], keptCurrentBuckets: Bool, fields: [FieldValue],
        calltoolsTags: TagChanges, ghlTags: TagChanges, markedCustomer: Bool, marksCustomer: Bool, deleted: Bool,
        applied: IndexBits? = nil, excluded: IndexBits? = nil, trace: Trace
    ) {
        self.contactId = contactId
        self.eventType = eventType
        self.buckets = buckets
        self.keptCurrentBuckets = keptCurrentBuckets
        self.fields = fields
        self.calltoolsTags = calltoolsTags
        self.ghlTags = ghlTags
        self.markedCustomer = markedCustomer
        self.marksCustomer = marksCustomer
        self.deleted = deleted
        self.applied = applied ?? IndexBits(trace.rules.indices.filter { trace.rules[$0] == .applied })
        self.excluded = excluded ?? IndexBits(trace.exclusions.indices.filter { trace.exclusions[$0] })
        self.trace = trace
    }

    /// Indexes of the rules that applied, in order.
    public var appliedRules: [Int] { applied.indexes }

    /// Indexes of the exclusions that matched (index 0 is `marked-customer`).
    public var matchedExclusions: [Int] { excluded.indexes }

    /// True when the trace says why every rule did or did not apply.
    public func isTraced(by rules: CompiledRules) -> Bool {
        trace.rules.count == rules.rules.count && trace.exclusions.count == rules.exclusions.count
    }
}
