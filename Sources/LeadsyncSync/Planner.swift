import LeadsyncCore
import LeadsyncValues

/// Turns a decision into the fewest CallTools and GHL calls that reach it, given what the store
/// says was applied. Pure: it returns the next step and never performs it; the executor
/// performs it, records the outcome, and asks again with what it learned (resolved ids, a
/// lookup result), like the state machines of SwiftNIO and async-http-client.
///
/// Bars it is built for: a new contact costs at most two CallTools calls (lookup, create); a
/// changed one one PATCH; an unchanged one none. Only managed buckets are ever touched.
public struct Planner: Sendable {
    public let rules: CompiledRules

    public init(rules: CompiledRules) { self.rules = rules }

    public enum Step: Sendable, Equatable {
        /// Ids are needed first: bucket names (`GET /api/buckets/`) and tag names
        /// (`GET /api/alltags/?name=`, created when missing and to be added).
        case resolve(buckets: [String], tagsToAdd: [String], tagsToRemove: [String])
        /// Look the contact up by E.164 phone before creating it.
        case lookup(phone: String)
        /// Create it (the executor records the intent first).
        case create(CallToolsBody)
        /// PATCH contact `id` with only the changes.
        case update(id: Int, CallToolsBody)
        /// CallTools already holds the desired state.
        case nothing
    }

    /// The next CallTools step for `decision`.
    ///
    /// - Parameters:
    ///   - lookup: the result of a `.lookup` step, once the executor has one.
    ///   - pendingPhone: the contact's phone by the default mapping, for a contact with a pending
    ///     create that no rule routes now (its decision renders no fields): that create may have
    ///     happened, so the contact is looked up and taken out of its buckets.
    public func calltoolsStep(
        _ decision: Decision, applied: AppliedState, resolution: Resolution,
        lookup: LookupResult? = nil, pendingPhone: String? = nil
    ) -> Step {
        // 1. Names that still need ids.
        // One `GET /api/buckets/` resolves every named bucket, so ask for all of them whenever
        // buckets matter at all (the full managed set is needed to compute removals).
        let desiredNames = decision.buckets.map { rules.buckets[$0].name }
        let bucketsMatter = !desiredNames.isEmpty || !applied.buckets.isEmpty || applied.createPending
        let missingBuckets = bucketsMatter ? rules.buckets.map(\.name).filter { resolution.buckets[$0] == nil } : []
        let missingAdd = decision.calltoolsTags.add.filter(resolution.needsResolving(toAdd:))
        let missingRemove = decision.calltoolsTags.remove.filter(resolution.needsResolving(toRemove:))
        if !missingBuckets.isEmpty || !missingAdd.isEmpty || !missingRemove.isEmpty {
            return .resolve(buckets: missingBuckets, tagsToAdd: missingAdd, tagsToRemove: missingRemove)
        }

        let managed = Set(rules.buckets.compactMap { resolution.buckets[$0.name] })
        let desiredBuckets = Set(desiredNames.compactMap { resolution.buckets[$0] })
        let tagsToAdd = decision.calltoolsTags.add.compactMap(resolution.tagId)
        let tagsToRemove = decision.calltoolsTags.remove.compactMap(resolution.tagId)

        // 2. A contact CallTools does not have yet (as far as we know).
        guard let id = applied.calltoolsId else {
            // Never create a contact only to have it in no bucket; but a create that may have
            // happened (an intent) is looked up, so that contact can leave its buckets.
            let nowhere = decision.deleted || desiredBuckets.isEmpty
            if nowhere && !applied.createPending { return .nothing }
            let phone =
                decision.fields.first { $0.slug == rules.calltools.phoneField }?.value ?? (nowhere ? pendingPhone : nil)
            let mustLookUp = rules.calltools.lookupExisting || applied.createPending
            if mustLookUp, let phone, lookup == nil { return .lookup(phone: phone) }
            if case .found(let existing, let buckets, let fields)? = lookup {
                let state = AppliedState(calltoolsId: existing, fields: fields, buckets: buckets.intersection(managed))
                return update(decision, existing, state, desiredBuckets, managed, tagsToAdd, tagsToRemove)
            }
            if nowhere { return .nothing }
            // `removeTags` is not sent on a create (its wire form leaves it out), but recording
            // it makes `applying` mark those tags absent: a new contact has only the tags it was
            // created with, so no follow-up PATCH is needed to remove the others.
            return .create(
                CallToolsBody(
                    fields: decision.fields, addBuckets: desiredBuckets.sorted(),
                    addTags: unique(tagsToAdd), removeTags: unique(tagsToRemove)))
        }
        return update(decision, id, applied, desiredBuckets, managed, tagsToAdd, tagsToRemove)
    }

    /// The PATCH for an existing contact, or `.nothing`.
    func update(
        _ decision: Decision, _ id: Int, _ applied: AppliedState, _ desired: Set<Int>, _ managed: Set<Int>,
        _ tagsToAdd: [Int], _ tagsToRemove: [Int]
    ) -> Step {
        var body = CallToolsBody()
        if !decision.deleted {
            body.fields = decision.fields.filter { applied.fields[$0.slug] != $0.value }
        }
        if !decision.keptCurrentBuckets {
            let current = applied.buckets.intersection(managed)
            body.addBuckets = desired.subtracting(current).sorted()
            body.removeBuckets = current.subtracting(desired).sorted()
        }
        if !decision.deleted {
            body.addTags = unique(tagsToAdd.filter { applied.tags[$0] != true })
            body.removeTags = unique(tagsToRemove.filter { applied.tags[$0] != false })
        }
        return body.isEmpty ? .nothing : .update(id: id, body)
    }

    /// GHL tag write-backs: add only what the contact lacks, remove only what it has (compared
    /// trimmed and case-insensitively). Our own write-backs come back as webhooks; after them
    /// this returns nothing, which is what stops the loop.
    public func ghlTagChanges(_ decision: Decision, currentTags: [String]) -> TagChanges {
        let have = Set(currentTags.map(\.foldedForComparison))
        var changes = TagChanges()
        for t in decision.ghlTags.add where !have.contains(t.foldedForComparison) { changes.add.append(t) }
        for t in decision.ghlTags.remove where have.contains(t.foldedForComparison) { changes.remove.append(t) }
        return changes
    }

    private func unique(_ ids: [Int]) -> [Int] {
        var seen = Set<Int>()
        return ids.filter { seen.insert($0).inserted }
    }
}
