import Foundation
import LeadsyncTestSupport
import LeadsyncValues
import NIOCore
import Synchronization
import Testing

@testable import LeadsyncServer

/// Graceful shutdown (what SIGTERM starts) while webhooks are in flight through the group commit:
/// every request answered 200 was stored, so after a restart the same delivery is a duplicate.
@Suite(.serialized) struct ShutdownTests {
    @Test func everyWebhookAnswered200SurvivesAShutdownInFlight() async throws {
        try await ServerHarness.with { h in
            let n = 300
            let bodies = (0..<n).map { i in
                ServerHarness.event(
                    id: "s\(i)", webhookId: "shutdown-\(i)", tags: ["newsletter"], phone: "+1415777\(1000 + i)")
            }
            let acknowledged = Acknowledged()
            let (ports, portSink) = AsyncStream<Int>.makeStream()
            let (stop, stopSink) = AsyncStream<Void>.makeStream()
            try await withThrowingTaskGroup(of: Void.self) { outer in
                outer.addTask {
                    try await h.running(emitter: false) { port in
                        portSink.yield(port)
                        portSink.finish()
                        for await _ in stop {}  // shutdown begins when the senders say so
                    }
                }
                outer.addTask {
                    var port = 0
                    for await p in ports { port = p }
                    let target = port
                    // 16 connections; shutdown starts once 60 are acknowledged, with the rest in flight.
                    await withTaskGroup(of: Void.self) { senders in
                        var next = 0
                        func add() {
                            let i = next
                            next += 1
                            senders.addTask {
                                // Once shutdown has begun, only the requests already in flight matter.
                                if acknowledged.all.count >= 60 { return }
                                guard
                                    let r = try? await h.postWithAnswer(port: target, bodies[i], timeout: .seconds(3)),
                                    r.status == 200
                                else { return }
                                let count = acknowledged.insert(i)
                                if count == 60 { stopSink.finish() }
                            }
                        }
                        while next < 16 { add() }
                        while await senders.next() != nil { if next < n { add() } }
                    }
                    stopSink.finish()
                }
                try await outer.waitForAll()
            }
            let acked = acknowledged.all
            #expect(acked.count >= 60)
            #expect(acked.count < n, "shutdown began after every request was answered: nothing was in flight")
            // A restart on the same database: each acknowledged delivery is already there.
            h.restart()
            try await h.running(emitter: false) { port in
                for i in acked.sorted() {
                    let again = try await h.postWithAnswer(port: port, bodies[i])
                    #expect(again.status == 200 && again.answer.contains("duplicate"), "webhook \(i): \(again.answer)")
                }
            }
        }
    }
}

/// The webhooks answered 200, shared by the senders.
final class Acknowledged: Sendable {
    private let members = Mutex<Set<Int>>([])
    /// Adds `i`; returns how many there are now.
    func insert(_ i: Int) -> Int {
        members.withLock { s in
            s.insert(i)
            return s.count
        }
    }
    var all: Set<Int> { members.withLock { $0 } }
}
