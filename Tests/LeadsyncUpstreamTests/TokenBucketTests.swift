import LeadsyncValues
import NIOHTTP1
import Testing

@testable import LeadsyncUpstream

/// Live work goes ahead of batch work on a shared budget (product.md §3).
@Suite struct TokenBucketTests {
    @Test(arguments: [
        // live, tokens, live callers waiting, reserve → admitted
        (true, 1.0, 0, 10.0, true), (true, 0.9, 0, 10.0, false), (true, 1.0, 3, 10.0, true),
        (false, 11.0, 0, 10.0, true), (false, 10.9, 0, 10.0, false),  // batch never takes the reserve
        (false, 50.0, 1, 10.0, false),  // batch stands aside while a live caller waits
    ])
    func admission(live: Bool, tokens: Double, waiting: Int, reserve: Double, admitted: Bool) {
        #expect(TokenBucket.admits(live: live, tokens: tokens, liveWaiting: waiting, reserve: reserve) == admitted)
    }

    /// `X-RateLimit-Remaining: -9223372036854775808` from a broken upstream: counted as none
    /// left, so the next call waits one token's refill (100 ms here), not forever.
    @Test(.timeLimit(.minutes(1))) func aNegativeRemainingCountsAsNoneLeft() async throws {
        let bucket = TokenBucket(capacity: 10, period: .seconds(1))
        await bucket.observe(remaining: Int.min)
        #expect(await bucket.available() >= 0)
        #expect(await bucket.available() < 1)
        try await bucket.acquire()
    }

    /// A burst and then the refill: never more than the budget in any one window (a bucket
    /// alone would let 4 + 4 through in the first half second).
    @Test(.timeLimit(.minutes(1))) func neverMoreThanTheBudgetInAnyWindow() async throws {
        let bucket = TokenBucket(capacity: 4, period: .milliseconds(500))
        var sent: [ContinuousClock.Instant] = []
        for _ in 0..<10 {
            try await bucket.acquire()
            sent.append(.now)
        }
        for i in 0..<(sent.count - 4) {
            #expect(sent[i + 4] - sent[i] >= .milliseconds(500), "sends \(i) and \(i + 4)")
        }
        #expect(await bucket.window == .milliseconds(610))
    }

    @Test func theReserveIsATenthOfTheBudget() async {
        #expect(await TokenBucket(capacity: 100, period: .seconds(10)).liveReserve == 10)
        #expect(await TokenBucket(capacity: 1000, period: .seconds(3600)).liveReserve == 100)
        #expect(await TokenBucket(capacity: 5, period: .seconds(1)).liveReserve == 1)
    }

    @Test func batchCallersStopShortOfTheReserve() async throws {
        // 10 tokens, refilled one per 100 s: nothing refills during the test.
        let bucket = TokenBucket(capacity: 10, period: .seconds(1000))
        for _ in 0..<9 { try await TokenBucket.$priority.withValue(.batch) { try await bucket.acquire() } }
        // The tenth token is the live reserve: a batch caller waits for it (observed, not timed;
        // one that took it would never be seen waiting)...
        let waiting = Task { try await TokenBucket.$priority.withValue(.batch) { try await bucket.acquire() } }
        let deadline = ContinuousClock.now + .seconds(10)
        while await bucket.batchWaiting == 0 {
            try #require(ContinuousClock.now < deadline, "the batch caller took the live reserve")
            await Task.yield()
        }
        // ...and a live caller takes it at once.
        try await bucket.acquire()
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
    }

    /// A spent daily budget stops batch callers until the next UTC midnight; live callers go on;
    /// any answer with budget left lifts the stop.
    @Test func aSpentDayStopsBatchWorkUntilMidnightUTC() async throws {
        let bucket = TokenBucket(capacity: 100, period: .seconds(1))
        let now = Timestamp(iso8601: "2026-11-30T15:00:00Z")!
        await bucket.observe(dailyRemaining: 0, now: now)
        #expect(await bucket.dailyExhaustedUntil == Timestamp(iso8601: "2026-12-01T00:00:00Z"))
        try await bucket.acquire()  // live: admitted at once
        let batch = Task { try await TokenBucket.$priority.withValue(.batch) { try await bucket.acquire() } }
        // Still waiting after the live caller went through: it would wait nine hours.
        try await bucket.acquire()
        #expect(await bucket.dailyExhaustedUntil != nil)
        await bucket.observe(dailyRemaining: 120, now: now)
        #expect(await bucket.dailyExhaustedUntil == nil)
        batch.cancel()
        _ = try? await batch.value
    }
}

/// `Retry-After` as seconds or as an HTTP date; GHL's interval when there is none.
@Suite struct RetryAfterTests {
    func headers(_ pairs: [(String, String)]) -> HTTPHeaders { HTTPHeaders(pairs) }

    @Test func secondsAndHTTPDates() {
        let now = Timestamp(iso8601: "2026-11-30T15:00:00Z")!
        #expect(UpstreamHTTP.retryAfter(headers([("Retry-After", "3")]), now: now) == .seconds(3))
        #expect(UpstreamHTTP.retryAfter(headers([("Retry-After", " 1.5 ")]), now: now) == .milliseconds(1500))
        #expect(
            UpstreamHTTP.retryAfter(headers([("Retry-After", "Mon, 30 Nov 2026 15:00:42 GMT")]), now: now)
                == .seconds(42))
        // A date in the past: no wait. A hostile value: capped at an hour.
        #expect(UpstreamHTTP.retryAfter(headers([("Retry-After", "Mon, 30 Nov 2026 14:00:00 GMT")]), now: now) == .zero)
        #expect(UpstreamHTTP.retryAfter(headers([("Retry-After", "1e300")]), now: now) == .seconds(3600))
        #expect(UpstreamHTTP.retryAfter(headers([("Retry-After", "soon")]), now: now) == nil)
        #expect(UpstreamHTTP.retryAfter(headers([("Retry-After", "-5")]), now: now) == nil)
        #expect(
            UpstreamHTTP.rateLimitInterval(headers([("X-RateLimit-Interval-Milliseconds", "10000")])) == .seconds(10))
        #expect(UpstreamHTTP.rateLimitInterval(headers([])) == nil)
    }

    @Test func httpDatesParseOnlyIMFFixdate() {
        #expect(Timestamp(httpDate: "Sun, 06 Nov 1994 08:49:37 GMT") == Timestamp(iso8601: "1994-11-06T08:49:37Z"))
        #expect(Timestamp(httpDate: "Sunday, 06-Nov-94 08:49:37 GMT") == nil)
        #expect(Timestamp(httpDate: "Sun, 31 Feb 1994 08:49:37 GMT") == nil)
        #expect(Timestamp(httpDate: "Sun, 06 Nov 1994 08:49:37 UTC") == nil)
    }
}
