import Dispatch

/// One thread for the workers' and reconcile passes' own work (evaluation, planning, and the
/// store's synchronous SQLite writes with their fsyncs), apart from the cooperative pool that
/// serves HTTP intake. Without it, on a 2-core machine two workers blocked in an fsync stall
/// every intake request behind them; with it, intake keeps its threads and the operating system
/// shares the cores. Waiting on upstreams does not hold the thread, so many contacts are still
/// in flight at once.
final class WorkerExecutor: TaskExecutor, @unchecked Sendable {
    private let queue = DispatchQueue(label: "leadsync.workers")

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
