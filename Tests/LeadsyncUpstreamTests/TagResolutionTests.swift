import Foundation
import LeadsyncValues
import Testing

@testable import LeadsyncSandbox
@testable import LeadsyncUpstream

/// Tag ids: one request in flight per name, "already exists" is a look-up, and a create whose
/// answer was lost is settled by looking again: never a failure, never two tags.
@Suite(.serialized) struct TagResolutionTests {
    @Test func concurrentCallersShareOneCreate() async throws {
        try await ClientTests.withSandbox { server, _, ct in
            let ids = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<20 { group.addTask { try await ct.ensureTag("ACA Cold lead") } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(Set(ids).count == 1)
            #expect(await server.state.calltoolsTags().count == 1)
            let posts = await server.state.requests.filter { $0.method == "POST" && $0.path == "/api/alltags/" }
            #expect(posts.count == 1)
        }
    }

    /// Two clients (two processes, say) create the same tag: the second gets DRF's 400 "already
    /// exists" and looks it up.
    @Test func alreadyExistsBecomesALookUp() async throws {
        try await ClientTests.withSandbox { server, _, first in
            let second = CallToolsClient(
                baseURL: server.baseURL, apiKey: "sandbox-calltools-key", client: first.http.client,
                budget: TokenBucket(capacity: 1000, period: .seconds(1)))
            var faults = Faults()
            faults.latency = .milliseconds(100)  // both look-ups answer "none" before either create lands
            await server.state.setFaults(faults)
            async let a = first.ensureTag("Burst")
            async let b = second.ensureTag("Burst")
            let (x, y) = try await (a, b)
            #expect(x == y)
            #expect(await server.state.calltoolsTags().map(\.name) == ["Burst"])
            let statuses = await server.state.requests.filter { $0.method == "POST" && $0.path == "/api/alltags/" }
                .map(\.status)
            #expect(statuses.sorted() == [201, 400])
        }
    }

    /// The create happened but its answer was lost (a reset after handling): looked up, found.
    @Test func aLostCreateAnswerIsSettledByLookingAgain() async throws {
        try await ClientTests.withSandbox { server, _, ct in
            var faults = Faults()
            faults.resetsAfterHandling = 1
            faults.pathPrefix = "/api/alltags/"
            faults.method = "POST"
            await server.state.setFaults(faults)
            let id = try await ct.ensureTag("Lost answer")
            #expect(await server.state.calltoolsTags().map(\.id) == [id])
        }
    }
}
