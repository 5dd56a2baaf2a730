import LeadsyncCore
import LeadsyncRuntime
import LeadsyncStore
import LeadsyncUpstream
import LeadsyncValues
import Logging
import ServiceLifecycle
import Synchronization

/// Reconcile passes inside the server: incremental every `syncInterval`, full daily at
/// `fullSyncHour` (UTC), and on demand (`/sync/trigger`). One pass at a time: a trigger while one
/// runs is refused. Passes run at batch priority, so live webhook work keeps going ahead of them
/// on the shared upstream budgets. A pass cut short by shutdown resumes from its checkpoint.
public final class ReconcileScheduler: ServiceLifecycle.Service, Sendable {
    public enum TriggerResult: Sendable, Equatable {
        case started(Int64)
        case alreadyRunning(Int64)
    }

    struct Request: Sendable {
        var full: Bool
        var runId: Int64
    }

    let store: LeadsyncDatabase
    let rules: LiveRules
    let ghl: GHLClient
    let configuration: ServerConfiguration
    let metrics: ServerMetrics
    let logger: Logger
    let now: @Sendable () -> Timestamp
    private let requests: AsyncStream<Request>
    private let requestSink: AsyncStream<Request>.Continuation
    /// The run in progress (or accepted and about to start).
    private let running = Mutex<Int64?>(nil)
    let workerExecutor: WorkerExecutor

    init(
        store: LeadsyncDatabase, rules: LiveRules, ghl: GHLClient, configuration: ServerConfiguration,
        metrics: ServerMetrics, logger: Logger, workerExecutor: WorkerExecutor,
        now: @escaping @Sendable () -> Timestamp
    ) {
        self.workerExecutor = workerExecutor
        self.store = store
        self.rules = rules
        self.ghl = ghl
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        self.now = now
        (requests, requestSink) = AsyncStream<Request>.makeStream()
    }

    public var runningId: Int64? { running.withLock { $0 } }

    /// When the clock next starts a pass (checked every 30 s), for the operator page.
    public var nextPass: Timestamp? { next.withLock { $0 } }
    private let next = Mutex<Timestamp?>(nil)

    /// Starts a pass now, unless one runs. The run is recorded before this returns.
    public func trigger(full: Bool) throws(StoreError) -> TriggerResult {
        let mode = full ? "full" : "incremental"
        let result = running.withLock { (current: inout Int64?) -> Result<TriggerResult, StoreError> in
            if let id = current { return .success(.alreadyRunning(id)) }
            do throws(StoreError) {
                var id: Int64
                if let interrupted = try store.interruptedRun(mode: mode) {
                    id = interrupted.id
                } else {
                    id = try store.startRun(mode: mode, at: now())
                }
                current = id
                requestSink.yield(Request(full: full, runId: id))
                return .success(.started(id))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { await self.clock() }
                for await request in requests.cancelOnGracefulShutdown() {
                    // Shutdown cancels a pass in progress (it keeps its checkpoint and resumes on the
                    // next start) instead of waiting for it: a full pass can take hours.
                    await withTaskExecutorPreference(workerExecutor) {
                        await cancelWhenGracefulShutdown { await self.pass(request) }
                    }
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.requestSink.finish()
        }
    }

    /// Sleeps until the next scheduled pass and asks for it (skipped if one is running).
    func clock() async {
        var schedule = ReconcileSchedule(configuration: configuration, startedAt: now())
        next.withLock { $0 = schedule.nextDue(after: now()) }
        defer { next.withLock { $0 = nil } }
        while !Task.isCancelled {
            // Cancelled at shutdown: that ends the loop, not the server, with an error.
            do { try await Task.sleep(for: .seconds(30)) } catch { return }
            let due = schedule.due(at: now())
            next.withLock { $0 = schedule.nextDue(after: now()) }
            guard let full = due else { continue }
            do {
                if case .alreadyRunning = try trigger(full: full) {
                    logger.info("scheduled \(full ? "full" : "incremental") pass skipped: a pass is running")
                }
            } catch {
                logger.error("scheduled pass: \(error)")
            }
        }
    }

    func pass(_ request: Request) async {
        defer { running.withLock { $0 = nil } }
        // The pass follows reloads: each page runs on the executor live at that moment.
        let rules = self.rules
        let pass = SyncPass(ghl: ghl, executor: { rules.current.executor }, store: store, now: now)
        var options = SyncPass.Options()
        options.mode = request.full ? .full : .incremental(since: nil)
        options.runId = request.runId
        // The server's passes ride out an outage, however it began; the workers hold their events.
        options.whenUpstreamDown = .wait
        let mode = request.full ? "full" : "incremental"
        logger.info("sync pass started", metadata: ["run": .stringConvertible(request.runId), "mode": .string(mode)])
        do {
            var plan = SyncPass.Plan()
            let progress = try await TokenBucket.$priority.withValue(.batch) {
                try await pass.run(options, plan: &plan)
            }
            metrics.syncRun(mode: mode, result: "finished")
            logger.info(
                "sync pass finished",
                metadata: [
                    "run": .stringConvertible(request.runId), "contacts": .stringConvertible(progress.contacts),
                    "created": .stringConvertible(progress.created), "updated": .stringConvertible(progress.updated),
                    "failed": .stringConvertible(progress.failed),
                ])
        } catch {
            if Task.isCancelled {
                logger.info("sync pass interrupted by shutdown; it resumes from its checkpoint")
                return
            }
            metrics.syncRun(mode: mode, result: "failed")
            try? store.finishRun(request.runId, status: .failed, counts: [:], at: now())
            logger.error("sync pass failed: \(error)", metadata: ["run": .stringConvertible(request.runId)])
        }
    }

}

/// When scheduled passes are due: a full pass daily at `fullSyncHour` (UTC), an incremental one
/// every `syncInterval` after the last pass of either kind. Pure: the clock is an argument.
struct ReconcileSchedule {
    let fullHour: Int?
    let interval: Duration?
    private(set) var lastFullDay: Int64
    private(set) var lastPass: Timestamp

    init(configuration: ServerConfiguration, startedAt t: Timestamp) {
        fullHour = configuration.fullSyncHour
        interval = configuration.syncInterval
        lastPass = t
        // Started before today's hour: today's full pass is still to come.
        let today = Self.day(t)
        lastFullDay = fullHour.map { Self.hour(t) >= $0 ? today : today - 1 } ?? today
    }

    /// Whether a pass is due at `t`: `true` full, `false` incremental, nil none. A due pass
    /// counts as started (whether or not it could run).
    mutating func due(at t: Timestamp) -> Bool? {
        if let hour = fullHour, Self.day(t) > lastFullDay, Self.hour(t) >= hour {
            lastFullDay = Self.day(t)
            lastPass = t
            return true
        }
        if let interval, t.milliseconds - lastPass.milliseconds >= Int64(interval / .milliseconds(1)) {
            lastPass = t
            return false
        }
        return nil
    }

    /// When `due` will next say yes, seen from `t` (nil: nothing is scheduled).
    func nextDue(after t: Timestamp) -> Timestamp? {
        var candidates: [Int64] = []
        if let interval { candidates.append(lastPass.milliseconds + Int64(interval / .milliseconds(1))) }
        if let hour = fullHour {
            let todayAt = Self.day(t) * 86_400_000 + Int64(hour) * 3_600_000
            candidates.append(Self.day(t) > lastFullDay ? max(todayAt, t.milliseconds) : todayAt + 86_400_000)
        }
        return candidates.min().map(Timestamp.init(milliseconds:))
    }

    static func day(_ t: Timestamp) -> Int64 { t.milliseconds / 86_400_000 }
    static func hour(_ t: Timestamp) -> Int { Int((t.milliseconds % 86_400_000) / 3_600_000) }
}
