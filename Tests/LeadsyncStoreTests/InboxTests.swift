import Foundation
import LeadsyncCore
import LeadsyncValues
import Testing

@testable import LeadsyncStore

/// The durable inbox: group commit with de-duplication, due contacts, failures, dead letters, replay.
@Suite struct InboxTests {
    static func event(_ contact: String, _ webhookId: String?) -> NewInboxEvent {
        NewInboxEvent(
            webhookId: webhookId, contactId: contact, eventType: "ContactTagUpdate", source: "marketplace",
            body: #"{"id":"\#(contact)"}"#)
    }

    let t0 = Timestamp(milliseconds: 1_800_000_000_000)

    @Test func enqueueDeduplicatesOnWebhookIdInsideAndAcrossBatches() async throws {
        let db = try LeadsyncDatabase.inMemory()
        let first = try await db.enqueue([Self.event("a", "w1"), Self.event("b", "w2"), Self.event("a", "w1")], at: t0)
        #expect(first == [true, true, false])
        let second = try await db.enqueue([Self.event("a", "w1"), Self.event("a", nil), Self.event("a", nil)], at: t0)
        #expect(second == [false, true, true])  // no webhookId (workflow): never a duplicate
        #expect(try db.inboxCounts().pending == 4)
        #expect(try db.pendingInboxEvents(contact: "a").map(\.webhookId) == ["w1", nil, nil])
    }

    @Test func dueContactsAreOldestFirstAndSkipBusyOnes() async throws {
        let db = try LeadsyncDatabase.inMemory()
        _ = try await db.enqueue(
            [Self.event("a", "1"), Self.event("b", "2"), Self.event("a", "3"), Self.event("c", "4")], at: t0)
        #expect(try db.dueInboxContacts(now: t0, excluding: [], limit: 10) == ["a", "b", "c"])
        #expect(try db.dueInboxContacts(now: t0, excluding: ["a"], limit: 1) == ["b"])
        #expect(
            try db.dueInboxContacts(now: Timestamp(milliseconds: t0.milliseconds - 1), excluding: [], limit: 10) == [])
    }

    @Test func failuresRetryThenDieAndReplayRequeues() async throws {
        let db = try LeadsyncDatabase.inMemory()
        _ = try await db.enqueue([Self.event("a", "1"), Self.event("b", "2")], at: t0)
        let a = try db.pendingInboxEvents(contact: "a").map(\.seq)
        let later = Timestamp(milliseconds: t0.milliseconds + 10_000)
        // Transient: waits until `later`, not due before.
        #expect(
            try db.failInboxEvents(a, error: "HTTP 503", permanent: false, retryAt: later, maxAttempts: 2, at: t0) == 0)
        #expect(try db.dueInboxContacts(now: t0, excluding: [], limit: 10) == ["b"])
        #expect(try db.dueInboxContacts(now: later, excluding: [], limit: 10) == ["a", "b"])
        // Second failure reaches maxAttempts: dead.
        #expect(
            try db.failInboxEvents(a, error: "HTTP 503", permanent: false, retryAt: later, maxAttempts: 2, at: t0) == 1)
        // Permanent: dead at once.
        let b = try db.pendingInboxEvents(contact: "b").map(\.seq)
        #expect(
            try db.failInboxEvents(b, error: "HTTP 400", permanent: true, retryAt: later, maxAttempts: 9, at: t0) == 1)
        #expect(try db.deadLetters().map(\.contactId) == ["a", "b"])
        #expect(try db.deadLetters().first?.lastError == "HTTP 503")
        #expect(try db.deadLetters().first?.attempts == 2)

        #expect(try db.replayDeadLetters(seq: b[0], at: later) == 1)
        #expect(try db.pendingInboxEvents(contact: "b").first?.attempts == 0)
        #expect(try db.replayDeadLetters(since: Timestamp(milliseconds: t0.milliseconds + 1), at: later) == 0)
        #expect(try db.replayDeadLetters(at: later) == 1)
        #expect(try db.inboxCounts().dead == 0)
    }

    @Test func completedEventsArePrunedAfterRetentionAndStopDeduplicating() async throws {
        let db = try LeadsyncDatabase.inMemory()
        _ = try await db.enqueue([Self.event("a", "w1"), Self.event("b", "w2")], at: t0)
        try db.recordOutcome(
            "a", state: nil, audit: [], completing: try db.pendingInboxEvents(contact: "a").map(\.seq), at: t0)
        #expect(try db.pruneInbox(before: Timestamp(milliseconds: t0.milliseconds + 1)) == 1)  // b is pending: kept
        #expect(try await db.enqueue([Self.event("a", "w1")], at: t0) == [true])
        #expect(try db.inboxCounts().pending == 2)
    }
}

/// A poison event (one that kills the process while it is applied) cannot crash-loop the server:
/// the mark written before applying it survives the death, each start counts one, and at the
/// limit it is a dead letter with the reason.
@Suite struct PoisonEventTests {
    let t0 = Timestamp(milliseconds: 1_800_000_000_000)

    @Test func deathsAreCountedAndTheThirdIsADeadLetter() async throws {
        let db = try LeadsyncDatabase.inMemory()
        _ = try await db.enqueue([InboxTests.event("p", "1"), InboxTests.event("q", "2")], at: t0)
        let p = try db.pendingInboxEvents(contact: "p").map(\.seq)
        let q = try db.pendingInboxEvents(contact: "q").map(\.seq)
        // Nothing was in flight: nothing to recover.
        #expect(try db.recoverInterruptedInboxEvents(maxDeaths: 3, at: t0) == (0, 0))
        for death in 1...3 {
            try db.markInboxStarted(p, at: t0)  // the process dies here, every time
            let (interrupted, died) = try db.recoverInterruptedInboxEvents(maxDeaths: 3, at: t0)
            #expect(interrupted == 1)
            #expect(died == (death == 3 ? 1 : 0))
            #expect(try db.suspectInboxContacts() == (death == 3 ? [] : ["p"]))
        }
        let dead = try db.deadLetters()
        #expect(dead.map(\.seq) == p)
        #expect(dead.first?.lastError == "the process died while applying this event (3 times)")
        // The other event was never in flight: untouched.
        #expect(try db.pendingInboxEvents(contact: "q").map(\.seq) == q)

        // Started then finished (or failed, or cancelled): no death.
        try db.markInboxStarted(q, at: t0)
        try db.clearInboxStarted(q)
        #expect(try db.recoverInterruptedInboxEvents(maxDeaths: 3, at: t0) == (0, 0))
        try db.markInboxStarted(q, at: t0)
        _ = try db.failInboxEvents(q, error: "x", permanent: false, retryAt: t0, maxAttempts: nil, at: t0)
        #expect(try db.recoverInterruptedInboxEvents(maxDeaths: 3, at: t0) == (0, 0))

        // A replayed dead letter starts again with no death.
        #expect(try db.replayDeadLetters(at: t0) == 1)
        try db.markInboxStarted(p, at: t0)
        #expect(try db.recoverInterruptedInboxEvents(maxDeaths: 3, at: t0) == (1, 0))
    }
}
