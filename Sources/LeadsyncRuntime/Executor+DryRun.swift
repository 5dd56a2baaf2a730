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

    /// `sync --dry-run`: what each contact of a page would cost, counted per bucket and rule.
    /// Unresolved names plan with placeholder ids; a phone lookup finds no one.
    func plan(_ contacts: [Contact], into plan: inout SyncPass.Plan) async throws {
        guard let recorder else { return }
        for contact in contacts {
            let stored = try store.contact(contact.id)
            let decision = engine.evaluate(
                contact,
                state: ContactState(
                    markedCustomer: stored.markedCustomer, buckets: bucketIndexes(stored.applied.buckets)),
                now: now())
            for r in decision.appliedRules { plan.byRule[rules.rules[r].name, default: 0] += 1 }
            // A real pass re-reads these before dialing (search may omit dndSettings); the dry run
            // plans them on the search data and counts them.
            if !rules.fieldsToComplete(contact, source: .search, decision: decision).isEmpty { plan.rereads += 1 }
            var changed = false
            for call in try await plannedCalls(decision, applied: stored.applied, contact: contact) {
                let name = { (id: Int) in recorder.bucketName(id, resolution: self.resolution) }
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
