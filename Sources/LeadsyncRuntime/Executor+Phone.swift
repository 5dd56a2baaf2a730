import LeadsyncCore
import LeadsyncStore
import LeadsyncSync
import LeadsyncValues

/// Two GHL contacts with one phone are one CallTools contact: whoever is processed, the phone
/// is dialled through the same record. So an exclusion that matches either holds for the phone
/// (`Exclusion.byPhone`, on unless a rules file turns it off): above all a do-not-call on one
/// record keeps the number out of every bucket, whatever the other record says.
///
/// Both orders converge:
/// - the contact about to be dialled takes the exclusions its siblings matched (re-reading a
///   sibling whose recorded exclusions came from data that may have left out a field they read);
/// - an excluded contact whose sibling already put the shared CallTools contact in a bucket
///   takes that link over and brings it out (re-reading itself first when its own data may be
///   incomplete).
/// Contacts with one phone are processed one at a time (`process` locks the phone as well as the
/// id), so neither can act on what the other is about to change.
extension Executor {
    /// What the phone step leaves: the decision to act on, the contact's phone record to keep,
    /// and what it did, for the trail.
    struct PhoneOutcome {
        var contact: Contact
        var decision: Decision
        var record: PhoneRecord?
        var audit: [AuditEntry] = []
    }

    /// The number CallTools knows the contact by: the phone field as the default mapping renders
    /// it (E.164 with the usual mapping), or nil when it renders empty.
    func phoneKey(_ contact: Contact) -> String? {
        guard rules.hasPhoneExclusions, !contact.id.isEmpty,
            let template = rules.fields.first(where: { $0.slug == rules.calltools.phoneField })?.template,
            let value = template.render(contact, region: rules.calltools.defaultRegion, note: { _ in }),
            !value.isEmpty
        else { return nil }
        return value
    }

    /// The by-phone exclusions `decision` matched on the contact itself, by name.
    func ownPhoneExclusions(_ decision: Decision) -> [String] {
        decision.matchedExclusions.filter { rules.exclusions[$0].byPhone }.map { rules.exclusions[$0].name }
    }

    /// Applies the phone's exclusions to `decision` (see the type's comment).
    func applyPhone(
        _ contact: Contact, _ decision: Decision, state: ContactState, deleted: Bool, source: ContactSource,
        completed: Bool, phone: String, _ run: inout Run
    ) async throws -> PhoneOutcome {
        var out = PhoneOutcome(contact: contact, decision: decision)
        var complete = completed || rules.phoneExclusionFieldsToComplete(contact, source: source).isEmpty
        var siblings = try store.phoneSiblings(phone, except: contact.id)
        if let recorder {
            // A dry run sees the contacts it planned before this one as a real pass would.
            let planned = recorder.plannedSiblings(phone, except: contact.id)
            siblings = siblings.filter { s in !planned.contains { $0.ghlId == s.ghlId } } + planned
        }
        if siblings.isEmpty || deleted {
            out.record =
                deleted ? nil : PhoneRecord(phone: phone, exclusions: ownPhoneExclusions(decision), complete: complete)
            return out
        }
        let own = ownPhoneExclusions(decision)

        // About to dial: the siblings' exclusions hold here too.
        if !decision.buckets.isEmpty {
            var shared: [PhoneExclusion] = []
            for sibling in siblings {
                var names = sibling.record.exclusions
                if !sibling.record.complete, recorder == nil {
                    let (read, entry) = try await readSibling(sibling, phone: phone)
                    out.audit.append(entry)
                    names = read
                }
                for name in names {
                    if let i = rules.exclusions.firstIndex(where: { $0.name == name && $0.byPhone }) {
                        shared.append(PhoneExclusion(exclusion: i, contactId: sibling.ghlId))
                    }
                }
            }
            if !shared.isEmpty {
                var withPhone = state
                withPhone.phoneExclusions = shared
                out.decision = engine.evaluate(contact, state: withPhone, now: now(), deleted: deleted)
            }
            out.record = PhoneRecord(phone: phone, exclusions: own, complete: complete)
            return out
        }

        // Not dialled from here: if a sibling dials the phone, an exclusion of ours takes it out.
        let dialled = siblings.filter { $0.applied.calltoolsId != nil && !$0.applied.buckets.isEmpty }
        var ownNames = own
        if !dialled.isEmpty, ownNames.isEmpty, !complete, recorder == nil {
            // Our own data may hide a do-not-call the dialled sibling must honour: read it whole.
            let missing = rules.phoneExclusionFieldsToComplete(contact, source: source)
            let read = try await self.complete(contact, missing: missing, source: source)
            out.audit.append(read.entry)
            out.contact = read.contact
            out.decision = engine.evaluate(read.contact, state: state, now: now(), deleted: deleted || read.deleted)
            ownNames = ownPhoneExclusions(out.decision)
            complete = true
            if !out.decision.buckets.isEmpty {
                // The full read routes it after all: decide again with the siblings' exclusions.
                return try await applyPhone(
                    read.contact, out.decision, state: state, deleted: deleted, source: .read, completed: true,
                    phone: phone, &run)
            }
        }
        if !ownNames.isEmpty {
            for sibling in dialled {
                guard let id = sibling.applied.calltoolsId, !run.applied.createPending,
                    run.applied.calltoolsId.map({ $0 == id }) ?? true
                else { continue }
                let before = run.applied
                run.applied.calltoolsId = id
                run.applied.buckets.formUnion(sibling.applied.buckets)
                if run.applied != before {
                    run.dirty = true
                    out.audit.append(
                        AuditEntry(
                            at: now(), kind: .decision,
                            summary:
                                "GHL contact \(sibling.ghlId) has the same phone and put CallTools contact \(id) in "
                                + "buckets \(sibling.applied.buckets.sorted()); excluded here by "
                                + "\(ownNames.joined(separator: ", ")), so the phone leaves them"))
                }
            }
        }
        out.record = PhoneRecord(phone: phone, exclusions: ownNames, complete: complete)
        return out
    }

    /// Reads a sibling whose recorded exclusions may rest on incomplete data, and records what a
    /// full read says. Returns the by-phone exclusions it matches.
    func readSibling(_ sibling: PhoneSibling, phone: String) async throws -> ([String], AuditEntry) {
        let stub = Contact(id: sibling.ghlId, eventType: "manual")
        let read = try await complete(
            stub, missing: rules.phoneExclusionFieldsToComplete(stub, source: .search), source: .search)
        if read.deleted {
            try store.setPhoneRecord(sibling.ghlId, nil, at: now())
            return ([], read.entry)
        }
        let names = ownPhoneExclusions(engine.evaluate(read.contact, now: now()))
        // The sibling may have a new phone by now: its record follows what GHL says.
        let itsPhone = phoneKey(read.contact)
        try store.setPhoneRecord(
            sibling.ghlId, itsPhone.map { PhoneRecord(phone: $0, exclusions: names, complete: true) }, at: now())
        let entry = AuditEntry(
            at: now(), kind: .reread,
            summary: "GHL contact \(sibling.ghlId) has the same phone; read it whole: "
                + (names.isEmpty ? "no exclusion" : "excluded by \(names.joined(separator: ", "))")
                + (itsPhone == phone ? "" : " (its phone is now \(itsPhone ?? "none"))"))
        return (itsPhone == phone ? names : [], entry)
    }
}
