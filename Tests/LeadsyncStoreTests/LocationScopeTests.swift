import Foundation
import LeadsyncCore
import LeadsyncSync
import LeadsyncValues
import Testing

@testable import LeadsyncStore

/// One file, several locations (issue 9): each scoped view reads and writes only its rows;
/// phones and resolved ids belong to the CallTools account; single-location rows are claimed
/// whole by one location.
@Suite struct LocationScopeTests {
    let t0 = Timestamp(iso8601: "2026-12-01T12:00:00Z")!

    @Test func aLocationSeesOnlyItsRowsAndAnAccountSharesItsPhones() async throws {
        let file = try LeadsyncDatabase.inMemory()
        let a = file.scoped(location: "locA", account: "acct1")
        let b = file.scoped(location: "locB", account: "acct2")
        let c = file.scoped(location: "locC", account: "acct1")  // A's CallTools account
        let phone = PhoneRecord(phone: "+14155550100", exclusions: ["dnd"], complete: true)
        try a.recordOutcome(
            "a1", state: AppliedState(calltoolsId: 7, fields: [:], buckets: [11237]),
            audit: [AuditEntry(at: t0, kind: .decision, summary: "cold")], completing: [], phone: .some(phone),
            at: t0)
        try b.recordOutcome(
            "b1", state: AppliedState(calltoolsId: 7, fields: [:], buckets: [99]), audit: [], completing: [],
            phone: .some(PhoneRecord(phone: "+14155550100", exclusions: [], complete: true)), at: t0)
        _ = try await b.enqueue(
            [
                NewInboxEvent(
                    webhookId: "w1", contactId: "b1", eventType: "ContactTagUpdate", source: "marketplace", body: "{}")
            ],
            at: t0)
        _ = try a.startRun(mode: "full", at: t0)
        try a.saveResolution(buckets: ["Cold": 11237], tags: [:], at: t0)

        #expect(try a.stats().contacts == 1 && a.stats().perBucket == [11237: 1])
        #expect(try b.stats().perBucket == [99: 1])
        #expect(try c.stats().contacts == 0)
        #expect(try a.inboxCounts().pending == 0 && b.inboxCounts().pending == 1)
        #expect(try a.dueInboxContacts(now: t0, excluding: [], limit: 10).isEmpty)
        #expect(try b.dueInboxContacts(now: t0, excluding: [], limit: 10) == ["b1"])
        #expect(try a.runningRun() != nil && b.runningRun() == nil)
        #expect(try a.contact("b1").applied == .new)  // another location's contact is not ours
        // Nor its trail or events (`explain --location` shows only the location's own).
        #expect(try a.auditTrail("a1").count == 1 && b.auditTrail("a1").isEmpty)
        #expect(try a.inboxEvents(contact: "b1").isEmpty && b.inboxEvents(contact: "b1").count == 1)
        #expect(try b.lastDecisionSummary("a1") == nil && a.lastDecisionSummary("a1") == "cold")
        // A phone's exclusions hold across the account (A and C), never into another (B).
        #expect(try c.phoneSiblings("+14155550100", except: "c1").map(\.ghlId) == ["a1"])
        #expect(try b.phoneSiblings("+14155550100", except: "b9").map(\.ghlId) == ["b1"])
        #expect(try c.knownIds().buckets == ["Cold": 11237])
        #expect(try b.knownIds().buckets.isEmpty)
        // A write naming another location's contact leaves that row alone.
        try b.recordOutcome(
            "a1", state: AppliedState(calltoolsId: 9, fields: [:], buckets: [1]), audit: [], completing: [], at: t0)
        #expect(try a.contact("a1").applied.calltoolsId == 7)
    }

    @Test func singleLocationRowsGoWholeToOneLocation() async throws {
        let file = try LeadsyncDatabase.inMemory()
        try file.recordOutcome(
            "old1", state: AppliedState(calltoolsId: 3, fields: [:], buckets: [5]), audit: [], completing: [],
            phone: .some(PhoneRecord(phone: "+14155550111", exclusions: [], complete: true)), at: t0)
        try file.setLiveRules(path: "r.yaml", hash: "h", text: "version: 1", at: t0)
        #expect(try file.hasUnscopedRows())
        let heir = file.scoped(location: "locA", account: "acct1")
        #expect(try heir.stats().contacts == 0)
        #expect(try heir.claimUnscopedRows(at: t0) == 1)
        #expect(try !file.hasUnscopedRows())
        #expect(try heir.stats().contacts == 1)
        #expect(try heir.liveRules()?.hash == "h")
        #expect(try heir.phoneSiblings("+14155550111", except: "x").map(\.ghlId) == ["old1"])
        #expect(try file.stats().contacts == 0)
    }
}
