import AsyncHTTPClient
import Foundation
import LeadsyncSandbox
import LeadsyncStore
import LeadsyncSync
import LeadsyncTestSupport
import LeadsyncValues
import NIOCore
import NIOHTTP1
import Testing

@testable import LeadsyncServer

/// A PATCH that reached CallTools from a process killed before it recorded the answer (what the
/// crash test caught: a contact left in the bucket of an event that was not its newest).
@Suite struct InterruptedWriteTests {
    @Test func aWriteWhoseAnswerWasLostIsReadBackBeforePlanning() async throws {
        try await ServerHarness.with { h in
            await h.seed("v1", phone: "+14155550199")
            try await h.running(emitter: false) { port in
                #expect(try await h.post(port: port, ServerHarness.event(id: "v1", phone: "+14155550199")) == 200)
                try await eventually("v1 in Cold") { await h.calltoolsBuckets()["v1"] == [11237] }
            }
            let calltoolsId = try #require(try h.store.contact("v1").applied.calltoolsId)

            // The dead process: it took a "newsletter" event (no rule: out of every bucket), sent
            // its PATCH, and died before recording it. CallTools holds the PATCH; the store does
            // not. Then a newer "cold lead" event arrived.
            try await Task.sleep(for: .milliseconds(5))
            try await h.enqueue(
                ServerHarness.event(id: "v1", tags: ["newsletter"], phone: "+14155550199"), contact: "v1")
            let interrupted = try h.store.pendingInboxEvents(contact: "v1").map(\.seq)
            try h.store.markInboxStarted(interrupted, at: Fixtures.wallClock())
            var patch = HTTPClientRequest(url: "\(h.sandbox.baseURL)/api/contacts/\(calltoolsId)/")
            patch.method = .PATCH
            patch.headers.add(name: "Authorization", value: "Token \(h.state.calltoolsKey)")
            patch.headers.add(name: "Content-Type", value: "application/json")
            patch.body = .bytes(ByteBuffer(string: #"{"remove_buckets":[11237]}"#))
            #expect(try await h.http.execute(patch, timeout: .seconds(5)).status.code == 200)
            #expect(await h.calltoolsBuckets()["v1"] == [])
            try await Task.sleep(for: .milliseconds(5))
            try await h.enqueue(ServerHarness.event(id: "v1", phone: "+14155550199"), contact: "v1")
            #expect(try h.store.contact("v1").applied.buckets == [11237])  // what the store believes

            // The next start applies both events (the newest says Cold), reading CallTools first.
            h.restart()
            try await h.running(emitter: false) { _ in
                try await eventually("v1 back in Cold") {
                    let buckets = await h.calltoolsBuckets()["v1"]
                    return try h.store.inboxCounts().pending == 0 && buckets == [11237]
                }
            }
            let trail = try h.store.auditTrail("v1").map(\.summary)
            #expect(trail.contains { $0.contains("held a write whose answer was never recorded") }, "\(trail)")
            #expect(try h.store.contact("v1").applied.buckets == [11237])
        }
    }
}
