import Synchronization

/// One contact processed by one caller at a time, across the whole process.
///
/// Webhook workers, a reconcile pass and every executor a rules reload builds share one
/// instance, so events for a contact apply in order and two creates never race, whichever rules
/// each caller runs. (A lock inside each executor would not survive a reload: workers on the new
/// executor and a pass still on the old one would not exclude each other.) Callers waiting for a
/// contact get it in arrival order.
public final class ContactLocks: Sendable {
    private let waiting = Mutex<[String: [CheckedContinuation<Void, Never>]]>([:])

    public init() {}

    /// Waits until `id` is free and takes it. Runs on the caller's executor (an executor actor,
    /// a worker's task executor): taking a free contact costs no hop.
    nonisolated(nonsending) public func lock(_ id: String) async {
        // Uncontended (the common case): taken without suspending.
        let free = waiting.withLock { w -> Bool in
            guard w[id] == nil else { return false }
            w[id] = []
            return true
        }
        if free { return }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let taken = waiting.withLock { w -> Bool in
                if w[id] == nil {
                    w[id] = []
                    return true
                }
                w[id, default: []].append(c)
                return false
            }
            if taken { c.resume() }
        }
    }

    /// Releases `id`; ownership passes straight to the next waiter, if any.
    public func unlock(_ id: String) {
        let next = waiting.withLock { w -> CheckedContinuation<Void, Never>? in
            guard var queue = w[id], !queue.isEmpty else {
                w[id] = nil
                return nil
            }
            let first = queue.removeFirst()
            w[id] = queue
            return first
        }
        next?.resume()
    }

    /// Contacts held right now (for tests and stats).
    public var held: Int { waiting.withLock { $0.count } }
}
