import LeadsyncCore
import LeadsyncRuntime
import LeadsyncStore
import LeadsyncUpstream
import LeadsyncValues
import Logging
import ServiceLifecycle
import Synchronization

/// The workers: takes accepted events from the inbox and applies them through the executor.
///
/// - One contact at a time per contact (events apply in order), up to `workers` contacts at once.
/// - All pending events of a contact are coalesced: the newest (by GHL's `timestamp`, then
///   arrival) is evaluated, and every one of them is done when it is applied.
/// - A failure the upstream may recover from waits (doubling, capped, jittered) and is tried
///   again, for `retryWindow` from the event's arrival (or `maxAttempts`, when set); past that,
///   or at once when a retry cannot help, it is a dead letter.
/// - While an upstream's circuit breaker is open, its events are held (no attempt spent) and
///   the processor's tick sends the breaker's probes; when it closes they are released.
/// - Graceful shutdown stops taking contacts, lets those in flight finish for `shutdownGrace`,
///   then cancels them; their events stay pending in the inbox and resume on restart.
public final class InboxProcessor: ServiceLifecycle.Service, Sendable {
    enum Signal: Sendable {
        case wake, tick, finished(String), stop
    }

    let store: LeadsyncDatabase
    let rules: LiveRules
    let ghl: GHLClient?
    let configuration: ServerConfiguration
    let metrics: ServerMetrics
    let logger: Logger
    let now: @Sendable () -> Timestamp
    private let signals: AsyncStream<Signal>
    private let signal: AsyncStream<Signal>.Continuation
    private let wakePending = Atomic<Bool>(false)
    /// Custom field definitions, shared with the executors (fetched again for unknown fields).
    let catalogs: CatalogCache?
    /// Where contacts are processed (see `WorkerExecutor`).
    let workerExecutor: WorkerExecutor
    /// The upstreams whose circuit breakers this processor probes while they are open.
    let upstreams: [UpstreamHTTP]
    /// Refreshed every tick, for the probes.
    let snapshot: InboxSnapshot

    init(
        store: LeadsyncDatabase, rules: LiveRules, ghl: GHLClient?, configuration: ServerConfiguration,
        metrics: ServerMetrics, logger: Logger, workerExecutor: WorkerExecutor, catalogs: CatalogCache?,
        upstreams: [UpstreamHTTP] = [], snapshot: InboxSnapshot = InboxSnapshot(),
        now: @escaping @Sendable () -> Timestamp
    ) {
        self.upstreams = upstreams
        self.snapshot = snapshot
        self.catalogs = catalogs
        self.workerExecutor = workerExecutor
        self.store = store
        self.rules = rules
        self.ghl = ghl
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        self.now = now
        (signals, signal) = AsyncStream<Signal>.makeStream()
    }

    /// Something was committed to the inbox (cheap; many calls fold into one look).
    func wake() {
        if !wakePending.exchange(true, ordering: .sequentiallyConsistent) { signal.yield(.wake) }
    }

    public func run() async throws {
        let signal = self.signal
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    // Retries come due without any new event: look again every second.
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(1))
                        signal.yield(.tick)
                    }
                }
                var busy = Set<String>()
                var stopDeadline: ContinuousClock.Instant?
                var lastPrune: ContinuousClock.Instant?
                // Events the last process was applying when it died: one more death each (a
                // dead letter at the limit), then applied one at a time before anything else.
                await recoverInterrupted()
                // A new process starts with every breaker closed: what the last one held is due.
                do {
                    let n = try store.releaseHeldInboxEvents(at: now())
                    if n > 0 { logger.info("inbox: \(n) event(s) held by the last run are due again") }
                } catch {
                    logger.error("inbox: \(error)")
                }
                signal.yield(.wake)  // events left pending by the last run
                loop: for await s in signals {
                    switch s {
                    case .finished(let id): busy.remove(id)
                    case .stop:
                        stopDeadline = .now + configuration.shutdownGrace
                        // Wake up when the grace period ends, not at the next tick.
                        let grace = configuration.shutdownGrace
                        group.addTask {
                            try? await Task.sleep(for: grace)
                            signal.yield(.tick)
                        }
                    case .wake: wakePending.store(false, ordering: .sequentiallyConsistent)
                    case .tick:
                        snapshot.refresh(store)
                        if lastPrune.map({ ContinuousClock.now - $0 > .seconds(3600) }) ?? true {
                            lastPrune = .now
                            prune()
                        }
                        // An open breaker's probe, when due (one in flight at most per upstream).
                        for upstream in upstreams where upstream.breaker.map({ !$0.isClosed }) ?? false {
                            group.addTask { await upstream.probeIfDue() }
                        }
                    }
                    if let deadline = stopDeadline {
                        if busy.isEmpty { break loop }
                        if ContinuousClock.now >= deadline {
                            logger.warning(
                                "shutdown: \(busy.count) contact(s) still in flight; cancelled, their events stay queued"
                            )
                            break loop
                        }
                        continue
                    }
                    guard busy.count < configuration.workers else { continue }
                    let due: [String]
                    do {
                        due = try store.dueInboxContacts(
                            now: now(), excluding: busy, limit: configuration.workers - busy.count)
                    } catch {
                        logger.error("inbox: \(error)")
                        continue
                    }
                    for id in due {
                        busy.insert(id)
                        group.addTask(executorPreference: workerExecutor) {
                            await self.process(contact: id)
                            signal.yield(.finished(id))
                        }
                    }
                    if !due.isEmpty { signal.yield(.wake) }  // more may be waiting behind them
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            signal.yield(.stop)
        }
    }

    /// Deaths a poison event may cause before it is a dead letter: `LEADSYNC_MAX_ATTEMPTS`, or 3.
    var maxDeaths: Int { configuration.maxAttempts ?? 3 }

    /// At start, before the workers: counts the deaths of the events the last process was
    /// applying, dead-letters those at the limit, and applies the other suspects one at a time,
    /// so an event that kills the process takes no other event down with it.
    func recoverInterrupted() async {
        do {
            let (interrupted, died) = try store.recoverInterruptedInboxEvents(maxDeaths: maxDeaths, at: now())
            guard interrupted > 0 else { return }
            metrics.deadLettered(died)
            logger.warning(
                """
                inbox: the last process died while applying \(interrupted) event(s); \(died) reached \
                \(maxDeaths) deaths and are dead letters, the others are applied one at a time first
                """)
            for id in try store.suspectInboxContacts() {
                if Task.isCancelled { return }
                await process(contact: id)
            }
        } catch {
            logger.error("inbox: \(error)")
        }
    }

    /// Forgets applied events older than the retention (hourly): the inbox does not grow forever.
    func prune() {
        let cutoff = now().milliseconds - Int64(configuration.inboxRetention / .milliseconds(1))
        do {
            let n = try store.pruneInbox(before: Timestamp(milliseconds: cutoff))
            if n > 0 { logger.info("inbox: forgot \(n) applied event(s) past the retention") }
        } catch {
            logger.error("inbox: \(error)")
        }
    }

    /// Applies every pending event of one contact.
    func process(contact id: String) async {
        let events: [InboxEvent]
        do {
            events = try store.pendingInboxEvents(contact: id)
        } catch {
            logger.error("inbox: \(error)")
            return
        }
        guard !events.isEmpty else { return }
        let seqs = events.map(\.seq)
        let live = rules.current
        do {
            // On disk before anything is sent: if the process dies applying these, the next
            // start knows (`recoverInterrupted`).
            try store.markInboxStarted(seqs, at: now())
            let newest = Self.newest(events)
            // An event older than the data the contact's state rests on (a late GHL retry, any
            // reordering) must not roll it back: GHL is read instead, which is always safe.
            let stamp = Self.ghlTimestamp(newest)
            var stale = false
            if let stamp, let seen = try store.contact(id).seenAt, stamp < seen {
                stale = true
                metrics.outOfOrder()
                logger.info(
                    "older than the applied state: re-reading the contact",
                    metadata: [
                        "contact": .string(id), "event_at": .string(stamp.iso8601),
                        "applied_from": .string(seen.iso8601),
                    ])
            }
            let (contact, deleted, source) = try await resolve(newest, rules: live.rules, reread: stale)
            // The events are marked done in the transaction that records what they produced.
            // A process died applying some of these: what the store says CallTools holds may
            // be stale (a PATCH sent, its answer never recorded), so CallTools is read first.
            let outcome = try await live.executor.process(
                contact, deleted: deleted, completing: seqs, source: source,
                observedAt: source == .read ? now() : stamp, verify: events.contains { $0.deaths > 0 })
            let done = now()
            for e in events {
                metrics.processed(after: .milliseconds(done.milliseconds - e.receivedAt.milliseconds))
            }
            let d = outcome.decision
            metrics.decision(
                rules: d.appliedRules.map { live.rules.rules[$0].name },
                exclusions: d.matchedExclusions.map { live.rules.exclusions[$0].name })
            logger.debug(
                "applied",
                metadata: [
                    "contact": .string(id), "events": .stringConvertible(events.count),
                    "action": .string(outcome.action.rawValue),
                    "calltools_calls": .stringConvertible(outcome.calltoolsCalls),
                ])
        } catch {
            if Task.isCancelled {
                // Shutdown: the events stay pending, untouched, and this was no death.
                try? store.clearInboxStarted(seqs)
                return
            }
            if let upstream = Self.upstreamDown(error) {
                hold(seqs, upstream: upstream, contact: id, error: Self.describe(error).0)
                return
            }
            let (message, transient) = Self.describe(error)
            let attempts = (events.map(\.attempts).max() ?? 0) + 1
            var retryAt =
                now().milliseconds + Int64(configuration.retryDelay(afterAttempts: attempts) / .milliseconds(1))
            // Waiting for an earlier create to settle is not a failure: retried when the wait is
            // over, without spending an attempt, so it can never become a dead letter.
            let settlesAt = (error as? Executor.Failure)?.settlesAt
            if let settlesAt { retryAt = max(settlesAt.milliseconds, now().milliseconds) + 50 }
            do {
                let expires = now().milliseconds - Int64(configuration.retryWindow / .milliseconds(1))
                let died = try store.failInboxEvents(
                    seqs, error: message, permanent: !transient, retryAt: Timestamp(milliseconds: retryAt),
                    maxAttempts: configuration.maxAttempts, at: now(), spendsAttempt: settlesAt == nil,
                    expiresBefore: Timestamp(milliseconds: expires))
                metrics.deadLettered(died)
                if died > 0 {
                    logger.error(
                        "dead letter",
                        metadata: [
                            "contact": .string(id), "events": .stringConvertible(died), "error": .string(message),
                        ])
                } else {
                    logger.warning(
                        "will retry",
                        metadata: [
                            "contact": .string(id), "attempt": .stringConvertible(attempts), "error": .string(message),
                        ])
                }
            } catch {
                logger.error("inbox: \(error)")
            }
        }
    }

    /// Holds a contact's events while `upstream` is down: no attempt spent, nothing logged per
    /// event (the breaker's opening was logged once). If the breaker closed meanwhile, they are
    /// released at once: its release may have run before this hold was written.
    func hold(_ seqs: [Int64], upstream: Upstream, contact: String, error: String) {
        do {
            try store.holdInboxEvents(seqs, upstream: upstream.rawValue, error: error)
            if upstreams.first(where: { $0.service == upstream })?.breaker?.isClosed ?? true {
                try store.releaseHeldInboxEvents(upstream: upstream.rawValue, at: now())
                wake()
            }
        } catch {
            logger.error("inbox: \(error)")
        }
    }

    /// Releases what was held for `upstream` (its breaker closed) and wakes the workers.
    func release(_ upstream: Upstream) -> Int {
        do {
            let n = try store.releaseHeldInboxEvents(upstream: upstream.rawValue, at: now())
            wake()
            return n
        } catch {
            logger.error("inbox: \(error)")
            return 0
        }
    }

    /// The upstream whose open breaker stopped this work, if that is why it failed.
    static func upstreamDown(_ error: any Error) -> Upstream? {
        switch error {
        case let e as Executor.Failure: return e.upstreamDown
        case let e as UpstreamError: return e.isCircuitOpen ? e.service : nil
        default: return nil
        }
    }

    /// The event that describes the contact best: the newest by GHL's timestamp, then arrival.
    /// (`events` is never empty: the caller returns first.)
    static func newest(_ events: [InboxEvent]) -> InboxEvent {
        func stamp(_ e: InboxEvent) -> Int64 { (ghlTimestamp(e) ?? e.receivedAt).milliseconds }
        return events.dropFirst().reduce(events[0]) { best, e in (stamp(best), best.seq) < (stamp(e), e.seq) ? e : best
        }
    }

    /// GHL's `timestamp` of a marketplace event; nil for other sources or without one.
    static func ghlTimestamp(_ e: InboxEvent) -> Timestamp? {
        guard e.source == "marketplace", let json = try? JSONParser.parse(e.body) else { return nil }
        return json["timestamp"]?.stringValue.flatMap(Timestamp.init(iso8601:))
    }

    struct Unusable: Error, CustomStringConvertible {
        var description: String
    }

    /// The contact to evaluate: the marketplace payload itself; for a workflow event, the contact
    /// re-read from GHL unless the rules trust the payload.
    /// `reread`: read GHL whatever the event carries (it is older than the applied state).
    func resolve(
        _ event: InboxEvent, rules: CompiledRules, reread: Bool = false
    ) async throws -> (Contact, deleted: Bool, source: ContactSource) {
        let json: JSON
        do {
            json = try JSONParser.parse(event.body)
        } catch {
            throw Unusable(description: "stored body is not JSON: \(error.message)")
        }
        let catalog = try await customFields(rules, for: json)
        if reread || event.source == "reread" || (event.source == "workflow" && !rules.webhooks.trustWorkflowPayload) {
            guard let ghl else { throw Unusable(description: "workflow event needs GHL to re-read the contact") }
            do {
                let fresh = try await ghl.contact(event.contactId)
                let inbound = try InboundContact.decode(
                    fresh, catalog: catalog, defaultEventType: "workflow", expecting: .api)
                return (inbound.contact, false, .read)
            } catch let error as UpstreamError {
                if error.meansContactGone {
                    // Gone from GHL: out of every managed bucket.
                    return (Contact(id: event.contactId, eventType: "workflow"), true, .read)
                }
                throw error
            }
        }
        do {
            let inbound = try InboundContact.decode(json, catalog: catalog, defaultEventType: event.eventType)
            let source: ContactSource =
                inbound.shape == .workflow ? .workflowPayload : .webhook(inbound.contact.eventType)
            return (inbound.contact, inbound.deleted, source)
        } catch {
            throw Unusable(description: "payload: \(error)")
        }
    }

    func customFields(_ rules: CompiledRules, for json: JSON) async throws -> CustomFieldCatalog {
        guard rules.usesCustomFields, let catalogs else { return .empty }
        return try await catalogs.covering([json])
    }

    static func describe(_ error: any Error) -> (String, transient: Bool) {
        switch error {
        case let e as Executor.Failure: return (e.message, e.transient)
        case let e as UpstreamError: return (e.description, e.isTransient)
        case let e as StoreError: return (e.description, e.isTransient)
        case let e as Unusable: return (e.description, false)
        default: return ("\(error)", false)
        }
    }
}
