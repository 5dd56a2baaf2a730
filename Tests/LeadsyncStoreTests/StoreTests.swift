import Foundation
import GRDB
import LeadsyncCore
import LeadsyncSync
import LeadsyncValues
import Testing

@testable import LeadsyncStore

@Suite struct StoreTests {
    let dir = NSTemporaryDirectory() + "leadsync-store-" + UUID().uuidString
    var path: String { dir + "/leadsync.sqlite" }
    let t0 = Timestamp(iso8601: "2026-11-29T12:00:00Z")!

    init() throws { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }

    @Test func fileDatabasesUseWAL() throws {
        let db = try LeadsyncDatabase.open(path: path)
        let mode = try db.writer.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
        try? FileManager.default.removeItem(atPath: dir)
    }

    @Test func anUnknownContactIsNewAndUnmarked() throws {
        let db = try LeadsyncDatabase.inMemory()
        #expect(try db.contact("g1") == StoredContact(ghlId: "g1", applied: .new, markedCustomer: false))
    }

    @Test func aCreateIntentSurvivesAReopenAndIsClearedByTheResult() throws {
        do {
            let db = try LeadsyncDatabase.open(path: path)
            try db.recordCreateIntent("g1", at: t0)
        }  // the process "dies" here: nothing but the file remains
        let reopened = try LeadsyncDatabase.open(path: path)
        #expect(try reopened.contact("g1").applied == AppliedState(createPending: true))
        let state = AppliedState(
            calltoolsId: 501, fields: ["first_name": "Ana"], buckets: [11237], tags: [7: true, 9: false])
        try reopened.recordOutcome("g1", state: state, audit: [], completing: [], at: t0)
        #expect(try reopened.contact("g1").applied == state)
        try? FileManager.default.removeItem(atPath: dir)
    }

    @Test func appliedStateRoundTripsExactly() throws {
        let db = try LeadsyncDatabase.inMemory()
        let state = AppliedState(
            calltoolsId: 42, fields: ["a": "1", "b": "x \"quoted\" é"], buckets: [3, 1, 2],
            tags: [5: true, 6: false])
        try db.recordOutcome("g2", state: state, audit: [], completing: [], at: t0)
        #expect(try db.contact("g2").applied == state)
        let raw = try db.writer.read { try Row.fetchOne($0, sql: "SELECT fields, buckets, tags FROM contact") }
        #expect(raw?["buckets"] == "[1,2,3]")
        #expect(raw?["tags"] == #"{"5":true,"6":false}"#)
    }

    @Test func marksAreKeptAcrossAppliedStatesAndAudited() throws {
        let db = try LeadsyncDatabase.inMemory()
        try db.setMarkedCustomer("g3", true, at: t0, reason: "rule active-client")
        try db.recordOutcome("g3", state: AppliedState(calltoolsId: 9), audit: [], completing: [], at: t0)
        #expect(try db.contact("g3").markedCustomer)
        try db.setMarkedCustomer(
            "g3", false, at: Timestamp(milliseconds: t0.milliseconds + 1), reason: "leadsync mark-customer --undo")
        #expect(try !db.contact("g3").markedCustomer)
        #expect(
            try db.auditTrail("g3").map(\.summary) == [
                "marked a customer: rule active-client", "customer mark removed: leadsync mark-customer --undo",
            ])
    }

    @Test func auditTrailKeepsOrderAndDetail() throws {
        let db = try LeadsyncDatabase.inMemory()
        try db.recordOutcome(
            "g4", state: nil,
            audit: [
                AuditEntry(
                    at: t0, kind: .decision, summary: "buckets cold_leads by cold-lead",
                    detail: #"{"buckets":["cold_leads"]}"#),
                AuditEntry(at: t0, kind: .call, summary: "POST /api/contacts/ 201 12ms"),
            ], completing: [], at: t0)
        try db.recordOutcome(
            "g4", state: AppliedState(calltoolsId: 1),
            audit: [AuditEntry(at: t0, kind: .outcome, summary: "created 1")], completing: [], at: t0)
        let trail = try db.auditTrail("g4")
        #expect(trail.map(\.kind) == [.decision, .call, .outcome])
        #expect(trail[0].detail == #"{"buckets":["cold_leads"]}"#)
        #expect(try db.auditTrail("other").isEmpty)
    }

    @Test func resolvedIdsMergeOverTheRulesFileIds() throws {
        let db = try LeadsyncDatabase.inMemory()
        let rules = CompiledRules(
            buckets: [Bucket(name: "cold", reference: .id(11237)), Bucket(name: "vip", reference: .name("VIP"))],
            calltools: CallToolsSettings(), fields: [], exclusions: [], rules: [], onNoMatch: .remove, conditions: [],
            sourceHash: "")
        #expect(try db.resolution(for: rules) == Resolution(buckets: ["cold": 11237]))
        try db.saveResolution(buckets: ["vip": 900, "cold": 1], tags: ["ACA Cold lead": 7, "Gone": nil], at: t0)
        // An id written in the rules file wins over anything cached for that name.
        #expect(
            try db.resolution(for: rules)
                == Resolution(buckets: ["cold": 11237, "vip": 900], tags: ["aca cold lead": 7, "gone": Int?.none]))
    }

    @Test func anInterruptedRunIsFoundAfterAReopen() throws {
        do {
            let db = try LeadsyncDatabase.open(path: path)
            let finished = try db.startRun(mode: "full", at: t0)
            try db.finishRun(finished, status: .finished, counts: ["contacts": 10], at: t0)
            let id = try db.startRun(mode: "full", at: t0)
            try db.checkpoint(run: id, cursor: #"[1700000000000,"abc"]"#, counts: ["contacts": 500, "created": 3])
        }
        let db = try LeadsyncDatabase.open(path: path)
        let run = try #require(try db.interruptedRun(mode: "full"))
        #expect(run.id == 2)
        #expect(run.checkpoint == #"[1700000000000,"abc"]"#)
        #expect(run.counts == ["contacts": 500, "created": 3])
        #expect(try db.interruptedRun(mode: "incremental") == nil)
        try? FileManager.default.removeItem(atPath: dir)
    }

    @Test func statsCountContactsMarksAndBuckets() throws {
        let db = try LeadsyncDatabase.inMemory()
        try db.recordOutcome(
            "a", state: AppliedState(calltoolsId: 1, buckets: [11237]), audit: [], completing: [], at: t0)
        try db.recordOutcome(
            "b", state: AppliedState(calltoolsId: 2, buckets: [11237, 11252]), audit: [], completing: [], at: t0)
        try db.recordCreateIntent("c", at: t0)
        try db.setMarkedCustomer("b", true, at: t0, reason: "test")
        #expect(
            try db.stats()
                == StoreStats(
                    contacts: 3, inCallTools: 2, createPending: 1, markedCustomers: 1,
                    perBucket: [11237: 2, 11252: 1]))
    }

    @Test func anUnopenablePathIsOneClearError() {
        #expect {
            _ = try LeadsyncDatabase.open(path: "/nonexistent-dir/x/leadsync.sqlite")
        } throws: { error in
            let text = "\(error)"
            return text.hasPrefix("database: cannot open /nonexistent-dir/x/leadsync.sqlite:") && !text.contains("\n")
        }
    }

    /// `dry-run --db` opens read-only and migrates nothing: a file an older leadsync wrote (before
    /// the phone table and `seen_at`) still reads, with phones unknown.
    @Test func aReadOnlyOpenOfAnOlderFileStillReads() throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        do {
            let queue = try DatabaseQueue(path: path)
            try LeadsyncDatabase.migrator.migrate(queue, upTo: "v4")
            try queue.write { db in
                try db.execute(
                    sql: "INSERT INTO contact (ghl_id, calltools_id, buckets, updated_at) VALUES ('a', 7, '[11237]', 1)"
                )
            }
        }
        let db = try LeadsyncDatabase.openReadOnly(path: path)
        let a = try db.contact("a")
        #expect(a.applied.calltoolsId == 7)
        #expect(a.phone == nil)
        #expect(a.seenAt == nil)
        #expect(try db.phoneSiblings("+14155550100", except: "a").isEmpty)
        try? FileManager.default.removeItem(atPath: dir)
    }

    @Test func migrationsAreIdempotent() throws {
        _ = try LeadsyncDatabase.open(path: path)
        let db = try LeadsyncDatabase.open(path: path)
        let applied = try db.writer.read { try String.fetchAll($0, sql: "SELECT identifier FROM grdb_migrations") }
        #expect(applied == ["v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10"])
        try? FileManager.default.removeItem(atPath: dir)
    }
}
