import LeadsyncValues
import Synchronization

/// One upstream's health as its callers see it: closed (calls go out), open (the upstream is
/// failing; nothing is sent but a probe now and then), half-open (a probe is in flight).
///
/// Consecutive transient failures (5xx, resets, timeouts; not 429, which is pacing) open it.
/// While it is open a call either fails at once with `.circuitOpen`, sending nothing (live work:
/// the server holds the event without spending an attempt), or waits for it to close (`whenOpen`,
/// which sync passes set). Probes run at growing intervals (`Settings`); the
/// first success closes it. Observers hear each transition once, not once per call.
public final class CircuitBreaker: Sendable {
    public enum State: String, Sendable {
        case closed, open
        case halfOpen = "half-open"
    }

    public struct Settings: Sendable {
        /// Consecutive transient failures that open the breaker.
        public var threshold = 5
        /// The first probe's delay after opening; doubled after each failed probe up to `probeCap`.
        public var probeFirst: Duration = .seconds(5)
        public var probeCap: Duration = .seconds(60)
        public init() {}
    }

    public struct Status: Sendable, Equatable {
        public var state: State
        /// When it last opened (nil while closed).
        public var openedAt: Timestamp?
        public var consecutiveFailures: Int
        public var lastError: String?
        /// Probes sent since it opened.
        public var probes: Int
    }

    /// A transition, for the server's log, metrics and held events.
    public enum Transition: Sendable {
        case opened(Status)
        case closed(after: Duration, probes: Int)
    }

    /// What a call does while the breaker is open.
    public enum WhenOpen: Sendable {
        /// Fail at once with `.circuitOpen`, sending nothing (the server's workers: they hold).
        case fail
        /// Wait for the breaker to close, probing (the server's reconcile passes).
        case wait
        /// Wait if the upstream ever answered in this process; else fail at once. A command-line
        /// pass pauses through an outage, but a wrong URL or a dead network from the start is an
        /// error in seconds, not a silent hang.
        case waitIfEverReached
    }

    /// What calls made inside a task do while the breaker is open.
    @TaskLocal public static var whenOpen: WhenOpen = .fail

    public let upstream: Upstream
    public let settings: Settings
    private let now: @Sendable () -> Timestamp
    private let observers = Mutex<[@Sendable (Transition) -> Void]>([])

    private struct Box {
        var state: State = .closed
        var failures = 0
        var lastError: String?
        var openedAt: Timestamp?
        var openedInstant: ContinuousClock.Instant?
        var nextProbe: ContinuousClock.Instant = .now
        var interval: Duration = .zero
        var probes = 0
        /// The upstream answered (anything but a 5xx) at least once in this process.
        var reached = false
        /// Held open until `reconnect()`: no probe can help (an OAuth connection a person must
        /// renew). The reason is `lastError`.
        var disconnected = false
    }
    private let box = Mutex(Box())

    public init(upstream: Upstream, settings: Settings = Settings(), now: (@Sendable () -> Timestamp)? = nil) {
        self.upstream = upstream
        self.settings = settings
        self.now = now ?? { Timestamp.now() }
    }

    /// Hears every transition from now on.
    public func observe(_ observer: @escaping @Sendable (Transition) -> Void) {
        observers.withLock { $0.append(observer) }
    }

    public var status: Status {
        box.withLock {
            Status(
                state: $0.state, openedAt: $0.openedAt, consecutiveFailures: $0.failures, lastError: $0.lastError,
                probes: $0.probes)
        }
    }

    public var isClosed: Bool { box.withLock { $0.state == .closed } }

    /// Whether the upstream ever answered in this process.
    public var hasBeenReached: Bool { box.withLock { $0.reached } }

    /// The last failure that counted, for errors that say why nothing was sent.
    var lastError: String { box.withLock { $0.lastError ?? "" } }

    /// How long it has been open (zero while closed).
    public var openFor: Duration {
        box.withLock { b in b.openedInstant.map { ContinuousClock.now - $0 } ?? .zero }
    }

    /// Whether it is held open until `reconnect()`.
    public var isDisconnected: Bool { box.withLock { $0.disconnected } }

    /// Holds it open, with `reason`, until `reconnect()`: nothing is sent and no probe goes out
    /// (the upstream cannot be reached without a person: its credentials are gone). Work is held
    /// as in an outage.
    public func disconnect(_ reason: String) {
        let transition: Transition? = box.withLock { b in
            b.lastError = reason
            let wasClosed = b.state == .closed
            b.disconnected = true
            b.state = .open
            guard wasClosed else { return nil }
            b.openedAt = now()
            b.openedInstant = .now
            return .opened(
                Status(
                    state: .open, openedAt: b.openedAt, consecutiveFailures: b.failures, lastError: reason, probes: 0))
        }
        if let transition { notify(transition) }
    }

    /// Ends a `disconnect()`: closes at once (held work is released).
    public func reconnect() {
        let transition: Transition? = box.withLock { b in
            guard b.disconnected else { return nil }
            let after = b.openedInstant.map { ContinuousClock.now - $0 } ?? .zero
            let reached = b.reached
            b = Box()
            b.reached = reached
            return .closed(after: after, probes: 0)
        }
        if let transition { notify(transition) }
    }

    /// A call reached the upstream and it answered something other than a server error.
    func recordSuccess() {
        let transition: Transition? = box.withLock { b in
            guard !b.disconnected else { return nil }
            b.failures = 0
            b.lastError = nil
            b.reached = true
            guard b.state != .closed else { return nil }
            let after = b.openedInstant.map { ContinuousClock.now - $0 } ?? .zero
            let probes = b.probes
            b = Box()
            b.reached = true
            return .closed(after: after, probes: probes)
        }
        if let transition { notify(transition) }
    }

    /// A call failed in a way that says the upstream is unwell (5xx, reset, timeout).
    func recordFailure(_ message: String) {
        let transition: Transition? = box.withLock { b in
            guard !b.disconnected else { return nil }
            b.failures += 1
            b.lastError = message
            switch b.state {
            case .closed:
                guard b.failures >= settings.threshold else { return nil }
                b.state = .open
                b.openedAt = now()
                b.openedInstant = .now
                b.interval = settings.probeFirst
                b.nextProbe = .now + settings.probeFirst
                return .opened(
                    Status(
                        state: .open, openedAt: b.openedAt, consecutiveFailures: b.failures, lastError: message,
                        probes: 0))
            case .halfOpen:
                // The probe failed: wait longer before the next.
                b.state = .open
                b.interval = min(b.interval * 2, settings.probeCap)
                b.nextProbe = .now + b.interval
                return nil
            case .open:
                return nil
            }
        }
        if let transition { notify(transition) }
    }

    /// Claims the probe when one is due: the breaker is open, its wait is over, and no other
    /// probe is in flight. The caller sends one request and records its outcome.
    func claimProbe() -> Bool {
        box.withLock { b in
            guard b.state == .open, !b.disconnected, ContinuousClock.now >= b.nextProbe else { return false }
            b.state = .halfOpen
            b.probes += 1
            return true
        }
    }

    /// When the next probe may go out (nil while closed).
    var nextProbe: ContinuousClock.Instant? {
        box.withLock { $0.state == .closed ? nil : $0.nextProbe }
    }

    private func notify(_ t: Transition) {
        for o in observers.withLock({ $0 }) { o(t) }
    }
}
