import Foundation
import LeadsyncCore
import LeadsyncSandbox
import LeadsyncStore
import LeadsyncTestSupport
import LeadsyncValues
import Testing

@testable import LeadsyncServer

/// Many new leads at once, each needing the same new CallTools tag: the tag is created once
/// (one request in flight per name; "already exists" would become a look-up), and every lead
/// reaches its bucket. Before the fix, 1 or 2 of 300 were dead-lettered in 3 runs of 6.
/// The suites that load the machine (a burst of webhooks, hundreds of slow connections) run one
/// after the other, never beside each other: each measures what the server does under its own
/// load, not under the other's.
@Suite(.serialized) enum LoadTests {}

extension LoadTests {
    @Suite(.serialized) struct BurstTests {
        @Test func threeHundredWebhooksAtOnceLeaveEveryLeadInItsBucket() async throws {
            let n = 300
            try await ServerHarness.with(rules: Fixtures.burst, configure: { $0.workers = 16 }) { h in
                var faults = Faults()
                faults.latency = .milliseconds(2)  // creates overlap, as against a real upstream
                await h.state.setFaults(faults)
                for i in 0..<n { await h.seed("b\(i)", phone: "+1415777" + String(i).leftPadded(to: 4, with: "0")) }
                try await h.running(emitter: false) { port in
                    // 50 senders at once (more would wait on the test client's connection pool).
                    try await withThrowingTaskGroup(of: [UInt].self) { group in
                        for sender in 0..<50 {
                            group.addTask {
                                var statuses: [UInt] = []
                                for i in stride(from: sender, to: n, by: 50) {
                                    let phone = "+1415777" + String(i).leftPadded(to: 4, with: "0")
                                    statuses.append(
                                        try await h.post(port: port, ServerHarness.event(id: "b\(i)", phone: phone)))
                                }
                                return statuses
                            }
                        }
                        for try await statuses in group { #expect(statuses.allSatisfy { $0 == 200 }) }
                    }
                    try await eventually("the inbox to drain", timeout: .seconds(60)) {
                        try h.store.inboxCounts().pending == 0
                    }
                }
                #expect(try h.store.inboxCounts().dead == 0)
                let buckets = await h.calltoolsBuckets()
                #expect(buckets.count == n)
                #expect(buckets.values.allSatisfy { $0 == [11237] })
                let tags = await h.state.calltoolsTags().map(\.name)
                #expect(tags.sorted() == ["ACA Cold lead", "Burst 🔥"])
                let tagPosts = await h.state.requests.filter { $0.method == "POST" && $0.path == "/api/alltags/" }
                #expect(tagPosts.count == 2)
            }
        }
    }
}
