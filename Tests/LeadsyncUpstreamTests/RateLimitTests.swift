import LeadsyncTestSupport
import LeadsyncValues
import Testing

@testable import LeadsyncSandbox
@testable import LeadsyncUpstream

/// Rate limits as the real APIs answer them, scripted in the sandbox: GHL's 429 with and
/// without `Retry-After`, a 429 on a CallTools create, and one pause seen by every caller.
@Suite(.serialized) struct RateLimitTests {
    /// Requests that arrived inside a pause: after `grace` (for requests already in flight when
    /// the 429 was answered) and before the pause ended.
    static func insidePause(
        _ requests: [RecordedRequest], after first: RecordedRequest, pause: Duration,
        grace: Duration = .milliseconds(400)
    ) -> [RecordedRequest] {
        requests.filter { $0.at > first.at + grace && $0.at < first.at + pause - .milliseconds(20) }
    }

    /// The sandbox and both clients, patient enough for a loaded CI machine: the whole suite
    /// runs beside these tests, and with the harness's 2 s timeout and 4 attempts a starved
    /// event loop turned a timed-out read into one more request in the next window (CI, stop 22).
    static func withPatientSandbox(
        _ body: (SandboxServer, GHLClient, CallToolsClient) async throws -> Void
    ) async throws {
        let retry = RetryPolicy(maxAttempts: 8, baseDelay: .milliseconds(5), maxDelay: .milliseconds(20))
        try await UpstreamHarness.with(retry: retry, timeout: .seconds(15)) { h in
            try await body(h.server, h.ghl, h.calltools)
        }
    }

    /// The requests as a timeline, for a failure's message.
    static func timeline(_ requests: [RecordedRequest]) -> String {
        guard let start = requests.first?.at else { return "no requests" }
        return requests.map {
            "\($0.method) \($0.path) \($0.status) at +\(Int((($0.at - start) / .milliseconds(1)).rounded())) ms"
        }
        .joined(separator: "; ")
    }

    /// GHL documents no `Retry-After`: its 429 carries `X-RateLimit-Interval-Milliseconds`, and the
    /// client waits that long; with a `Retry-After` it waits that instead. Either way every read
    /// succeeds and nothing is sent inside the wait.
    @Test(arguments: [false, true])
    func ghlTooManyRequestsIsWaitedOut(sendsRetryAfter: Bool) async throws {
        try await Self.withPatientSandbox { server, ghl, _ in
            await server.state.setLimits(ghl: (3, 1000), calltools: nil)
            await server.state.setGHLSendsRetryAfter(sendsRetryAfter)
            let id = "rl0001"
            await server.state.putGHLContact(
                JSONObject(["id": .string(id), "firstName": .string("Ana"), "phone": .string("+14155550100")]))
            await server.state.clearRequests()
            do {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<6 { group.addTask { _ = try await ghl.contact(id) } }
                    try await group.waitForAll()
                }
            } catch {
                Issue.record("\(error); the sandbox saw: \(Self.timeline(await server.state.requests))")
                return
            }
            let requests = await server.state.requests
            let throttled = requests.filter { $0.status == 429 }
            #expect(!throttled.isEmpty, "no 429 was answered: the test shows nothing")
            #expect(requests.filter { $0.status == 200 }.count == 6)
            if let first = throttled.first {
                let early = Self.insidePause(requests, after: first, pause: .milliseconds(900))
                #expect(early.isEmpty, "\(early.count) requests inside the wait")
            }
        }
    }

    /// A 429 means the request was not performed, so even a create (never retried blindly) is
    /// sent again after `Retry-After`: one contact, not zero and not two.
    @Test func aCreateAnswered429IsSentAgainOnce() async throws {
        try await Self.withPatientSandbox { server, _, ct in
            var f = Faults()
            f.burst429 = 1
            f.retryAfterSeconds = 1
            f.method = "POST"
            f.pathPrefix = "/api/contacts/"
            await server.state.setFaults(f)
            let id = try await ct.create(
                .object(JSONObject(["first_name": .string("Ana"), "mobile_phone_number": .string("+14155550100")])))
            let posts = await server.state.requests.filter { $0.method == "POST" }
            #expect(posts.map(\.status) == [429, 201])
            #expect(await server.state.calltoolsContacts().keys.sorted() == [id])
        }
    }

    /// One caller's 429 pauses every caller of that upstream: eight concurrent reads, and after
    /// the 429 nothing but what was already in flight arrives until `Retry-After` is over.
    @Test func onePauseIsSeenByEveryCaller() async throws {
        try await Self.withPatientSandbox { server, _, ct in
            var f = Faults()
            f.burst429 = 1
            f.retryAfterSeconds = 1
            f.pathPrefix = "/api/buckets/"
            await server.state.setFaults(f)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 {
                    group.addTask { for _ in 0..<5 { _ = try await ct.buckets() } }
                }
                try await group.waitForAll()
            }
            let requests = await server.state.requests
            let first = try #require(requests.first { $0.status == 429 })
            let early = Self.insidePause(requests, after: first, pause: .seconds(1))
            #expect(early.isEmpty, "\(early.count) requests inside the Retry-After")
            #expect(requests.filter { $0.status == 200 }.count == 40)
        }
    }

    /// Another app on the same GHL location spends most of the window: GHL's
    /// `X-RateLimit-Remaining` on our next answer lowers our own budget to match, so our next
    /// request waits for the bucket to refill instead of running into a 429.
    @Test func ghlRemainingLowersOurBudget() async throws {
        try await UpstreamHarness.with { h in
            await h.state.setLimits(ghl: (10, 60_000), calltools: nil)
            await h.state.putGHLContact(JSONObject(["id": .string("rm0001"), "firstName": .string("Ana")]))
            // The other app: eight of the window's ten requests, with its own client.
            try await UpstreamHarness.with(server: h.server) { other in
                for _ in 0..<8 { _ = try await other.ghl.contact("rm0001") }
            }
            let budget = TokenBucket(capacity: 600, period: .seconds(60))  // one token per 100 ms
            let ghl = GHLClient(
                baseURL: h.server.baseURL, token: h.state.ghlToken, locationId: h.state.locationId, client: h.http,
                budget: budget, timeout: .seconds(2))
            #expect(await budget.available() > 590)
            _ = try await ghl.contact("rm0001")
            let answer = try #require(await h.state.requests.last)
            #expect(answer.status == 200)
            // GHL said one request remains; our bucket holds no more than that (plus what
            // refilled in the meantime, far under one more token).
            #expect(await budget.available() < 1.5)
            _ = try await ghl.contact("rm0001")
            #expect(await budget.available() < 0.5)
            #expect(await h.state.requests.filter { $0.status == 429 }.isEmpty)
        }
    }
}
