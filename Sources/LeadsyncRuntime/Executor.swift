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
    let calltools: any CallToolsAPI
    let ghl: (any GHLAPI)?
    /// Set for a dry run: the upstreams are this recorder, and nothing is written to the store.
    let recorder: RecordingUpstream?
    /// One contact at a time across the process (shared with the executors reloads build).
    public let locks: ContactLocks
    let now: @Sendable () -> Timestamp
    var resolution: Resolution
    /// Phone → CallTools contact, read once from the contact list for a large import; when set,
    /// phone lookups cost no call (see `prefetchDirectory`).
    var directory: [String: CallToolsContact]?
    /// Custom field definitions for decoding re-read contacts (only when the rules read custom
    /// fields): shared by every executor, pass and worker of the process.
    public let catalogs: CatalogCache?
    /// About 40 MiB of directory at most (roughly 250 bytes an entry).
    public static let maxDirectoryEntries = 150_000

    /// How long after a create intent a lookup can be trusted to see that create: a create sent
    /// just before a crash may still be in flight at the upstream when the process is back. Until
    /// then the contact waits (a transient failure: retried later) instead of risking a second
    /// contact. About twice the CallTools request deadline in production; zero in tests that
    /// control their upstream.
    let createSettle: Duration

    public init(
        rules: CompiledRules, store: LeadsyncDatabase, calltools: any CallToolsAPI, ghl: (any GHLAPI)?,
        now: @escaping @Sendable () -> Timestamp, createSettle: Duration = .zero, locks: ContactLocks = ContactLocks(),
        catalogs: CatalogCache? = nil
    ) throws(StoreError) {
        try self.init(
            rules: rules, store: store, calltools: calltools, ghl: ghl, recorder: nil, now: now,
            createSettle: createSettle, locks: locks, catalogs: catalogs ?? ghl.map { CatalogCache(ghl: $0) })
    }

    /// A dry-run executor: the same steps, against `recorder`, reading `store` and writing nothing.
    public init(
        rules: CompiledRules, store: LeadsyncDatabase, recording recorder: RecordingUpstream,
        now: @escaping @Sendable () -> Timestamp
    ) throws(StoreError) {
        try self.init(
            rules: rules, store: store, calltools: recorder, ghl: recorder, recorder: recorder, now: now,
            createSettle: .zero, locks: ContactLocks(), catalogs: nil)
    }

    private init(
        rules: CompiledRules, store: LeadsyncDatabase, calltools: any CallToolsAPI, ghl: (any GHLAPI)?,
        recorder: RecordingUpstream?, now: @escaping @Sendable () -> Timestamp, createSettle: Duration,
        locks: ContactLocks, catalogs: CatalogCache?
    ) throws(StoreError) {
        self.recorder = recorder
        self.locks = locks
        self.catalogs = catalogs
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
        /// GHL contacts read in full before dialing: this one (its source may omit a field the
        /// rules read), and others with the same phone whose exclusions rest on partial data.
        public var rereads = 0
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
        /// Not a failure but a wait: nothing was sent because this upstream is down (its
        /// circuit breaker is open). The server holds the work without spending an attempt.
        public var upstreamDown: Upstream? = nil
        public var description: String { "contact \(contactId): \(message)" }
    }

    /// Evaluates `contact`, brings CallTools to the decision, writes GHL tags back, records all.
    @discardableResult
    /// `completing`: inbox events this processing applies; they are marked done in the same
    /// transaction as the state they produced.
    /// `source`: where the contact's data came from; a decision to dial on data that source may
    /// have left out (`ContactSource.mayOmit`) first re-reads the contact from GHL.
    /// `observedAt`: how new that data is (an event's GHL timestamp, the time of a read). Data
    /// older than what the contact's state rests on is not acted on: the contact is read again.
    /// `observedUntil`: when data of uncertain age may be newer than `observedAt` (a search page,
    /// which lags GHL's writes), the latest it can be. The later of the two is stored with the
    /// outcome, so that an older event never overrides it (a re-read counts as now): each check
    /// errs towards reading GHL again.
    /// `verify`: a process died while applying this contact: read its CallTools contact back
    /// before planning (`verifyApplied`).
    public func process(
        _ contact: Contact, deleted: Bool = false, completing inboxEvents: [Int64] = [],
        source: ContactSource = .given, observedAt: Timestamp? = nil, observedUntil: Timestamp? = nil,
        verify: Bool = false
    ) async throws(Failure) -> Outcome {
        await locks.lock(contact.id)
        defer { locks.unlock(contact.id) }
        // Contacts with one phone share one CallTools contact: one of them at a time (after the
        // id, and only one phone per holder, so no two callers wait on each other).
        let payloadPhone = phoneKey(contact)
        let phoneLock = payloadPhone.map { "tel:" + $0 }
        if let phoneLock { await locks.lock(phoneLock) }
        defer { if let phoneLock { locks.unlock(phoneLock) } }
        let log = CallLog()
        do {
            return try await CallLog.$current.withValue(log) {
                try await processLogged(
                    contact, deleted: deleted, completing: inboxEvents, source: source,
                    observedAt: observedAt, observedUntil: observedUntil ?? observedAt,
                    payloadPhone: payloadPhone, verify: verify, log: log
                )
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
        _ contact: Contact, deleted: Bool, completing inboxEvents: [Int64], source: ContactSource,
        observedAt: Timestamp?, observedUntil: Timestamp?, payloadPhone: String?, verify: Bool, log: CallLog
    ) async throws(Failure) -> Outcome {
        let id = contact.id
        // What this processing leaves is written once, at the end (one transaction, one fsync),
        // except the create intent, which must be on disk before the create is sent. A crash
        // before the end loses nothing: the intent makes the next attempt look the contact up.
        var run = Run(id: id, log: log)
        var (contact, deleted, source, observedAt, observedUntil) = (
            contact, deleted, source, observedAt, observedUntil
        )
        do {
            let stored = try store.contact(id)
            run.applied = stored.applied
            run.pendingSince = stored.pendingSince
            let verified = verify ? try await verifyApplied(&run) : []
            // Data older than what the applied state rests on is never acted on: GHL is read.
            var refreshed: AuditEntry?
            if recorder == nil, source != .read, let seen = observedAt, let applied = stored.seenFrom ?? stored.seenAt,
                seen < applied
            {
                let read = try await refresh(contact, source: source, observedAt: seen, appliedFrom: applied)
                (contact, deleted, source) = (read.contact, deleted || read.deleted, .read)
                (observedAt, observedUntil) = (now(), now())
                refreshed = read.entry
            }
            let state = ContactState(markedCustomer: stored.markedCustomer, buckets: bucketIndexes(run.applied.buckets))
            var (decided, decision, completion) = try await decide(
                contact, deleted: deleted, state: state, source: source)
            contact = decided
            var phoneRecord: PhoneRecord?? = nil
            var phoneAudit: [AuditEntry] = []
            var rereads = (completion == nil ? 0 : 1) + (refreshed == nil ? 0 : 1)
            // The payload's phone, unless a re-read brought another contact body.
            if let phone = completion == nil && refreshed == nil ? payloadPhone : phoneKey(contact) {
                let byPhone = try await applyPhone(
                    contact, decision, state: state, deleted: deleted, source: source,
                    completed: completion != nil || refreshed != nil,
                    phone: phone, &run)
                (contact, decision, phoneAudit) = (byPhone.contact, byPhone.decision, byPhone.audit)
                rereads += byPhone.audit.count { $0.kind == .reread }
                if byPhone.record != stored.phone { phoneRecord = .some(byPhone.record) }
            } else if stored.phone != nil {
                phoneRecord = .some(nil)
            }
            run.audit =
                verified + [
                    AuditEntry(at: now(), kind: .decision, summary: summary(decision), detail: detail(decision))
                ]
            if let refreshed { run.audit.append(refreshed) }
            if let completion { run.audit.append(completion) }
            run.audit += phoneAudit
            if decision.marksCustomer, recorder == nil {
                let rule =
                    decision.appliedRules.first { rules.rules[$0].markCustomer }.map { rules.rules[$0].name } ?? "?"
                try store.setMarkedCustomer(id, true, at: now(), reason: "rule \(rule)")
            }
            try await converge(&run, decision, contact: contact)
            let ghlCalls = try await writeBackTags(&run, decision, contact: contact)
            if run.applied.calltoolsId == nil && decision.buckets.isEmpty { run.action = .skipped }
            // A re-read is the newest data there is: both bounds are now.
            let seenAt = rereads > 0 ? max(observedUntil ?? now(), now()) : observedUntil
            let seenFrom = rereads > 0 ? seenAt : observedAt
            // The data this decision was made on, for `plan`: written only when it changed.
            var data: (text: String, hash: Int64)?
            if !deleted, recorder == nil {
                let text = contact.snapshot
                let hash = Contact.snapshotHash(text)
                if hash != stored.dataHash { data = (text, hash) }
            }
            try record(
                run, decision: decision, quiet: ghlCalls == 0, completing: inboxEvents, phone: phoneRecord,
                seenAt: seenAt, seenFrom: seenFrom, data: data)
            return Outcome(
                contactId: id, action: run.action, calltoolsCalls: run.calls,
                ghlCalls: ghlCalls + rereads, decision: decision, rereads: rereads)
        } catch let error as UpstreamError {
            // What did happen before the failure is kept (a create's new id above all).
            try? store.recordOutcome(
                id, state: run.dirty ? run.applied : nil,
                audit: run.audit + callEntries(log)
                    + [AuditEntry(at: now(), kind: .outcome, summary: "failed: \(error)")],
                completing: [], at: now())
            throw Failure(
                contactId: id, message: error.description, transient: error.isTransient,
                upstreamDown: error.isCircuitOpen ? error.service : nil)
        } catch let error as StoreError {
            throw Failure(contactId: id, message: error.description, transient: error.isTransient)
        } catch let error as Failure {
            throw error
        } catch {
            throw Failure(contactId: id, message: "\(error)", transient: false)
        }
    }

    /// The decision for `contact`. A decision to dial on data its source may have left out
    /// (`ContactSource.mayOmit`) first re-reads the contact from GHL and decides again: never
    /// dial on data that cannot show a do-not-call. A failed read leaves the contact waiting
    /// (transient), never dialled. A dry run reports the read instead of making it.
    func decide(
        _ contact: Contact, deleted: Bool, state: ContactState, source: ContactSource
    ) async throws -> (Contact, Decision, AuditEntry?) {
        let decision = engine.evaluate(contact, state: state, now: now(), deleted: deleted)
        let missing = rules.fieldsToComplete(contact, source: source, decision: decision)
        guard !missing.isEmpty, recorder == nil else { return (contact, decision, nil) }
        let read = try await complete(contact, missing: missing, source: source)
        let again = engine.evaluate(read.contact, state: state, now: now(), deleted: deleted || read.deleted)
        return (read.contact, again, read.entry)
    }

    /// Writes what processing left: the state when it changed, the trail, the inbox events it
    /// applied. The trail records changes: a pass that did nothing for a contact whose decision
    /// reads as before writes nothing (no row, no fsync), so daily passes do not grow the
    /// database, and `explain` still shows the decision that holds.
    func record(
        _ run: Run, decision: Decision, quiet ghlQuiet: Bool, completing inboxEvents: [Int64], phone: PhoneRecord??,
        seenAt: Timestamp?, seenFrom: Timestamp? = nil, data: (text: String, hash: Int64)? = nil
    ) throws(StoreError) {
        guard recorder == nil else { return }
        var audit = run.audit
        let quiet =
            run.calls == 0 && ghlQuiet && (run.action == .unchanged || run.action == .skipped)
            && !decision.marksCustomer
        let unchangedDecision = quiet ? try store.lastDecisionSummary(run.id) == audit.first?.summary : false
        if !unchangedDecision {
            audit.append(
                AuditEntry(
                    at: now(), kind: .outcome, summary: "\(run.action.rawValue) (\(run.calls) CallTools calls)"))
        }
        try store.recordOutcome(
            run.id, state: run.dirty ? run.applied : nil, audit: unchangedDecision ? [] : audit,
            completing: inboxEvents, phone: phone, seenAt: seenAt, seenFrom: seenFrom, data: data, at: now())
    }

    /// Rule bucket indexes for CallTools bucket ids (for `on_no_match: keep`).
    public func bucketIndexes(_ ids: Set<Int>) -> [Int] {
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
