import LeadsyncCore
import LeadsyncValues

/// What leadsync last made CallTools hold for one contact, as the store recorded it. The planner
/// compares a decision with this, never with CallTools itself, so an unchanged contact costs no
/// call at all.
public struct AppliedState: Sendable, Equatable {
    /// The CallTools contact id, once a create (or a phone lookup) gave us one.
    public var calltoolsId: Int?
    /// A create was about to be sent and its result never recorded (a crash in between). The
    /// next plan looks the contact up by phone before creating, so there is never a second one.
    public var createPending: Bool
    /// Field values last sent, by slug.
    public var fields: [String: String]
    /// Managed bucket ids the contact is in, as last applied.
    public var buckets: Set<Int>
    /// CallTools tag ids known present (true) or known absent (false); a tag not listed is
    /// unknown (for example set by hand before leadsync).
    public var tags: [Int: Bool]

    public init(
        calltoolsId: Int? = nil, createPending: Bool = false, fields: [String: String] = [:], buckets: Set<Int> = [],
        tags: [Int: Bool] = [:]
    ) {
        self.calltoolsId = calltoolsId
        self.createPending = createPending
        self.fields = fields
        self.buckets = buckets
        self.tags = tags
    }

    /// A contact leadsync has never written to CallTools.
    public static let new = AppliedState()

    /// The state after `body` was applied successfully to contact `id`.
    public func applying(_ body: CallToolsBody, id: Int) -> AppliedState {
        var next = self
        next.calltoolsId = id
        next.createPending = false
        for f in body.fields { next.fields[f.slug] = f.value }
        next.buckets.formUnion(body.addBuckets)
        next.buckets.subtract(body.removeBuckets)
        for t in body.addTags { next.tags[t] = true }
        for t in body.removeTags { next.tags[t] = false }
        return next
    }
}

/// CallTools ids for the names a rules file uses.
public struct Resolution: Sendable, Equatable {
    /// Rules-file bucket name → CallTools bucket id.
    public var buckets: [String: Int]
    /// Folded tag name → CallTools tag id, or nil when CallTools has no such tag (a tag to
    /// remove that does not exist needs no call; a tag to add is created when resolving).
    public var tags: [String: Int?]

    public init(buckets: [String: Int] = [:], tags: [String: Int?] = [:]) {
        self.buckets = buckets
        self.tags = tags
    }

    /// The CallTools id of a tag, when known to exist.
    public func tagId(_ name: String) -> Int? { tags[name.foldedForComparison] ?? nil }

    /// Whether a tag to add still needs resolving: it has no id yet. A tag remembered as absent
    /// (it was only ever removed) must be created now, not skipped.
    public func needsResolving(toAdd name: String) -> Bool { tagId(name) == nil }

    /// Whether a tag to remove still needs resolving: nothing is known of it, neither an id nor
    /// that CallTools lacks it.
    public func needsResolving(toRemove name: String) -> Bool { tags[name.foldedForComparison] == nil }

    /// Ids the rules file gives directly (`bucket: 11237`); names still need `GET /api/buckets/`.
    public static func initial(for rules: CompiledRules) -> Resolution {
        var r = Resolution()
        for b in rules.buckets {
            if case .id(let id) = b.reference { r.buckets[b.name] = id }
        }
        return r
    }
}

/// A CallTools contact create or PATCH body: only what must change.
public struct CallToolsBody: Sendable, Equatable {
    public var fields: [FieldValue]
    public var addBuckets: [Int]
    public var removeBuckets: [Int]
    public var addTags: [Int]
    public var removeTags: [Int]

    public init(
        fields: [FieldValue] = [], addBuckets: [Int] = [], removeBuckets: [Int] = [], addTags: [Int] = [],
        removeTags: [Int] = []
    ) {
        self.fields = fields
        self.addBuckets = addBuckets
        self.removeBuckets = removeBuckets
        self.addTags = addTags
        self.removeTags = removeTags
    }

    public var isEmpty: Bool {
        fields.isEmpty && addBuckets.isEmpty && removeBuckets.isEmpty && addTags.isEmpty && removeTags.isEmpty
    }
}

/// What a phone lookup found, after the client checked the match itself (CallTools ignores
/// filters it does not know and would otherwise return every contact).
public enum LookupResult: Sendable, Equatable {
    case notFound
    /// An existing CallTools contact with this phone: its id, the managed buckets it is in and
    /// its field values, so the plan sends only what differs.
    case found(id: Int, buckets: Set<Int>, fields: [String: String])
}
