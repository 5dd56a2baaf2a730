import LeadsyncSandbox
import LeadsyncStore
import LeadsyncTestSupport
import LeadsyncUpstream
import LeadsyncValues
import Testing

@testable import LeadsyncServer

/// An upstream outage through the whole server, with breakers that probe every 100-300 ms so
/// that a long outage takes seconds: nothing but probes goes out while it lasts, no event dies,
/// and everything lands once, after.
@Suite(.serialized) struct OutageTests {
    static func isCallToolsProbe(_ r: RecordedRequest) -> Bool {
        r.method == "GET" && r.path == "/api/buckets/" && r.query["page_size"] == "1"
    }

    static func isGHLProbe(_ r: RecordedRequest) -> Bool {
        r.method == "GET" && r.path.hasSuffix("/customFields")
    }

    /// CallTools answers 503 to everything while 500 leads arrive by signed webhook.
    @Test func aCallToolsOutageHoldsEveryLeadThenLandsThemAll() async throws {
        let n = 500
        try await ServerHarness.with(configure: { $0.workers = 8 }) { h in
            for i in 0..<n { await h.seed("o\(i)", phone: "+1415666" + String(i).leftPadded(to: 4, with: "0")) }
            var down = Faults()
            down.calltoolsDown = true
            await h.state.setFaults(down)
            try await h.running(emitter: false) { port in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for sender in 0..<20 {
                        group.addTask {
                            for i in stride(from: sender, to: n, by: 20) {
                                let status = try await h.post(
                                    port: port,
                                    ServerHarness.event(
                                        id: "o\(i)", phone: "+1415666" + String(i).leftPadded(to: 4, with: "0")))
                                #expect(status == 200)  // intake never fails for an upstream
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                // Every event ends up held: none pending, none dead.
                try await eventually("every event held", timeout: .seconds(30)) {
                    let c = try h.store.inboxCounts()
                    return c.held == n && c.pending == 0
                }
                #expect(try h.store.inboxCounts().dead == 0)
                let breaker = try #require(h.server.upstreams.first { $0.service == .calltools }?.breaker)
                #expect(!breaker.isClosed)
                let ready = h.server.readyReport()
                #expect(ready["status"] == .string("degraded"))
                // Open, or half-open while one of its probes (every 100-300 ms here) is in flight.
                let calltoolsState = ready["upstreams"]?["calltools"]?["state"]
                #expect(calltoolsState == .string("open") || calltoolsState == .string("half-open"))
                #expect(ready["upstreams"]?["ghl"]?["state"] == .string("closed"))

                // From here on, only probes reach CallTools, however long the outage.
                let before = await h.state.requests.count
                try await eventually("three more probes") {
                    await h.state.requests.dropFirst(before).filter(Self.isCallToolsProbe).count >= 3
                }
                let during = await h.state.requests.dropFirst(before).filter { $0.path.hasPrefix("/api/") }
                #expect(during.allSatisfy(Self.isCallToolsProbe), "\(during.filter { !Self.isCallToolsProbe($0) })")
                let attempts = try h.store.pendingInboxEvents(contact: "o0").map(\.attempts)

                // CallTools comes back: the next probe closes the breaker and the backlog drains.
                await h.state.setFaults(Faults())
                try await eventually("every lead in its bucket", timeout: .seconds(60)) {
                    await h.calltoolsBuckets().count == n
                }
                try await eventually("the inbox drained") {
                    let c = try h.store.inboxCounts()
                    return c.pending == 0 && c.held == 0
                }
                #expect(breaker.isClosed)
                #expect(attempts.allSatisfy { $0 <= 1 })  // at most the failure that opened it
            }
            let buckets = await h.calltoolsBuckets()
            #expect(buckets.count == n)
            #expect(buckets.values.allSatisfy { $0 == [11237] })
            #expect(await h.state.calltoolsContacts().count == n)  // no duplicate
            #expect(try h.store.inboxCounts().dead == 0)
        }
    }

    /// GHL answers 503 while workflow webhooks arrive (each needs a re-read) and a full pass is
    /// triggered: the events are held, the pass pauses instead of failing, and after recovery
    /// both finish with nothing dead.
    @Test func aGHLOutagePausesThePassAndHoldsWorkflowEvents() async throws {
        try await ServerHarness.with(configure: { $0.workflowSecret = "s" }) { h in
            for i in 0..<20 {
                var c = JSONObject()
                c["id"] = .string("g\(i)")
                c["firstName"] = .string("Ana")
                c["phone"] = .string("+1415333" + String(i).leftPadded(to: 4, with: "0"))
                c["tags"] = .array([.string("cold lead")])
                c["dateAdded"] = .string(Timestamp(milliseconds: 1_700_000_000_000 + Int64(i)).iso8601)
                await h.state.putGHLContact(c)
            }
            var down = Faults()
            down.ghlDown = true
            await h.state.setFaults(down)
            for i in 0..<10 {
                try await h.enqueueWorkflow(#"{"contact_id":"g\#(i)","tags":"cold lead"}"#, contact: "g\(i)")
            }
            let scheduler = try #require(h.server.scheduler)
            try await h.running(emitter: false) { _ in
                try await eventually("the workflow events held") { try h.store.inboxCounts().held == 10 }
                guard case .started(let id) = try scheduler.trigger(full: true) else {
                    Issue.record("the trigger must start a pass")
                    return
                }
                let before = await h.state.requests.count
                try await eventually("three more probes") {
                    await h.state.requests.dropFirst(before).filter(Self.isGHLProbe).count >= 3
                }
                #expect(try h.store.syncRun(id)?.status == .running)  // paused, not failed
                let during = await h.state.requests.dropFirst(before).filter { !$0.path.hasPrefix("/api/") }
                #expect(during.allSatisfy(Self.isGHLProbe), "\(during.filter { !Self.isGHLProbe($0) })")

                await h.state.setFaults(Faults())
                try await eventually("the pass to finish", timeout: .seconds(30)) {
                    try h.store.syncRun(id)?.status == .finished && scheduler.runningId == nil
                }
                try await eventually("the workflow events applied") {
                    let c = try h.store.inboxCounts()
                    return c.held == 0 && c.pending == 0
                }
                #expect(try h.store.syncRun(id)?.counts["failed"] ?? 0 == 0)
            }
            #expect(await h.calltoolsBuckets().count == 20)
            #expect(await h.state.calltoolsContacts().count == 20)
            #expect(try h.store.inboxCounts().dead == 0)
        }
    }
}
