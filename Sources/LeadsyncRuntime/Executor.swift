import LeadsyncCore
import LeadsyncStore
import LeadsyncSync
import LeadsyncUpstream
import LeadsyncValues

/// Carries one contact from its decision to CallTools and back to the store.
///
/// The only place that knows both the rules and the upstreams. It asks the planner for a step,
/// performs it, records the outcome, and asks again, until the planner says nothing is left.
/// Crash safety comes from the order of writes: a create intent is committed before the create
/// is sent, and the new id is committed with the state it produced; a restart that finds the
/// intent looks the contact up by phone instead of creating it twice.
public actor Executor {
    public let rules: CompiledRules
    let engine: Engine
    let planner: Planner
    let store: LeadsyncDatabase
    let calltools: CallToolsClient
    let ghl: GHLClient?
    let now: @Sendable () -> Timestamp
    var resolution: Resolution
    /// Phone → CallTools contact, read once from the contact list for a large import; when set,
    /// phone lookups cost no call (see `prefetchDirectory`).
    var directory: [String: CallToolsContact]?
    /// About 40 MiB of directory at most (roughly 250 bytes an entry).
    public static let maxDirectoryEntries = 150_000

    /// How long after a create intent a lookup can be trusted to see that create: a create sent
    /// just before a crash may still be in flight at the upstream when the process is back. Until
    /// then the contact waits (a transient failure: retried later) instead of risking a second
    /// contact. About twice the CallTools request deadline in production; zero in tests that
    /// control their upstream.
    let createSettle: Duration

    public init(
        rules: CompiledRules, store: LeadsyncDatabase, calltools: CallToolsClient, ghl: GHLClient?,
        now: @escaping @Sendable () -> Timestamp, createSettle: Duration = .zero
    ) throws(StoreError) {
        self.createSettle = createSettle
        self.rules = rules
        self.engine = Engine(rules: rules)
        self.planner = Planner(rules: rules)
        self.store = store
        self.calltools = calltools
        self.ghl = ghl
        self.now = now
        self.resolution = try store.resolution(for: rules)
    }

    /// What processing one contact did.
    public struct Outcome: Sendable, Equatable {
        public enum Action: String, Sendable {
            case created, updated, unchanged, skipped
        }
        public var contactId: String
        public var action: Action
        /// CallTools calls for this contact (lookups, creates, PATCHes; not id resolution).
        public var calltoolsCalls: Int
        public var ghlCalls: Int
        public var decision: Decision
        /// The contact was re-read from GHL before dialing (its source may omit a field the
        /// rules read).
        public var reread = false
    }

    /// A failure processing one contact, naming the contact and the step.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var contactId: String
        public var message: String
        /// Worth retrying later (upstream unavailable, rate limited, database busy).
        public var transient: Bool
        /// Not a failure but a wait: an earlier create may still be in flight, and the look-up
        /// that settles it can run from this instant.
        public var settlesAt: Timestamp? = nil
        public var description: String { "contact \(contactId): \(message)" }
    }

    /// Contacts being processed, with the callers waiting their turn: one contact is processed
    /// by one caller at a time (webhook workers and a reconcile pass share this executor), so
    /// events for a contact apply in order and two creates can never race.
    private var busy: [String: [CheckedContinuation<Void, Never>]] = [:]

    private func lock(_ id: String) async {
        if busy[id] == nil {
            busy[id] = []
            return
        }
        await withCheckedContinuation { busy[id, default: []].append($0) }
    }

    private func unlock(_ id: String) {
        guard var waiting = busy[id], !waiting.isEmpty else {
            busy[id] = nil
            return
        }
        let next = waiting.removeFirst()
        busy[id] = waiting
        next.resume()  // ownership passes straight to the next caller
    }

    /// Evaluates `contact`, brings CallTools to the decision, writes GHL tags back, records all.
    @discardableResult
    /// `completing`: inbox events this processing applies; they are marked done in the same
    /// transaction as the state they produced.
    /// `source`: where the contact's data came from; a decision to dial on data that source may
    /// have left out (`ContactSource.mayOmit`) first re-reads the contact from GHL.
    public func process(
        _ contact: Contact, deleted: Bool = false, completing inboxEvents: [Int64] = [],
        source: ContactSource = .given
    ) async throws(Failure) -> Outcome {
        await lock(contact.id)
        defer { unlock(contact.id) }
        let log = CallLog()
        do {
            return try await CallLog.$current.withValue(log) {
                try await processLogged(contact, deleted: deleted, completing: inboxEvents, source: source, log: log)
            }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(contactId: contact.id, message: "\(error)", transient: false)
        }
    }

    /// The HTTP attempts made since the last call, as audit entries: method, path, status, latency.
    func callEntries(_ log: CallLog) -> [AuditEntry] {
        log.drain().map { r in
            let status = r.status.map(String.init) ?? "no answer"
            return AuditEntry(
                at: now(), kind: .call,
                summary: "\(r.method) \(r.path) → \(status) in \(r.milliseconds) ms"
                    + (r.attempt > 1 ? " (attempt \(r.attempt))" : ""))
        }
    }

    func processLogged(
        _ contact: Contact, deleted: Bool, completing inboxEvents: [Int64], source: ContactSource, log: CallLog
    ) async throws(Failure) -> Outcome {
        var contact = contact
        var deleted = deleted
        let id = contact.id
        func fail(_ message: String, transient: Bool) -> Failure {
            Failure(contactId: id, message: message, transient: transient)
        }
        // What this processing leaves is written once, at the end (one transaction, one fsync),
        // except the create intent, which must be on disk before the create is sent. A crash
        // before the end loses nothing: the intent makes the next attempt look the contact up.
        var audit: [AuditEntry] = []
        var applied = AppliedState()
        var dirty = false
        do {
            let stored = try store.contact(id)
            let state = ContactState(
                markedCustomer: stored.markedCustomer, buckets: bucketIndexes(stored.applied.buckets))
            var decision = engine.evaluate(contact, state: state, now: now(), deleted: deleted)
            var completion: AuditEntry?
            let missing = rules.fieldsToComplete(contact, source: source, decision: decision)
            if !missing.isEmpty {
                // Never dial on data that cannot show a do-not-call: read the whole contact first.
                // A failed read leaves the contact waiting (transient), never dialled.
                let read = try await complete(contact, missing: missing, source: source)
                contact = read.contact
                deleted = deleted || read.deleted
                decision = engine.evaluate(contact, state: state, now: now(), deleted: deleted)
                completion = read.entry
            }
            audit = [AuditEntry(at: now(), kind: .decision, summary: summary(decision), detail: detail(decision))]
            if let completion { audit.append(completion) }
            if decision.marksCustomer {
                let rule =
                    decision.appliedRules.first { rules.rules[$0].markCustomer }.map { rules.rules[$0].name } ?? "?"
                try store.setMarkedCustomer(id, true, at: now(), reason: "rule \(rule)")
            }

            applied = stored.applied
            var lookup: LookupResult?
            var calls = 0
            var action = Outcome.Action.unchanged
            let pendingPhone =
                applied.createPending && decision.fields.isEmpty
                ? rules.fields.first { $0.slug == rules.calltools.phoneField }?.template.render(
                    contact, region: rules.calltools.defaultRegion, note: { _ in }) : nil
            steps: for _ in 0..<8 {
                let step = planner.calltoolsStep(
                    decision, applied: applied, resolution: resolution, lookup: lookup, pendingPhone: pendingPhone)
                switch step {
                case .nothing:
                    break steps
                case .resolve(let buckets, let add, let remove):
                    try await resolve(buckets: buckets, tagsToAdd: add, tagsToRemove: remove)
                case .lookup(let phone):
                    if let since = stored.pendingSince,
                        now().milliseconds - since.milliseconds < Int64(createSettle / .milliseconds(1))
                    {
                        let settleMs = Int64(createSettle / .milliseconds(1))
                        throw Failure(
                            contactId: id,
                            message:
                                "an earlier create for this contact may still be in flight; it is looked up once \(createSettle) have passed since \(since.iso8601)",
                            transient: true, settlesAt: Timestamp(milliseconds: since.milliseconds + settleMs))
                    }
                    let found: [CallToolsContact]
                    // A pending create intent means our own create may have happened after the
                    // directory was read: only CallTools itself can say (crash safety).
                    if let directory, !applied.createPending {
                        found = directory[phone].map { [$0] } ?? []
                    } else {
                        calls += 1
                        found = try await calltools.findByPhone(phone)
                    }
                    if let existing = found.first {
                        // Adopt it: its id, and what it holds now, are our applied state from here on
                        // (recorded even when nothing is left to change, linking the two for good).
                        let managed = Set(resolution.buckets.values)
                        applied = AppliedState(
                            calltoolsId: existing.id, fields: existing.fields,
                            buckets: existing.buckets.intersection(managed),
                            tags: Dictionary(uniqueKeysWithValues: existing.tags.map { ($0, true) }))
                        audit += callEntries(log)
                        audit.append(
                            AuditEntry(
                                at: now(), kind: .call,
                                summary: "found CallTools contact \(existing.id) by phone"
                                    + (found.count > 1 ? " (\(found.count) share it; using the first)" : "")))
                        dirty = true
                    } else {
                        lookup = .notFound
                        audit += callEntries(log)
                        audit.append(
                            AuditEntry(at: now(), kind: .call, summary: "no CallTools contact with this phone"))
                    }
                case .create(let body):
                    calls += 1
                    try store.recordCreateIntent(id, at: now())
                    let newId = try await calltools.create(body.json(forCreate: true))
                    applied = applied.applying(body, id: newId)
                    if directory != nil,
                        let phone = body.fields.first(where: { $0.slug == rules.calltools.phoneField })?.value
                    {
                        // A later GHL contact with the same phone links to this one, as a lookup would.
                        // Id and buckets only: memory stays small; such a contact costs one fuller PATCH.
                        directory?[phone] = CallToolsContact(
                            id: newId, phoneNumbers: [phone], buckets: Set(body.addBuckets), tags: [], fields: [:])
                        // Bounded memory: past this size, phone lookups go back to CallTools.
                        if (directory?.count ?? 0) > Executor.maxDirectoryEntries { directory = nil }
                    }
                    audit += callEntries(log)
                    audit.append(
                        AuditEntry(
                            at: now(), kind: .call, summary: "created CallTools contact \(newId)",
                            detail: JSONWriter.encode(body.json(forCreate: true))))
                    dirty = true
                    action = .created
                case .update(let ctId, let body):
                    calls += 1
                    try await calltools.update(ctId, body.json(forCreate: false))
                    applied = applied.applying(body, id: ctId)
                    audit += callEntries(log)
                    audit.append(
                        AuditEntry(
                            at: now(), kind: .call, summary: "updated CallTools contact \(ctId)",
                            detail: JSONWriter.encode(body.json(forCreate: false))))
                    dirty = true
                    if action != .created { action = .updated }
                }
            }

            if lookup == .notFound && applied.createPending && applied.calltoolsId == nil {
                // The create the intent announced never happened (and no rule routes it now).
                applied.createPending = false
                dirty = true
            }

            // GHL write-backs, only when the contact lacks or has the tags.
            var ghlCalls = 0
            let changes = planner.ghlTagChanges(decision, currentTags: contact.tags)
            if let ghl, !changes.isEmpty {
                if !changes.add.isEmpty {
                    ghlCalls += 1
                    try await ghl.addTags(id, changes.add)
                }
                if !changes.remove.isEmpty {
                    ghlCalls += 1
                    try await ghl.removeTags(id, changes.remove)
                }
                audit += callEntries(log)
                audit.append(AuditEntry(at: now(), kind: .call, summary: "GHL tags " + describe(changes)))
            }
            if applied.calltoolsId == nil && decision.buckets.isEmpty { action = .skipped }
            // The trail records changes: a pass that did nothing for a contact whose decision
            // reads as before writes nothing (no row, no fsync), so daily passes do not grow
            // the database, and `explain` still shows the decision that holds.
            let quiet =
                calls == 0 && ghlCalls == 0 && (action == .unchanged || action == .skipped) && !decision.marksCustomer
            let unchangedDecision = quiet ? try store.lastDecisionSummary(id) == audit.first?.summary : false
            if !unchangedDecision {
                audit.append(
                    AuditEntry(at: now(), kind: .outcome, summary: "\(action.rawValue) (\(calls) CallTools calls)"))
            }
            try store.recordOutcome(
                id, state: dirty ? applied : nil, audit: unchangedDecision ? [] : audit, completing: inboxEvents,
                at: now())
            return Outcome(
                contactId: id, action: action, calltoolsCalls: calls, ghlCalls: ghlCalls + (completion == nil ? 0 : 1),
                decision: decision, reread: completion != nil)
        } catch let error as UpstreamError {
            // What did happen before the failure is kept (a create's new id above all).
            try? store.recordOutcome(
                id, state: dirty ? applied : nil,
                audit: audit + callEntries(log) + [AuditEntry(at: now(), kind: .outcome, summary: "failed: \(error)")],
                completing: [], at: now())
            throw fail(error.description, transient: error.isTransient)
        } catch let error as StoreError {
            throw fail(error.description, transient: error.isTransient)
        } catch let error as Failure {
            throw error
        } catch {
            throw fail("\(error)", transient: false)
        }
    }

    /// Custom field definitions for decoding re-read contacts, fetched once per executor (once
    /// per rules version) and only when the rules read custom fields.
    var catalog: CustomFieldCatalog?

    /// Re-reads a contact whose source may have left out `missing`, before it is dialled.
    func complete(
        _ contact: Contact, missing: [String], source: ContactSource
    ) async throws -> (contact: Contact, deleted: Bool, entry: AuditEntry) {
        let why = "\(source) may leave out \(missing.joined(separator: ", "))"
        guard let ghl else {
            throw Failure(
                contactId: contact.id,
                message: "not dialled: \(why), and there is no GHL client to re-read the contact", transient: true)
        }
        let fresh: JSON
        do {
            fresh = try await ghl.contact(contact.id)
        } catch let error where error.meansContactGone {
            return (
                Contact(id: contact.id, eventType: contact.eventType), true,
                AuditEntry(at: now(), kind: .reread, summary: "re-read before dialing (\(why)): gone from GHL")
            )
        } catch {
            throw Failure(
                contactId: contact.id,
                message: "not dialled yet: \(why), and re-reading it failed: \(error.description)",
                transient: true)
        }
        if rules.usesCustomFields && catalog == nil { catalog = try await ghl.customFields() }
        let read: Contact
        do {
            read = try InboundContact.decode(
                fresh, catalog: catalog ?? .empty, defaultEventType: contact.eventType, expecting: .api
            ).contact
        } catch {
            throw Failure(contactId: contact.id, message: "re-read contact: \(error.message)", transient: false)
        }
        let found = missing.map { key in
            "\(key) " + (read.field(key).map { JSONWriter.encode($0) } ?? "absent there too")
        }
        return (
            read, false,
            AuditEntry(
                at: now(), kind: .reread,
                summary: "re-read before dialing (\(why)): " + found.joined(separator: "; "))
        )
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
        try store.saveResolution(buckets: bucketIds, tags: tagIds, at: now())
        for (k, v) in bucketIds { resolution.buckets[k] = v }
        for (k, v) in tagIds { resolution.tags[k] = .some(v) }
    }

    /// Rule bucket indexes for CallTools bucket ids (for `on_no_match: keep`).
    func bucketIndexes(_ ids: Set<Int>) -> [Int] {
        rules.buckets.indices.filter { i in resolution.buckets[rules.buckets[i].name].map(ids.contains) ?? false }
    }

    func summary(_ d: Decision) -> String {
        let buckets = d.buckets.map { rules.buckets[$0].name }
        let applied = d.appliedRules.map { rules.rules[$0].name }
        let excluded = d.matchedExclusions.map { rules.exclusions[$0].name }
        var s = "\(d.eventType): buckets [\(buckets.joined(separator: ", "))]"
        if !applied.isEmpty { s += " by \(applied.joined(separator: ", "))" }
        if !excluded.isEmpty { s += "; excluded by \(excluded.joined(separator: ", "))" }
        return s
    }

    func detail(_ d: Decision) -> String {
        var w = JSONWriter()
        d.writeJSON(into: &w, rules: rules, name: nil)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    func describe(_ t: TagChanges) -> String {
        (t.add.map { "+\($0)" } + t.remove.map { "-\($0)" }).joined(separator: ", ")
    }
}
