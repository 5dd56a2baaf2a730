import LeadsyncCore
import LeadsyncStore
import LeadsyncSync
import LeadsyncUpstream
import LeadsyncValues

extension Executor {
    /// One contact's processing, carried from step to step.
    struct Run {
        let id: String
        let log: CallLog
        /// What CallTools holds for the contact, as far as we know, updated by every step.
        var applied = AppliedState()
        /// When an earlier create intent was recorded (a create that may be in flight).
        var pendingSince: Timestamp?
        var lookup: LookupResult?
        /// CallTools calls for this contact (lookups, creates, PATCHes; not id resolution).
        var calls = 0
        var action = Outcome.Action.unchanged
        /// `applied` changed and must be written.
        var dirty = false
        var audit: [AuditEntry] = []

        init(id: String, log: CallLog) {
            self.id = id
            self.log = log
        }
    }

    /// The one loop from a decision to CallTools: ask the planner for the next step, perform it,
    /// and ask again with what it learned, until the planner says nothing is left. A live pass,
    /// a webhook worker and a dry run all run it; only the upstreams differ.
    func converge(_ run: inout Run, _ decision: Decision, contact: Contact) async throws {
        // A contact with a pending create that no rule routes now renders no fields: its phone by
        // the default mapping lets the planner look it up and take it out of its buckets.
        let pendingPhone =
            run.applied.createPending && decision.fields.isEmpty
            ? rules.fields.first { $0.slug == rules.calltools.phoneField }?.template.render(
                contact, region: rules.calltools.defaultRegion, note: { _ in }) : nil
        for _ in 0..<8 {
            let step = planner.calltoolsStep(
                decision, applied: run.applied, resolution: resolution, lookup: run.lookup, pendingPhone: pendingPhone)
            switch step {
            case .nothing:
                return settleNotFound(&run)
            case .resolve(let buckets, let add, let remove):
                try await resolve(buckets: buckets, tagsToAdd: add, tagsToRemove: remove)
            case .lookup(let phone):
                try await lookUp(phone, &run)
            case .create(let body):
                try await create(body, &run)
            case .update(let id, let body):
                try await update(id, body, &run)
            }
        }
        settleNotFound(&run)
    }

    /// The create an intent announced never happened (the lookup found no one, and no rule
    /// routes the contact now): the intent is cleared.
    private func settleNotFound(_ run: inout Run) {
        if run.lookup == .notFound && run.applied.createPending && run.applied.calltoolsId == nil {
            run.applied.createPending = false
            run.dirty = true
        }
    }

    /// Looks the contact up by phone before creating it (or after a create that may have
    /// happened). Waits out the settle time of an earlier create first.
    func lookUp(_ phone: String, _ run: inout Run) async throws {
        if recorder == nil, let since = run.pendingSince {
            let settleMs = Int64(createSettle / .milliseconds(1))
            if now().milliseconds - since.milliseconds < settleMs {
                throw Failure(
                    contactId: run.id,
                    message:
                        "an earlier create for this contact may still be in flight; it is looked up once \(createSettle) have passed since \(since.iso8601)",
                    transient: true, settlesAt: Timestamp(milliseconds: since.milliseconds + settleMs))
            }
        }
        let found: [CallToolsContact]
        // A pending create intent means our own create may have happened after the directory
        // was read: only CallTools itself can say (crash safety).
        if let directory, !run.applied.createPending {
            found = directory[phone].map { [$0] } ?? []
        } else {
            run.calls += 1
            found = try await calltools.findByPhone(phone)
        }
        run.audit += callEntries(run.log)
        guard let existing = found.first else {
            run.lookup = .notFound
            run.audit.append(AuditEntry(at: now(), kind: .call, summary: "no CallTools contact with this phone"))
            return
        }
        // Adopt it: its id, and what it holds now, are our applied state from here on (recorded
        // even when nothing is left to change, linking the two for good).
        let managed = Set(resolution.buckets.values)
        run.applied = AppliedState(
            calltoolsId: existing.id, fields: existing.fields, buckets: existing.buckets.intersection(managed),
            tags: Dictionary(uniqueKeysWithValues: existing.tags.map { ($0, true) }))
        run.audit.append(
            AuditEntry(
                at: now(), kind: .call,
                summary: "found CallTools contact \(existing.id) by phone"
                    + (found.count > 1 ? " (\(found.count) share it; using the first)" : "")))
        run.dirty = true
    }

    /// Creates the contact, its intent committed first so a crash in between leads to a lookup,
    /// never a second contact.
    func create(_ body: CallToolsBody, _ run: inout Run) async throws {
        run.calls += 1
        if recorder == nil { try store.recordCreateIntent(run.id, at: now()) }
        let newId = try await calltools.create(body)
        recordWrite(body, id: newId, created: true, &run)
        if directory != nil, let phone = body.fields.first(where: { $0.slug == rules.calltools.phoneField })?.value {
            // A later GHL contact with the same phone links to this one, as a lookup would. Id
            // and buckets only: memory stays small; such a contact costs one fuller PATCH.
            directory?[phone] = CallToolsContact(
                id: newId, phoneNumbers: [phone], buckets: Set(body.addBuckets), tags: [], fields: [:])
            // Bounded memory: past this size, phone lookups go back to CallTools.
            if (directory?.count ?? 0) > Executor.maxDirectoryEntries { directory = nil }
        }
        run.action = .created
    }

    /// PATCHes only the changes.
    func update(_ id: Int, _ body: CallToolsBody, _ run: inout Run) async throws {
        run.calls += 1
        try await calltools.update(id, body)
        recordWrite(body, id: id, created: false, &run)
        if run.action != .created { run.action = .updated }
    }

    /// What a create or a PATCH leaves behind: the applied state, and the calls and the body
    /// sent in the audit trail.
    private func recordWrite(_ body: CallToolsBody, id: Int, created: Bool, _ run: inout Run) {
        run.applied = run.applied.applying(body, id: id)
        run.audit += callEntries(run.log)
        run.audit.append(
            AuditEntry(
                at: now(), kind: .call, summary: "\(created ? "created" : "updated") CallTools contact \(id)",
                detail: JSONWriter.encode(body.wire(forCreate: created))))
        run.dirty = true
    }

    /// GHL tag write-backs, only when the contact lacks or has the tags. Returns the calls made.
    func writeBackTags(_ run: inout Run, _ decision: Decision, contact: Contact) async throws -> Int {
        let changes = planner.ghlTagChanges(decision, currentTags: contact.tags)
        guard let ghl, !changes.isEmpty else { return 0 }
        var calls = 0
        if !changes.add.isEmpty {
            calls += 1
            try await ghl.addTags(run.id, changes.add)
        }
        if !changes.remove.isEmpty {
            calls += 1
            try await ghl.removeTags(run.id, changes.remove)
        }
        run.audit += callEntries(run.log)
        run.audit.append(AuditEntry(at: now(), kind: .call, summary: "GHL tags " + describe(changes)))
        return calls
    }

    /// Fetches ids for bucket names (one `GET /api/buckets/`) and tags (created when missing and
    /// to be added), and remembers them.
    func resolve(buckets: [String], tagsToAdd: [String], tagsToRemove: [String]) async throws {
        var bucketIds: [String: Int] = [:]
        if !buckets.isEmpty {
            let byName = try await calltools.buckets()
            for name in buckets {
                guard let bucket = rules.buckets.first(where: { $0.name == name }) else { continue }
                switch bucket.reference {
                case .id(let id): bucketIds[name] = id
                case .name(let ctName):
                    guard
                        let id = byName[ctName]
                            ?? byName.first(where: { $0.key.foldedForComparison == ctName.foldedForComparison })?.value
                    else {
                        throw Failure(
                            contactId: "-",
                            message: "CallTools has no bucket named '\(ctName)' (rules bucket '\(name)')",
                            transient: false)
                    }
                    bucketIds[name] = id
                }
            }
        }
        var tagIds: [String: Int?] = [:]
        for name in tagsToAdd {
            // One request in flight per name across every worker and pass; "already exists"
            // from a concurrent create becomes a look-up inside the client.
            tagIds[name.foldedForComparison] = try await calltools.ensureTag(name)
        }
        for name in tagsToRemove where tagIds[name.foldedForComparison] == nil {
            tagIds[name.foldedForComparison] = .some(try await calltools.tag(named: name))
        }
        if recorder == nil { try store.saveResolution(buckets: bucketIds, tags: tagIds, at: now()) }
        for (k, v) in bucketIds { resolution.buckets[k] = v }
        for (k, v) in tagIds { resolution.tags[k] = .some(v) }
    }

}
