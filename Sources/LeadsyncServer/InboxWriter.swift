import LeadsyncCore
import LeadsyncStore
import LeadsyncValues

/// Durable intake with group commit: events that arrive while a transaction is being committed
/// wait and go together in the next one, so a burst costs one fsync per batch, not per event.
/// Every caller still returns only after its own event is committed (or the commit failed).
actor InboxWriter {
    enum Result: Sendable {
        case accepted, duplicate
        case failed(String)
    }

    private let store: LeadsyncDatabase
    private let now: @Sendable () -> Timestamp
    private let onCommit: @Sendable () -> Void
    private var waiting: [(NewInboxEvent, CheckedContinuation<Result, Never>)] = []
    private var committing = false
    /// Largest batch per transaction, so one commit never holds the write lock for long.
    private let maxBatch = 512

    init(store: LeadsyncDatabase, now: @escaping @Sendable () -> Timestamp, onCommit: @escaping @Sendable () -> Void) {
        self.store = store
        self.now = now
        self.onCommit = onCommit
    }

    /// Commits `event`; returns once it is on disk, or says why it is not.
    func store(_ event: NewInboxEvent) async -> Result {
        await withCheckedContinuation { continuation in
            waiting.append((event, continuation))
            if !committing {
                committing = true
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while !waiting.isEmpty {
            let batch = Array(waiting.prefix(maxBatch))
            waiting.removeFirst(batch.count)
            let results: [Result]
            do {
                let accepted = try await store.enqueue(batch.map(\.0), at: now())
                results = accepted.map { $0 ? .accepted : .duplicate }
            } catch {
                results = Array(repeating: .failed(error.description), count: batch.count)
            }
            for (i, item) in batch.enumerated() { item.1.resume(returning: results[i]) }
            if results.contains(where: { if case .accepted = $0 { true } else { false } }) { onCommit() }
        }
        committing = false
    }
}
