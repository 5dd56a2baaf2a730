import LeadsyncValues

/// A request budget: `capacity` requests per `period`, refilled continuously, and never more
/// than `capacity` sent in any window of one period (a log of recent sends). A bucket alone
/// lets a full burst and a period's refill through in one window, up to twice the budget, and
/// GHL counts its 100 per 10 s in windows. The window is a little longer than the period (2 %
/// and 100 ms) for the network's jitter between our send and GHL's count. Budgets over 10,000 a
/// period keep the bucket alone.
///
/// An actor shared by every caller of one upstream account (a GHL location, a CallTools key),
/// so the budget holds across concurrent work. `acquire` waits for a token instead of failing.
/// `pause(until:)` honours a `Retry-After`: no request leaves before that instant.
public actor TokenBucket {
    public nonisolated let capacity: Double
    public nonisolated let period: Duration
    /// The refill rate, in requests per second.
    public nonisolated var perSecond: Double { capacity / max(0.001, Double(period / .milliseconds(1)) / 1000) }
    private var tokens: Double
    private var last: ContinuousClock.Instant
    private var blockedUntil: ContinuousClock.Instant?
    private let clock = ContinuousClock()
    /// When the last sends left: a ring of `logSize`, oldest at `head`; none for a budget too
    /// large to log (over 10,000 a period), which keeps the bucket alone.
    private var sent: [ContinuousClock.Instant]
    private var head = 0
    private var logged = 0
    private let logSize: Int
    /// The window the log counts over.
    public nonisolated let window: Duration

    public init(capacity: Int, period: Duration) {
        // At least one request: a budget of none would never let anything out.
        self.capacity = Double(max(1, capacity))
        self.period = period
        self.tokens = Double(max(1, capacity))
        self.last = ContinuousClock().now
        self.logSize = capacity <= 10_000 ? max(1, capacity) : 0
        self.sent = Array(repeating: ContinuousClock().now, count: capacity <= 10_000 ? max(1, capacity) : 0)
        self.window = period * 1.02 + .milliseconds(100)
    }

    /// Sends the log allows now: `capacity` less those within the last window.
    private func room(now: ContinuousClock.Instant) -> Int {
        guard logSize > 0 else { return Int.max }
        while logged > 0, sent[head] + window <= now {
            head = (head + 1) % logSize
            logged -= 1
        }
        return logSize - logged
    }

    /// Records a send (there is room: `room` said so).
    private func record(_ now: ContinuousClock.Instant) {
        guard logSize > 0, logged < logSize else { return }
        sent[(head + logged) % logSize] = now
        logged += 1
    }

    /// When the oldest send in the log leaves the window.
    private func nextRoom() -> ContinuousClock.Instant? {
        logged > 0 ? sent[head] + window : nil
    }

    /// Parses `REQUESTS/SECONDS` (`100/10`, `1000/3600`).
    public init?(spec: String) {
        let parts = spec.split(separator: "/")
        guard parts.count == 2, let n = Int(parts[0]), n > 0, n <= 1_000_000_000, let s = Double(parts[1]),
            s.isFinite, s >= 0.001, s <= 31_622_400
        else { return nil }
        self.init(capacity: n, period: .milliseconds(Int64(s * 1000)))  // cannot trap: s checked above
    }

    private var perToken: Duration { period / capacity }

    private func refill() {
        let now = clock.now
        let elapsed = now - last
        last = now
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let periodSeconds = Double(period.components.seconds) + Double(period.components.attoseconds) / 1e18
        tokens = min(capacity, tokens + seconds / periodSeconds * capacity)
    }

    /// Who is asking: live webhook work goes ahead of batch and reconcile passes (product.md §3).
    public enum Priority: Sendable {
        case live, batch
    }

    /// The priority of the calls made inside a task; a sync pass run by the server sets `.batch`.
    @TaskLocal public static var priority: Priority = .live

    /// Live callers waiting for a token; batch callers stand aside while there are any.
    private var liveWaiting = 0
    /// Batch callers waiting for a token (tests observe it).
    private(set) var batchWaiting = 0

    /// Tokens batch work leaves untouched, so a freshly tagged lead never waits behind an import:
    /// a tenth of the budget (at least one).
    public var liveReserve: Double { max(1, (capacity / 10).rounded(.down)) }

    /// Waits until a request may be sent, then takes a token. Batch callers (see `priority`)
    /// take one only when no live caller waits and more than `liveReserve` remain.
    public func acquire() async throws {
        let live = TokenBucket.priority == .live
        if live { liveWaiting += 1 }
        defer { if live { liveWaiting -= 1 } }
        while true {
            if let until = blockedUntil, clock.now < until {
                try await clock.sleep(until: until)
                continue
            }
            // The upstream's daily budget is spent: batch work stops until the day turns; live
            // work goes on (the upstream's 429s pace it).
            if !live, let until = dailyBlockedUntil, clock.now < until {
                try await clock.sleep(until: min(until, clock.now + .seconds(60)))
                continue
            }
            refill()
            let now = clock.now
            let room = room(now: now)
            let usable = min(tokens, Double(room))
            if Self.admits(live: live, tokens: usable, liveWaiting: liveWaiting, reserve: liveReserve) {
                tokens -= 1
                record(now)
                return
            }
            // The window is full (not the bucket): wait until its oldest send leaves it.
            if Double(room) < tokens, let free = nextRoom(), free > now {
                if !live { batchWaiting += 1 }
                defer { if !live { batchWaiting -= 1 } }
                try await clock.sleep(until: free)
                continue
            }
            let needed = live ? 1 : 1 + liveReserve
            if !live { batchWaiting += 1 }
            defer { if !live { batchWaiting -= 1 } }
            try await clock.sleep(for: perToken * max(0.05, min(needed - tokens, needed)))
        }
    }

    /// Whether a caller may take a token now: live callers need one; batch callers need one more
    /// than the live reserve, and no live caller waiting.
    static func admits(live: Bool, tokens: Double, liveWaiting: Int, reserve: Double) -> Bool {
        live ? tokens >= 1 : tokens >= 1 + reserve && liveWaiting == 0
    }

    /// No request before `instant` (a `Retry-After`, or the reset of an exhausted window).
    public func pause(until instant: ContinuousClock.Instant) {
        if blockedUntil.map({ $0 < instant }) ?? true { blockedUntil = instant }
    }

    /// The tokens available now (what an operator's status page and the tests read).
    public func available() -> Double {
        refill()
        return min(tokens, Double(room(now: clock.now)))
    }

    /// Lowers the tokens left to what the upstream says remains (`X-RateLimit-Remaining`).
    /// A negative value (a broken or hostile header) counts as none left: it must not push the
    /// bucket so far below zero that no refill ever brings it back.
    public func observe(remaining: Int) {
        refill()
        tokens = min(tokens, Double(max(0, remaining)))
    }

    // MARK: The daily budget (GHL's `X-RateLimit-Daily-Remaining`)

    private var dailyBlockedUntil: ContinuousClock.Instant?
    private var dailyResetsAt: Timestamp?

    /// What the upstream says is left of its daily budget. At 0, batch callers wait until the
    /// next UTC midnight (GHL says when its day turns nowhere; UTC is the assumption, written in
    /// docs/upstreams.md); any later answer with some left lifts the stop.
    public func observe(dailyRemaining: Int, now: Timestamp) {
        guard dailyRemaining <= 0 else {
            dailyBlockedUntil = nil
            dailyResetsAt = nil
            return
        }
        let day: Int64 = 86_400_000
        let reset = Timestamp(milliseconds: (now.milliseconds / day + 1) * day)
        dailyResetsAt = reset
        dailyBlockedUntil = clock.now + .milliseconds(reset.milliseconds - now.milliseconds)
    }

    /// When the spent daily budget comes back, or nil while some is left.
    public var dailyExhaustedUntil: Timestamp? {
        guard let until = dailyBlockedUntil, clock.now < until else { return nil }
        return dailyResetsAt
    }
}
