import AsyncHTTPClient
import Foundation
import LeadsyncSandbox
import LeadsyncStore
import LeadsyncValues
import NIOCore
import NIOHTTP1
import Testing

@testable import LeadsyncServer

#if canImport(Glibc)
import Glibc
import LeadsyncTestSupport
#endif

/// Rules reloaded (by the endpoint and by SIGHUP) while webhook workers and a full pass run on
/// the same contacts: one lock per contact holds across executors, no contact is written twice
/// at once, nothing is created twice, and every contact ends under the rules live when its last
/// event was applied.
@Suite(.serialized) struct ReloadUnderLoadTests {
    /// The harness's rules with `cold lead` routed to the active bucket instead.
    static let rulesB = Fixtures.server.replacingOccurrences(
        of: "bucket: cold\n", with: "bucket: active\n")

    enum Trigger: String, CaseIterable, Sendable { case endpoint, sighup }

    @Test(arguments: Trigger.allCases)
    func reloadWhileWorkersAndAPassRun(_ trigger: Trigger) async throws {
        #expect(Self.rulesB != Fixtures.server)
        try await ServerHarness.with(configure: {
            $0.adminToken = "t0ken"
            $0.workers = 8
        }) { h in
            let n = 40
            let ids = (0..<n).map { "r\(String($0).leftPadded(to: 3, with: "0"))" }
            for (i, id) in ids.enumerated() {
                var c = JSONObject()
                c["id"] = .string(id)
                c["firstName"] = .string("Ana")
                c["phone"] = .string("+1415555\(String(2000 + i))")
                c["tags"] = .array([.string("cold lead")])
                await h.state.putGHLContact(c)
            }
            // CallTools answers slowly, so work is in flight when the rules change.
            var faults = Faults()
            faults.latency = .milliseconds(15)
            faults.pathPrefix = "/api/"
            await h.state.setFaults(faults)
            let firstHash = h.server.rules.current.hash

            try await h.running(emitter: false) { port in
                // A full pass over the same contacts, running at batch priority with the workers.
                _ = try h.server.scheduler?.trigger(full: true)
                // Round 1 under the first rules, from 8 connections at once; the reload lands in the
                // middle of it.
                try await Self.send(h, port: port, ids: ids, round: 1) { sent in
                    guard sent == n / 2 else { return }
                    try Self.rulesB.write(toFile: h.rulesPath, atomically: true, encoding: .utf8)
                    switch trigger {
                    case .endpoint:
                        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/rules/reload")
                        request.method = .POST
                        request.headers.add(name: "authorization", value: "Bearer t0ken")
                        let response = try await h.http.execute(request, timeout: .seconds(10))
                        _ = try await response.body.collect(upTo: 1 << 16)
                        #expect(response.status == .ok)
                    case .sighup:
                        try await Self.sighup(h)
                    }
                }
                // The reload went live (a SIGHUP is sent again until the signal source has it).
                try await eventually("the new rules live") {
                    if h.server.rules.current.hash != firstHash { return true }
                    if trigger == .sighup { try await Self.sighup(h) }
                    return false
                }
                // Round 2, all under the new rules: every contact's last event moves it.
                try await Self.send(h, port: port, ids: ids, round: 2) { _ in }
                try await eventually("every contact in the active bucket only", timeout: .seconds(60)) {
                    let buckets = await h.calltoolsBuckets()
                    return ids.allSatisfy { buckets[$0] == [11252] }
                }
                try await eventually("the pass finished and the inbox empty", timeout: .seconds(60)) {
                    let counts = try h.store.inboxCounts()
                    let running = try h.store.interruptedRun(mode: "full")
                    return counts.pending == 0 && running == nil
                }
            }
            #expect(try h.store.inboxCounts().dead == 0)
            // Exactly one CallTools contact per lead, in the bucket the newest rules give.
            let buckets = await h.calltoolsBuckets()
            for id in ids {
                let count = await h.calltoolsCount(crm: id)
                #expect(count == 1, "\(id) created \(count) times")
                #expect(buckets[id] == [11252], "\(id) ended in \(buckets[id] ?? [])")
            }
            // No contact was written by two callers at once: with 15 ms of latency, a second write
            // for the same CallTools contact can only arrive after the first was answered.
            let writes = await Self.writesByContact(h.state)
            for (contact, times) in writes {
                for (a, b) in zip(times, times.dropFirst()) {
                    #expect(b - a >= .milliseconds(14), "two writes for \(contact) overlapped (\(b - a) apart)")
                }
            }
            #expect(writes.values.contains { $0.count > 1 }, "no contact was written twice: the test shows nothing")
        }
    }

    /// SIGHUP to this process, once the server's signal listener has taken the signal over (its
    /// dispatch source replaces the default disposition): sent before that, the default action
    /// would end the test process.
    static func sighup(_ h: ServerHarness) async throws {
        try await eventually("the server listening for SIGHUP") {
            var current = sigaction()
            sigaction(SIGHUP, nil, &current)
            // Anything but SIG_DFL (0): ignored, or dispatch's own handler.
            return unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self) != 0
        }
        kill(getpid(), SIGHUP)
    }

    /// Sends one signed ContactTagUpdate per contact from 8 connections; `after(sent)` runs as
    /// each is acknowledged (200), in order of acknowledgement.
    static func send(
        _ h: ServerHarness, port: Int, ids: [String], round: Int, after: @Sendable (Int) async throws -> Void
    ) async throws {
        var sent = 0
        try await withThrowingTaskGroup(of: UInt.self) { group in
            var next = 0
            func add() {
                let id = ids[next]
                next += 1
                group.addTask {
                    try await h.post(
                        port: port,
                        ServerHarness.event(
                            id: id, webhookId: "\(id)-\(round)", tags: ["cold lead"],
                            phone: "+1415555\(2000 + ids.firstIndex(of: id)!)"))
                }
            }
            while next < min(8, ids.count) { add() }
            while let status = try await group.next() {
                #expect(status == 200)
                sent += 1
                try await after(sent)
                if next < ids.count { add() }
            }
        }
    }

    /// Arrival times of CallTools writes (creates by `crm_id`, PATCHes by contact id), per contact.
    static func writesByContact(_ state: SandboxState) async -> [String: [ContinuousClock.Instant]] {
        var byId: [String: String] = [:]  // CallTools id → crm_id
        for (id, c) in await state.calltoolsContacts() {
            if let crm = c["crm_id"]?.stringValue { byId[String(id)] = crm }
        }
        var out: [String: [ContinuousClock.Instant]] = [:]
        for r in await state.requests where r.path.hasPrefix("/api/contacts/") {
            if r.method == "POST", let crm = r.body?["crm_id"]?.stringValue {
                out[crm, default: []].append(r.at)
            } else if r.method == "PATCH" {
                let id = r.path.dropFirst("/api/contacts/".count).split(separator: "/").first.map(String.init) ?? ""
                out[byId[id] ?? "ct-\(id)", default: []].append(r.at)
            }
        }
        return out.mapValues { $0.sorted() }
    }
}
