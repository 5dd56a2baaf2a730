import Synchronization
import Testing

@testable import LeadsyncUpstream

/// Live work goes ahead of batch work on a shared budget (product.md §3).
@Suite struct TokenBucketTests {
    final class Order: Sendable {
        let names = Mutex<[String]>([])
        func add(_ n: String) { names.withLock { $0.append(n) } }
        var all: [String] { names.withLock { $0 } }
    }

    @Test func batchLeavesTheReserveAndLiveGoesFirst() async throws {
        // 10 per 2 s: one token every 200 ms (a wide margin for a busy machine); a live reserve of 1.
        let bucket = TokenBucket(capacity: 10, period: .seconds(2))
        #expect(await bucket.liveReserve == 1)
        // Batch takes 9 of the 10 at once and then has to wait: it never takes the last one.
        for _ in 0..<9 { try await TokenBucket.$priority.withValue(.batch) { try await bucket.acquire() } }
        let order = Order()
        try await withThrowingTaskGroup(of: Void.self) { group in
            // Three batch callers start waiting first...
            for i in 0..<3 {
                group.addTask {
                    try await TokenBucket.$priority.withValue(.batch) { try await bucket.acquire() }
                    order.add("batch\(i)")
                }
            }
            try await Task.sleep(for: .milliseconds(5))
            // ...then three live callers: the reserved token, then every refill, goes to them.
            for i in 0..<3 {
                group.addTask {
                    try await bucket.acquire()
                    order.add("live\(i)")
                }
            }
            try await group.waitForAll()
        }
        let all = order.all
        #expect(all.count == 6)
        #expect(Set(all.prefix(3)) == ["live0", "live1", "live2"], "\(all)")
    }
}
