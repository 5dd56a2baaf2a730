import LeadsyncSandbox
import LeadsyncTestSupport
import Testing

@testable import LeadsyncUpstream

/// The breaker in the client: what a call does while it is open, by who is calling.
@Suite(.serialized) struct CircuitBreakerTests {
    static func client(_ h: UpstreamHarness) -> (CallToolsClient, CircuitBreaker) {
        var settings = CircuitBreaker.Settings()
        settings.threshold = 2
        settings.probeFirst = .milliseconds(50)
        settings.probeCap = .milliseconds(100)
        let breaker = CircuitBreaker(upstream: .calltools, settings: settings)
        let ct = CallToolsClient(
            baseURL: h.server.baseURL, apiKey: h.state.calltoolsKey, client: h.http,
            budget: TokenBucket(capacity: 1000, period: .seconds(1)), timeout: .seconds(2),
            retry: RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(5)), breaker: breaker)
        return (ct, breaker)
    }

    /// Down from the start (a wrong URL, a dead network): even a pass that would wait fails at
    /// once, sending nothing, and says why.
    @Test func anUpstreamNeverReachedFailsFastEvenForAWaitingCaller() async throws {
        try await UpstreamHarness.with { h in
            let (ct, breaker) = Self.client(h)
            var down = Faults()
            down.calltoolsDown = true
            await h.state.setFaults(down)
            await #expect(throws: UpstreamError.self) { _ = try await ct.buckets() }
            #expect(!breaker.isClosed)
            let sent = await h.state.requests.count
            let error = await #expect(throws: UpstreamError.self) {
                try await CircuitBreaker.$whenOpen.withValue(.waitIfEverReached) { _ = try await ct.buckets() }
            }
            #expect(error?.isCircuitOpen == true)
            #expect(error?.description.contains("last error: HTTP 503") == true, "\(String(describing: error))")
            #expect(await h.state.requests.count == sent)
        }
    }

    /// Reached before, then down: a waiting caller sends only probes until the upstream is
    /// back, then its call goes through.
    @Test func aWaitingCallerRidesOutAnOutageWithProbesOnly() async throws {
        try await UpstreamHarness.with { h in
            let (ct, breaker) = Self.client(h)
            _ = try await ct.buckets()
            var down = Faults()
            down.calltoolsDown = true
            await h.state.setFaults(down)
            await #expect(throws: UpstreamError.self) { _ = try await ct.buckets() }
            #expect(!breaker.isClosed)
            let before = await h.state.requests.count
            async let waited = CircuitBreaker.$whenOpen.withValue(.waitIfEverReached) { try await ct.buckets() }
            try await eventually("two probes") { await h.state.requests.count >= before + 2 }
            await h.state.setFaults(Faults())
            #expect(try await waited.count == 3)
            #expect(breaker.isClosed)
            let during = await h.state.requests.dropFirst(before)
            let probes = during.filter { $0.query["page_size"] == "1" }
            #expect(probes.count >= 2)
            #expect(during.count == probes.count + 1)  // and the call itself, once
        }
    }
}
