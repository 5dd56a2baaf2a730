import LeadsyncCore
import LeadsyncStore
import LeadsyncSync
import LeadsyncUpstream
import LeadsyncValues

/// One batch or reconcile pass over the location's GHL contacts.
///
/// Streams `POST /contacts/search` pages (500 contacts, sorted by `dateAdded`, `searchAfter`
/// paging; incremental passes filter on `dateUpdated`), processes each page's contacts with bounded concurrency, and checkpoints the cursor
/// after every page. Memory holds one page. A pass killed at any point resumes from its last
/// checkpoint; contacts of the interrupted page are processed again, which costs nothing for
/// those already done (the planner finds them unchanged).
public struct SyncPass: Sendable {
    public enum Mode: Sendable, Equatable {
        /// Every contact.
        case full
        /// Contacts updated since this instant (nil: since the last finished pass, else full).
        case incremental(since: Timestamp?)

        var name: String {
            if case .full = self { return "full" }
            return "incremental"
        }
    }

    public struct Options: Sendable {
        public var mode: Mode = .full
        public var concurrency = 8
        public var pageLimit = GHLClient.maxPageLimit
        /// Plan only: no CallTools call, no GHL write, nothing stored.
        public var dryRun = false
        /// A run already recorded (`startRun`, or an interrupted one) to carry on with; the
        /// server records it first so `/sync/trigger` can answer with its id at once.
        public var runId: Int64?
        /// The longest a pass waits, in all, before it ends for creates to settle and for
        /// transient faults to pass; contacts still waiting then are reported failed (the next
        /// pass or the server finishes them).
        public var maxWait: Duration = .seconds(300)
        /// What the pass does when an upstream's circuit breaker opens: pause until it closes
        /// (the server's passes: `.wait`), or pause only if the upstream answered earlier in
        /// this process (the command line: an upstream unreachable from the start is an error).
        public var whenUpstreamDown: CircuitBreaker.WhenOpen = .waitIfEverReached
        public init() {}
    }

    /// Counts so far; also what is checkpointed.
    public struct Progress: Sendable, Equatable {
        public var runId: Int64?
        public var pages = 0
        public var contacts = 0
        public var total: Int?
        public var created = 0
        public var updated = 0
        public var unchanged = 0
        public var skipped = 0
        public var failed = 0
        /// Contacts re-read with `GET /contacts/{id}` before dialing (search may omit dndSettings).
        public var rereads = 0
        /// Time spent at the end of the pass waiting for creates to settle and faults to pass.
        public var waited: Duration = .zero
        /// Contacts that a first attempt left waiting (settle time, transient fault) and the
        /// end of the pass finished.
        public var recovered = 0
        public var resumed = false
        /// CallTools contact-list pages read to answer phone lookups (0: lookups were made).
        public var directoryPages = 0
        /// CallTools calls spent resolving bucket and tag ids before the contacts.
        public var idLookups = 0

        var counts: [String: Int] {
            var c = [
                "pages": pages, "contacts": contacts, "created": created, "updated": updated, "unchanged": unchanged,
                "skipped": skipped, "failed": failed,
            ]
            // GHL's count of the contacts the pass walks: with the calls so far, the pass's ETA.
            if let total { c["total"] = total }
            return c
        }

        init() {}

        init(counts: [String: Int]) {
            pages = counts["pages"] ?? 0
            contacts = counts["contacts"] ?? 0
            created = counts["created"] ?? 0
            updated = counts["updated"] ?? 0
            unchanged = counts["unchanged"] ?? 0
            skipped = counts["skipped"] ?? 0
            failed = counts["failed"] ?? 0
            total = counts["total"]
        }
    }

    /// What a dry run would do, per bucket and rule.
    public struct Plan: Sendable, Equatable {
        public var creates: [String: Int] = [:]
        public var adds: [String: Int] = [:]
        public var removals: [String: Int] = [:]
        public var updates = 0
        public var unchanged = 0
        public var byRule: [String: Int] = [:]
        /// Contacts a real pass would re-read from GHL before dialing.
        public var rereads = 0
        /// The CallTools calls a real pass would make, by kind (`lookup`, `create`, `patch`,
        /// `id`: bucket lists and tag look-ups), and its GHL tag write-backs.
        public var calls: [String: Int] = [:]
        public var ghlWrites = 0
        public var calltoolsCalls: Int { calls.values.reduce(0, +) }
        public init() {}
    }

    let ghl: GHLClient
    /// The executor to use now. A server's pass follows the live rules: after a reload, the next
    /// page (and the end phase) runs on the new executor.
    let currentExecutor: @Sendable () -> Executor
    let store: LeadsyncDatabase
    let now: @Sendable () -> Timestamp

    var executor: Executor { currentExecutor() }
    var rules: CompiledRules { currentExecutor().rules }

    public init(
        ghl: GHLClient, executor: @escaping @Sendable () -> Executor, store: LeadsyncDatabase,
        now: @escaping @Sendable () -> Timestamp
    ) {
        self.ghl = ghl
        self.currentExecutor = executor
        self.store = store
        self.now = now
    }

    /// A pass on one executor (the command line's).
    public init(
        rules: CompiledRules, ghl: GHLClient, executor: Executor, store: LeadsyncDatabase,
        now: @escaping @Sendable () -> Timestamp
    ) {
        self.init(ghl: ghl, executor: { executor }, store: store, now: now)
    }

    public struct Failure: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Runs the pass. `onPage` is called after every page with the counts so far; `onError`
    /// for each contact that failed (the pass goes on).
    /// `onWait` says what the end of the pass waits for ("waiting 23 s for 7 creates to settle").
    /// `onError` hears each contact that finally failed, with its last error.
    public func run(
        _ options: Options, plan: inout Plan, onPage: (Progress) -> Void = { _ in },
        onError: (Executor.Failure) -> Void = { _ in }, onWait: (String) -> Void = { _ in }
    ) async throws -> Progress {
        // The directory read for an import lives for this pass only, however it ends.
        let first = executor
        do {
            // An upstream that goes down mid-pass pauses the pass (its calls wait for the
            // circuit breaker to close, probing) instead of failing every contact after it.
            let progress = try await CircuitBreaker.$whenOpen.withValue(options.whenUpstreamDown) {
                try await pass(options, plan: &plan, onPage: onPage, onError: onError, onWait: onWait)
            }
            await first.dropDirectory()
            return progress
        } catch {
            await first.dropDirectory()
            throw error
        }
    }

    private func pass(
        _ options: Options, plan: inout Plan, onPage: (Progress) -> Void, onError: (Executor.Failure) -> Void,
        onWait: (String) -> Void
    ) async throws -> Progress {
        var (progress, cursor) = options.dryRun ? (Progress(), nil) : try await begin(options)
        /// Contacts a first attempt left waiting; finished before the pass ends.
        var waiting: [Pending] = []
        let filters = try searchFilters(options.mode)
        // A dry run plans each page with the same executor steps, against a recorder.
        let planner =
            options.dryRun
            ? try Executor(rules: rules, store: store, recording: RecordingUpstream(rules: rules), now: now) : nil
        // A run interrupted after its last page (checkpoint `null`) has only its end left to do.
        var pagesDone = false
        if case .null? = cursor {
            pagesDone = true
            cursor = nil
        }
        // Custom field definitions cost a call; only rules that read custom fields need them.
        // Shared with the executors, and fetched again when a page holds a field it lacks.
        let catalogs = rules.usesCustomFields ? (executor.catalogs ?? CatalogCache(ghl: ghl)) : nil
        var catalog = try await catalogs?.current() ?? .empty
        // A resumed pass starts again at the page its killed process was writing: a PATCH there
        // may have reached CallTools unrecorded, so those contacts are read back first.
        var verifyPage = progress.resumed
        while !pagesDone {
            try await checkDailyBudget()
            // Sorted by dateAdded, which never changes: sorting by dateUpdated would move every
            // contact we write tags back to behind the cursor, and read it again.
            let searchedAt = Timestamp(milliseconds: now().milliseconds - Self.searchLag)
            let page = try await ghl.search(
                filters: filters, sort: [("dateAdded", "asc")], pageLimit: options.pageLimit,
                searchAfter: cursor)
            progress.total = page.total
            if !options.dryRun && progress.pages == 0 && !progress.resumed, let total = page.total {
                // New contacts expected = GHL's total minus those the store already knows.
                let known = try store.knownContactCount()
                if let pages = try await executor.prefetchDirectory(expectedLookups: total - known) {
                    progress.directoryPages = pages
                }
            }
            if let catalogs { catalog = try await catalogs.covering(page.contacts) }
            let (contacts, unusable) = decode(
                page.contacts, catalog: catalog, seen: progress.contacts, record: !options.dryRun, onError: onError)
            if let planner {
                try await planner.plan(contacts, into: &plan)
                progress.contacts += contacts.count
                progress.failed += unusable
            } else {
                let outcomes = await process(
                    contacts.map { Pending(contact: $0, source: .search, readAt: searchedAt, verify: verifyPage) },
                    concurrency: options.concurrency)
                verifyPage = false
                progress.contacts += contacts.count + unusable
                progress.failed += unusable
                tally(outcomes, into: &progress, waiting: &waiting, onError: onError)
            }
            // Interrupted (shutdown): contacts of this page may have failed only because they
            // were cancelled. No checkpoint, so the page is done again on resume.
            try Task.checkCancellation()
            progress.pages += 1
            // A pass ends on a short or empty page, never on GHL's `total`: the total is an
            // estimate of a lagging index, and a contact added during the pass would be missed.
            cursor = page.next
            if let id = progress.runId {
                try store.checkpoint(
                    run: id, cursor: cursor.map(JSONWriter.encode) ?? "null",
                    counts: checkpointCounts(progress, waiting))
            }
            onPage(progress)
            if cursor == nil { break }
            try Task.checkCancellation()
        }
        if !options.dryRun {
            try await finish(
                &waiting, progress: &progress, catalog: catalog, options: options, onError: onError, onWait: onWait)
            if let id = progress.runId {
                try store.checkpoint(run: id, cursor: "null", counts: progress.counts)
            }
        }
        if let id = progress.runId { try store.finishRun(id, status: .finished, counts: progress.counts, at: now()) }
        return progress
    }

    /// The counts a checkpoint keeps. A contact waiting on a create intent is not failed: a run
    /// resumed after a kill finds the intent again (`finish` sweeps `pendingCreateIds`) and
    /// counts it then, so counting it here too would leave it failed for good. Other waiting
    /// contacts stay counted: a resumed run does not come back to them.
    func checkpointCounts(_ progress: Progress, _ waiting: [Pending]) throws -> [String: Int] {
        var counts = progress.counts
        let resumable = try waiting.filter { try store.contact($0.contact.id).pendingSince != nil }.count
        counts["failed", default: 0] -= resumable
        return counts
    }

    /// The run this pass records into: the one named, an interrupted one of the same mode (resumed
    /// from its checkpoint), or a new one. Resolves the rules' ids once, before concurrent work.
    func begin(_ options: Options) async throws -> (Progress, JSON?) {
        var progress = Progress()
        var cursor: JSON?
        if let id = options.runId, let run = try store.syncRun(id) {
            progress = Progress(counts: run.counts)
            progress.runId = id
            if let text = run.checkpoint {
                progress.resumed = true
                cursor = try? JSONParser.parse(text)
            }
        } else if let interrupted = try store.interruptedRun(mode: options.mode.name) {
            progress = Progress(counts: interrupted.counts)
            progress.runId = interrupted.id
            progress.resumed = true
            if let text = interrupted.checkpoint { cursor = try? JSONParser.parse(text) }
        } else {
            progress.runId = try store.startRun(mode: options.mode.name, at: now())
        }
        let log = CallLog()
        try await CallLog.$current.withValue(log) { try await executor.resolveAll() }
        progress.idLookups = log.drain().count
        return (progress, cursor)
    }

    /// An incremental pass reads what changed since the last finished pass (or `--since`).
    func searchFilters(_ mode: Mode) throws -> [JSON] {
        guard case .incremental(let explicit) = mode,
            let since = try explicit ?? store.lastFinishedRun(mode: nil)?.startedAt
        else { return [] }
        return [
            .object(
                JSONObject([
                    "field": .string("dateUpdated"), "operator": .string("range"),
                    "value": .object(JSONObject(["gte": .string(since.iso8601)])),
                ]))
        ]
    }

    /// GHL's daily budget spent: a server pass (batch priority) waits in the budget until the day
    /// turns; a command-line pass stops at its checkpoint and says when to rerun.
    func checkDailyBudget() async throws {
        if TokenBucket.priority == .live, let until = await ghl.http.budget.dailyExhaustedUntil {
            throw Failure(
                message:
                    "GHL's daily request budget is spent until \(until.iso8601) (X-RateLimit-Daily-Remaining: 0); "
                    + "the pass stopped at its last checkpoint and resumes from there when run again")
        }
    }

    /// Every search result is a contact (its own `type` is the contact type). One that cannot be
    /// used is reported and counted, never dropped silently; `explain` shows why when it has an id.
    func decode(
        _ items: [JSON], catalog: CustomFieldCatalog, seen: Int, record: Bool, onError: (Executor.Failure) -> Void
    ) -> (contacts: [Contact], unusable: Int) {
        var contacts: [Contact] = []
        contacts.reserveCapacity(items.count)
        var unusable = 0
        for (i, item) in items.enumerated() {
            do {
                contacts.append(
                    try InboundContact.decode(item, catalog: catalog, defaultEventType: "batch", expecting: .api)
                        .contact)
            } catch {
                unusable += 1
                let id = item["id"]?.stringValue ?? "#\(seen + i + 1)"
                onError(
                    Executor.Failure(contactId: id, message: "unusable contact: \(error.message)", transient: false))
                if record, let realId = item["id"]?.stringValue, !realId.isEmpty {
                    try? store.recordOutcome(
                        realId, state: nil,
                        audit: [
                            AuditEntry(
                                at: now(), kind: .outcome,
                                summary: "not evaluated: GHL search returned an unusable contact: \(error.message)")
                        ], completing: [], at: now())
                }
            }
        }
        return (contacts, unusable)
    }
}

extension CompiledRules {
    /// Whether any condition or template reads `customFields.*`.
    public var usesCustomFields: Bool {
        if conditions.contains(where: { $0.description.contains("customFields") }) { return true }
        let templates = fields + rules.flatMap(\.fields)
        return templates.contains { $0.template.source.contains("customFields") }
    }
}
