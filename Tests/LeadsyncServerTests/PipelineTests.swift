import Foundation
import LeadsyncCore
import LeadsyncSandbox
import LeadsyncStore
import LeadsyncTestSupport
import LeadsyncUpstream
import LeadsyncValues
import Testing

@testable import LeadsyncServer

/// The whole pipeline on loopback: sandbox GHL emits signed webhooks → server → workers →
/// sandbox CallTools (and GHL write-backs, which come back as webhooks).
@Suite(.serialized) struct PipelineTests {
    static func contact(_ id: String, phone: String? = nil, tags: [String] = []) -> JSONObject {
        var c = JSONObject()
        c["id"] = .string(id)
        c["firstName"] = .string("Ana")
        c["phone"] = .string(phone ?? "+1415555\(String(id.hashValue & 0xfff).leftPadded(to: 4, with: "0"))")
        c["tags"] = .array(tags.map(JSON.string))
        return c
    }

    @Test func taggedInGHLArrivesInCallToolsAndWriteBacksEndInZeroCalls() async throws {
        try await ServerHarness.with { h in
            await h.state.putGHLContact(Self.contact("c1", phone: "+14155550101"))
            await h.state.putGHLContact(Self.contact("c2", phone: "+14155550102"))
            await h.state.setWebhookSink(h.emitter.accept)
            try await h.running { _ in
                await h.state.clearRequests()
                try await h.ghl.addTags("c1", ["cold lead"])
                try await h.ghl.addTags("c2", ["newsletter"])
                try await eventually("c1 in the cold bucket") { await h.calltoolsBuckets()["c1"] == [11237] }
                // Our write-back ("in-dialer") reaches GHL and comes back as a webhook; wait for all to settle.
                try await eventually("the write-back") {
                    await h.state.ghlContact("c1")?["tags"]?.arrayValue?.contains(.string("in-dialer")) == true
                }
                try await eventually("an empty inbox") {
                    let c = try h.store.inboxCounts()
                    return c.pending == 0 && c.done >= 3 && h.emitter.delivered.sent >= 3
                }
                let settled = await h.state.requests
                // Exactly: resolve the tag? no tags here; one phone lookup, one create for c1; one GHL tag
                // write; nothing for c2 (not routed, not in CallTools).
                let ct = settled.filter { $0.path.hasPrefix("/api/") }.map { "\($0.method) \($0.path)" }
                #expect(ct == ["GET /api/contacts/", "POST /api/contacts/"])
                let ghlWrites = settled.filter { !$0.path.hasPrefix("/api/") }.map { "\($0.method) \($0.path)" }
                #expect(ghlWrites == ["POST /contacts/c1/tags", "POST /contacts/c2/tags", "POST /contacts/c1/tags"])
                // Loop safety, by state rather than by waiting: the echo of our write-back was applied
                // (3 done, none pending) and made no GHL write, so no fourth webhook can exist.
                #expect(h.emitter.delivered.sent == 3)
                #expect(await h.state.requests.count == settled.count)
                #expect(try h.store.inboxCounts().done == 3)  // c1 tag, c2 tag, c1 write-back echo
                #expect(await h.calltoolsCount(crm: "c1") == 1)
                #expect(await h.calltoolsCount(crm: "c2") == 0)
            }
        }
    }

    @Test func eventsForOneContactAreCoalescedAndAppliedInOrder() async throws {
        try await ServerHarness.with { h in
            await h.seed("c5")
            // Ten events for one contact, newest last by timestamp: cold, then customer (excluded).
            var bodies: [String] = []
            for i in 0..<10 {
                var o = JSONObject()
                o["type"] = .string("ContactTagUpdate")
                o["id"] = .string("c5")
                o["phone"] = .string("+14155550105")
                o["tags"] = .array(i == 9 ? [.string("cold lead"), .string("customer")] : [.string("cold lead")])
                o["timestamp"] = .string(Timestamp(milliseconds: 1_800_000_000_000 + Int64(i) * 1000).iso8601)
                o["webhookId"] = .string("co-\(i)")
                bodies.append(JSONWriter.encode(.object(o)))
            }
            // Stored before the workers start, so they are all pending together.
            for b in bodies {
                try await h.enqueue(b, contact: "c5")
            }
            try await h.running { _ in
                try await eventually("the inbox to drain") { try h.store.inboxCounts().pending == 0 }
            }
            // One decision on the newest event: a customer, so never created in CallTools.
            #expect(await h.calltoolsCount(crm: "c5") == 0)
            let trail = try h.store.auditTrail("c5").filter { $0.kind == .decision }
            #expect(trail.count == 1)
            #expect(trail.first?.summary.contains("excluded by customer") == true)
        }
    }

    @Test func upstreamFaultsAreRetriedUntilEveryContactArrivesOnce() async throws {
        try await ServerHarness.with(configure: { $0.maxAttempts = 50 }) { h in
            var faults = Faults()
            faults.errorRate = 0.3
            faults.latency = .milliseconds(5)
            faults.burst429 = 5
            faults.retryAfterSeconds = 0.2
            faults.pathPrefix = "/api/"
            await h.state.setFaults(faults)
            let n = 30
            for i in 0..<n { await h.seed("f\(i)", phone: "+1415666\(String(i).leftPadded(to: 4, with: "0"))") }
            try await h.running { port in
                for i in 0..<n {
                    let body = ServerHarness.event(
                        id: "f\(i)", phone: "+1415666\(String(i).leftPadded(to: 4, with: "0"))")
                    #expect(try await h.post(port: port, body) == 200)
                }
                try await eventually("every contact in its bucket", timeout: .seconds(60)) {
                    let buckets = await h.calltoolsBuckets()
                    return (0..<n).allSatisfy { buckets["f\($0)"] == [11237] }
                }
            }
            for i in 0..<n { #expect(await h.calltoolsCount(crm: "f\(i)") == 1, "f\(i)") }
            let deadErrors = try h.store.deadLetters().map { $0.lastError ?? "" }
            #expect(deadErrors.isEmpty, "\(deadErrors)")
            let errors = await h.state.requests.filter { $0.status >= 429 }.count
            #expect(errors > 0)  // the faults did happen
        }
    }

    @Test func permanentFailureIsADeadLetterAndReplayApplies() async throws {
        let rules = Fixtures.server.replacingOccurrences(of: "cold: 11237", with: "cold: { name: \"Night Shift\" }")
        try await ServerHarness.with(rules: rules) { h in
            await h.seed("d1")
            let body = ServerHarness.event(id: "d1", webhookId: "dead-1")
            try await h.enqueue(body, contact: "d1", webhookId: "dead-1")
            try await h.running { _ in
                try await eventually("a dead letter") { try h.store.inboxCounts().dead == 1 }
                let dead = try h.store.deadLetters()
                #expect(dead.first?.lastError?.contains("no bucket named 'Night Shift'") == true)
                #expect(dead.first?.attempts == 1)  // not retried: a retry cannot create a bucket
                // The operator creates the bucket, then replays.
                await h.state.setBuckets([(11237, "Cold Leads"), (11400, "Night Shift")])
                #expect(try h.store.replayDeadLetters(at: Fixtures.wallClock()) == 1)
                try await eventually("the replayed event applied") { await h.calltoolsBuckets()["d1"] == [11400] }
            }
            let counts = try h.store.inboxCounts()
            #expect(counts.done == 1 && counts.dead == 0 && counts.pending == 0, "\(counts)")
        }
    }

    /// A `ContactDndUpdate` whose `dndSettings` cannot be read is a dead letter that says why,
    /// never a contact dialled as if it had no DND.
    @Test func aDndUpdateThatCannotBeReadIsADeadLetter() async throws {
        try await ServerHarness.with { h in
            await h.seed("n1")
            let body =
                #"{"type":"ContactDndUpdate","locationId":"sandboxLocation0001","id":"n1","phone":"+14155550100","#
                + #""tags":["cold lead"],"dnd":false,"dndSettings":{"Call":{"status":"on"}},"webhookId":"dnd-1"}"#
            try await h.enqueue(body, contact: "n1", webhookId: "dnd-1", eventType: "ContactDndUpdate")
            try await h.running { _ in
                try await eventually("a dead letter") { try h.store.inboxCounts().dead == 1 }
            }
            let dead = try h.store.deadLetters()
            #expect(
                dead.first?.lastError
                    == #"payload: 'dndSettings.Call.status' must be active, inactive or permanent, found string "on": "#
                    + "leadsync does not act on a contact whose DND it cannot read")
            #expect(await h.state.calltoolsCreates.isEmpty)
        }
    }

    @Test func shutdownLeavesQueuedEventsForTheNextStart() async throws {
        // A grace period shorter than CallTools' answer: the in-flight contact is cancelled.
        // The create may still be in flight at the sandbox (600 ms) when the server is back: the
        // executor waits for it to settle (1 s after the intent) before looking the contact up.
        try await ServerHarness.with(
            configure: { $0.shutdownGrace = .milliseconds(50) }, createSettle: .seconds(1)
        ) { h in
            // CallTools answers slowly: shutdown comes while the contact is in flight.
            var faults = Faults()
            faults.latency = .milliseconds(600)
            faults.pathPrefix = "/api/"
            await h.state.setFaults(faults)
            await h.seed("s1")
            let body = ServerHarness.event(id: "s1", webhookId: "s-1")
            try await h.enqueue(body, contact: "s1", webhookId: "s-1")
            try await h.running(emitter: false) { _ in
                try await eventually("a CallTools request") { await !h.state.requests.isEmpty }
            }
            // Cancelled mid-call: the event stays pending, untouched (no failed attempt counted).
            let pending = try h.store.pendingInboxEvents(contact: "s1")
            #expect(pending.count == 1)
            #expect(pending.first?.attempts == 0)
            await h.state.setFaults(Faults())
            h.restart()
            try await h.running(emitter: false) { _ in
                try await eventually("applied after restart") { await h.calltoolsBuckets()["s1"] == [11237] }
            }
            #expect(await h.calltoolsCount(crm: "s1") == 1)
        }
    }

    @Test func workflowEventsReReadTheContactFromGHL() async throws {
        try await ServerHarness.with(configure: { $0.workflowSecret = "s" }) { h in
            var c = Self.contact("w1", phone: "+14155550111", tags: ["cold lead"])
            c["firstName"] = .string("FromGHL")
            await h.state.putGHLContact(c)
            // The payload says otherwise (no tag, another name): GHL's copy wins.
            let payload = #"{"contact_id":"w1","first_name":"FromPayload","tags":"","phone":"+14155550111"}"#
            let missing = #"{"contact_id":"gone1","tags":"cold lead"}"#
            for (body, id) in [(payload, "w1"), (missing, "gone1")] {
                try await h.enqueueWorkflow(body, contact: id)
            }
            try await h.running(emitter: false) { _ in
                try await eventually("both applied") { try h.store.inboxCounts().done == 2 }
            }
            #expect(await h.calltoolsBuckets()["w1"] == [11237])
            let created = await h.state.calltoolsCreates.first
            #expect(created?.body?["first_name"]?.stringValue == "FromGHL")
            #expect(await h.state.requests.contains { $0.method == "GET" && $0.path == "/contacts/w1" })
            // A contact GHL no longer has is treated as deleted: in no bucket, no call to CallTools.
            #expect(await h.calltoolsCount(crm: "gone1") == 0)
            #expect(try h.store.auditTrail("gone1").contains { $0.summary.contains("buckets []") })
        }
    }

    @Test func triggeredPassRunsInTheServerAndRefusesASecond() async throws {
        try await ServerHarness.with { h in
            for i in 0..<5 {
                var c = Self.contact("p\(i)", phone: "+1415777000\(i)", tags: i < 3 ? ["cold lead"] : [])
                c["dateAdded"] = .string(Timestamp(milliseconds: 1_700_000_000_000 + Int64(i)).iso8601)
                await h.state.putGHLContact(c)
            }
            let scheduler = try #require(h.server.scheduler)
            try await h.running(emitter: false) { _ in
                guard case .started(let id) = try scheduler.trigger(full: true) else {
                    Issue.record("the first trigger must start a pass")
                    return
                }
                try await eventually("the pass to finish") {
                    try h.store.syncRun(id)?.status == .finished && scheduler.runningId == nil
                }
                let run = try #require(try h.store.syncRun(id))
                #expect(run.counts["created"] == 3)
                #expect(run.counts["contacts"] == 5)
            }
            let buckets = await h.calltoolsBuckets()
            #expect(buckets.keys.sorted() == ["p0", "p1", "p2"])
            // stats: contacts by the rule (and exclusion) of their latest decision.
            let report = JSONWriter.encode(try h.store.statsReport())
            #expect(report.contains(#""by_rule":{"(none)":2,"cold":3},"by_exclusion":{}"#), "\(report)")
        }
    }

    @Test func shutdownInterruptsAPassWhichResumesOnTheNextStart() async throws {
        try await ServerHarness.with { h in
            for i in 0..<600 {
                var c = Self.contact(
                    "q\(i)", phone: "+1415888\(String(i).leftPadded(to: 4, with: "0"))", tags: ["cold lead"])
                c["dateAdded"] = .string(Timestamp(milliseconds: 1_700_000_000_000 + Int64(i)).iso8601)
                await h.state.putGHLContact(c)
            }
            var slow = Faults()
            slow.latency = .milliseconds(20)
            slow.pathPrefix = "/api/contacts/"
            await h.state.setFaults(slow)
            let scheduler = try #require(h.server.scheduler)
            let runId: Int64 = try await h.running(emitter: false) { _ in
                guard case .started(let id) = try scheduler.trigger(full: true) else {
                    throw Timeout(what: "a start")
                }
                try await eventually("some contacts created") { await h.calltoolsBuckets().count >= 10 }
                return id
            }
            // Shutdown did not wait for the 600 contacts: the pass stopped part way (state, not a
            // wall-clock bound).
            #expect(await h.calltoolsBuckets().count < 600)
            #expect(try h.store.syncRun(runId)?.status == .running)
            await h.state.setFaults(Faults())
            h.restart()
            let scheduler2 = try #require(h.server.scheduler)
            try await h.running(emitter: false) { _ in
                #expect(try scheduler2.trigger(full: true) == .started(runId))  // the same run, resumed
                try await eventually("the pass to finish", timeout: .seconds(60)) {
                    try h.store.syncRun(runId)?.status == .finished
                }
            }
            let buckets = await h.calltoolsBuckets()
            #expect(buckets.count == 600)
            var twice: [String] = []
            for i in 0..<600 where await h.calltoolsCount(crm: "q\(i)") != 1 { twice.append("q\(i)") }
            if let first = twice.first {
                let trail = try h.store.auditTrail(first).map { "\($0.kind) \($0.summary)" }.joined(separator: "\n")
                Issue.record("\(twice.count) contacts not exactly once in CallTools, e.g. \(first):\n\(trail)")
            }
        }
    }
}
