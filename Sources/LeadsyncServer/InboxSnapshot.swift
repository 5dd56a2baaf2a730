import LeadsyncStore
import Synchronization

/// The inbox counts `/readyz` and `/metrics` answer with. Counted at most once a second (by the
/// processor's tick, or by the first probe after a second without one): a probe costs the same
/// whether it comes once a minute or a thousand times a second, and no burst of requests makes
/// the database count the inbox once per request.
public final class InboxSnapshot: Sendable {
    struct State {
        var counts: InboxCounts?
        var error: String?
        var at: ContinuousClock.Instant?
        var refreshing = false
    }
    private let state = Mutex(State())
    static let maxAge: Duration = .seconds(1)

    public init() {}

    /// Counts again (the tick, and once at start).
    func refresh(_ store: LeadsyncDatabase) {
        let result: Result<InboxCounts, StoreError>
        do {
            result = .success(try store.inboxCounts())
        } catch {
            result = .failure(error)
        }
        state.withLock { s in
            switch result {
            case .success(let counts): (s.counts, s.error) = (counts, nil)
            case .failure(let error): s.error = "\(error)"
            }
            s.at = .now
            s.refreshing = false
        }
    }

    /// The counts, at most a second old, and whether the last look at the database failed. One
    /// caller at a time refreshes a stale snapshot; the others answer with it meanwhile.
    func current(_ store: LeadsyncDatabase) -> (counts: InboxCounts?, error: String?) {
        let mine = state.withLock { s -> Bool in
            guard !s.refreshing, s.at.map({ .now - $0 >= Self.maxAge }) ?? true else { return false }
            s.refreshing = true
            return true
        }
        if mine { refresh(store) }
        return state.withLock { ($0.counts, $0.error) }
    }
}
