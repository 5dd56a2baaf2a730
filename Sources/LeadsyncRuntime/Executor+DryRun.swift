import LeadsyncCore
import LeadsyncStore
import LeadsyncSync
import LeadsyncUpstream
import LeadsyncValues

extension Executor {
    /// The calls processing a contact would make against `applied`, recorded instead of sent:
    /// the executor's own steps run against its recorder (a dry-run executor only). `decision`
    /// is the caller's (`dry-run --marked-customer` evaluates as if marked).
    public func plannedCalls(
        _ decision: Decision, applied: AppliedState, contact: Contact
    ) async throws -> [PlannedCall] {
        guard let recorder else { throw Failure(contactId: contact.id, message: "not a dry run", transient: false) }
        _ = recorder.drain()
        var run = Run(id: contact.id, log: CallLog())
        run.applied = applied
        try await converge(&run, decision, contact: contact)
        _ = try await writeBackTags(&run, decision, contact: contact)
        return recorder.drain()
    }

    /// A dry run's view of the phone's exclusions (see `applyPhone`): what the local state knows
    /// of the other contacts with this contact's phone, without reading any of them. Returns the
    /// decision to plan with and the applied state to plan against (a sibling's CallTools contact
    /// that an exclusion here would take out of its buckets).
    public func withPhoneExclusions(
        _ contact: Contact, _ decision: Decision, state: ContactState, applied: AppliedState, source: ContactSource
    ) async throws -> (Decision, AppliedState) {
        guard recorder != nil, let phone = phoneKey(contact) else { return (decision, applied) }
        var run = Run(id: contact.id, log: CallLog())
        run.applied = applied
        let out = try await applyPhone(
            contact, decision, state: state, deleted: decision.deleted, source: source, completed: false, phone: phone,
            &run)
        return (out.decision, run.applied)
    }

    /// `sync --dry-run`: what each contact of a page would cost, counted per bucket and rule.
    /// Unresolved names plan with placeholder ids; a phone lookup finds no one.
    func plan(_ contacts: [Contact], into plan: inout SyncPass.Plan) async throws {
        guard let recorder else { return }
        for contact in contacts {
            let stored = try store.contact(contact.id)
            let state = ContactState(
                markedCustomer: stored.markedCustomer, buckets: bucketIndexes(stored.applied.buckets))
            let (decision, applied) = try await withPhoneExclusions(
                contact, engine.evaluate(contact, state: state, now: now()), state: state, applied: stored.applied,
                source: .search)
            if let phone = phoneKey(contact) {
                recorder.notePhone(phone, id: contact.id, exclusions: ownPhoneExclusions(decision))
            }
            for r in decision.appliedRules { plan.byRule[rules.rules[r].name, default: 0] += 1 }
            // A real pass re-reads these before dialing (search may omit dndSettings); the dry run
            // plans them on the search data and counts them.
            if !rules.fieldsToComplete(contact, source: .search, decision: decision).isEmpty { plan.rereads += 1 }
            var changed = false
            for call in try await plannedCalls(decision, applied: applied, contact: contact) {
                let name = { (id: Int) in recorder.bucketName(id, resolution: self.resolution) }
                switch call {
                case .buckets, .tag: plan.calls["id", default: 0] += 1
                // A tag to add is looked up, then created if CallTools lacks it: counted as both.
                case .ensureTag: plan.calls["id", default: 0] += 2
                case .lookup: plan.calls["lookup", default: 0] += 1
                case .create: plan.calls["create", default: 0] += 1
                case .update: plan.calls["patch", default: 0] += 1
                case .ghlAddTags, .ghlRemoveTags: plan.ghlWrites += 1
                }
                switch call {
                case .create(let body):
                    changed = true
                    for b in body.addBuckets { plan.creates[name(b), default: 0] += 1 }
                case .update(_, let body):
                    changed = true
                    plan.updates += 1
                    for b in body.addBuckets { plan.adds[name(b), default: 0] += 1 }
                    for b in body.removeBuckets { plan.removals[name(b), default: 0] += 1 }
                default: break
                }
            }
            if !changed { plan.unchanged += 1 }
        }
    }
}
