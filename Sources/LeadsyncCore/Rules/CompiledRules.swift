import LeadsyncValues

/// A rules file, validated and compiled: what the engine evaluates. Built by `LeadsyncRules`.
public struct CompiledRules: Sendable {
    public var buckets: [Bucket]
    public var calltools: CallToolsSettings
    /// The default field mapping, in file order.
    public var fields: [FieldTemplate]
    /// Exclusions in file order, preceded by the built-in `marked-customer` at index 0.
    public var exclusions: [Exclusion]
    public var rules: [Rule]
    public var onNoMatch: OnNoMatch
    /// Descriptions and locations of every condition node, indexed by `Condition.id`.
    public var conditions: [ConditionInfo]
    /// A stable hash of the source text (hex), reported on reload.
    public var sourceHash: String
    /// How webhooks are read (`webhooks:`).
    public var webhooks = WebhookSettings()
    /// Which omitted fields are trusted as absent (`completeness:`).
    public var completeness = CompletenessSettings()

    public init(
        buckets: [Bucket], calltools: CallToolsSettings, fields: [FieldTemplate], exclusions: [Exclusion],
        rules: [Rule], onNoMatch: OnNoMatch, conditions: [ConditionInfo], sourceHash: String,
        webhooks: WebhookSettings = WebhookSettings(), completeness: CompletenessSettings = CompletenessSettings()
    ) {
        self.webhooks = webhooks
        self.completeness = completeness
        self.buckets = buckets
        self.calltools = calltools
        self.fields = fields
        self.exclusions = exclusions
        self.rules = rules
        self.onNoMatch = onNoMatch
        self.conditions = conditions
        self.sourceHash = sourceHash
    }

    public func bucketIndex(named name: String) -> Int? { buckets.firstIndex { $0.name == name } }

    public static let markedCustomerExclusion = "marked-customer"
}

/// A managed CallTools bucket.
public struct Bucket: Sendable, Equatable {
    public enum Reference: Sendable, Equatable {
        /// The numeric CallTools bucket id.
        case id(Int)
        /// A CallTools bucket name, resolved through `GET /api/buckets/` at run time.
        case name(String)
    }
    public var name: String
    public var reference: Reference
    public init(name: String, reference: Reference) {
        self.name = name
        self.reference = reference
    }
}

public struct CallToolsSettings: Sendable, Equatable {
    public var phoneField: String
    public var lookupExisting: Bool
    public var defaultRegion: PhoneRegion
    public init(
        phoneField: String = "mobile_phone_number", lookupExisting: Bool = true, defaultRegion: PhoneRegion = .us
    ) {
        self.phoneField = phoneField
        self.lookupExisting = lookupExisting
        self.defaultRegion = defaultRegion
    }
}

/// `webhooks:` in the rules file.
public struct WebhookSettings: Sendable, Equatable {
    /// Evaluate a workflow webhook's own payload instead of re-reading the contact from GHL
    /// (one GHL call saved per event; the payload's fields are what the workflow step sent).
    public var trustWorkflowPayload = false
    public init(trustWorkflowPayload: Bool = false) { self.trustWorkflowPayload = trustWorkflowPayload }
}

public enum OnNoMatch: String, Sendable {
    case remove
    case keep
}

/// Immutable and a class: the engine reads rules and exclusions for every contact, and a class
/// reference costs one retain where a struct copy would retain each of its fields.
public final class Exclusion: Sendable {
    public let name: String
    public let condition: Condition
    public let builtIn: Bool
    /// The exclusion holds for the phone, not only for the contact: another GHL contact with the
    /// same phone (one CallTools contact) is kept out of every bucket it blocks
    /// (`by_phone`, default true; the built-in `marked-customer` is per contact).
    public let byPhone: Bool
    public init(name: String, condition: Condition, builtIn: Bool = false, byPhone: Bool = true) {
        self.name = name
        self.condition = condition
        self.builtIn = builtIn
        self.byPhone = byPhone && !builtIn
    }
}

/// Tag names to add and remove.
public struct TagChanges: Sendable, Equatable {
    public var add: [String]
    public var remove: [String]
    public init(add: [String] = [], remove: [String] = []) {
        self.add = add
        self.remove = remove
    }
    public var isEmpty: Bool { add.isEmpty && remove.isEmpty }

    /// Applies `other` after `self`: a later add cancels an earlier remove of the same tag
    /// (compared case-insensitively), and the other way round.
    public mutating func merge(_ other: TagChanges) {
        if isEmpty {
            self = other
            return
        }
        for tag in other.add {
            let f = tag.foldedForComparison
            remove.removeAll { $0.foldedForComparison == f }
            if !add.contains(where: { $0.foldedForComparison == f }) { add.append(tag) }
        }
        for tag in other.remove {
            let f = tag.foldedForComparison
            add.removeAll { $0.foldedForComparison == f }
            if !remove.contains(where: { $0.foldedForComparison == f }) { remove.append(tag) }
        }
    }
}

/// A compiled rule; immutable (see `Exclusion`).
public final class Rule: Sendable {
    public let name: String
    public let condition: Condition
    /// Index into `CompiledRules.buckets`, nil for a rule that only tags or marks.
    public let bucket: Int?
    public let exclusive: Bool
    /// Indexed by exclusion index: true when that exclusion does not block this rule.
    public let ignoresExclusion: [Bool]
    /// This rule's own field templates.
    public let fields: [FieldTemplate]
    public let calltoolsTags: TagChanges
    public let ghlTags: TagChanges
    public let markCustomer: Bool
    public let stop: Bool
    public let enabled: Bool
    public let line: Int
    /// The default mapping with this rule's fields merged over it: what a contact routed by this
    /// rule alone gets.
    public let mergedFields: [FieldTemplate]

    public init(
        name: String, condition: Condition, bucket: Int?, exclusive: Bool = false, ignoresExclusion: [Bool],
        fields: [FieldTemplate] = [], calltoolsTags: TagChanges = TagChanges(), ghlTags: TagChanges = TagChanges(),
        markCustomer: Bool = false, stop: Bool = false, enabled: Bool = true, line: Int = 0,
        defaultFields: [FieldTemplate] = []
    ) {
        self.mergedFields = FieldTemplate.merge(defaultFields, fields)
        self.name = name
        self.condition = condition
        self.bucket = bucket
        self.exclusive = exclusive
        self.ignoresExclusion = ignoresExclusion
        self.fields = fields
        self.calltoolsTags = calltoolsTags
        self.ghlTags = ghlTags
        self.markCustomer = markCustomer
        self.stop = stop
        self.enabled = enabled
        self.line = line
    }
}

/// A CallTools field slug and the template that produces its value.
public struct FieldTemplate: Sendable {
    public var slug: String
    public var template: Template
    public init(slug: String, template: Template) {
        self.slug = slug
        self.template = template
    }

    /// `overrides` merged over `base`: same slug replaces in place, new slugs are appended.
    public static func merge(_ base: [FieldTemplate], _ overrides: [FieldTemplate]) -> [FieldTemplate] {
        var out = base
        for o in overrides {
            if let i = out.firstIndex(where: { $0.slug == o.slug }) { out[i] = o } else { out.append(o) }
        }
        return out
    }
}
