import Foundation
import GRDB
import LeadsyncSync
import LeadsyncValues
import Testing

@testable import LeadsyncStore

/// The operator page's reads: search by id, phone and name or email, whatever wrote the data.
@Suite struct BrowseTests {
    let t0 = Timestamp(iso8601: "2026-12-01T12:00:00Z")!

    func data(_ json: String) -> (text: String, hash: Int64) {
        // cannot fail: the tests' own JSON
        let contact = try! InboundContact.decode(try! JSONParser.parse(json)).contact
        return (contact.snapshot, Contact.snapshotHash(contact.snapshot))
    }

    @Test func searchFindsByIdPhoneNameAndEmail() throws {
        let db = try LeadsyncDatabase.inMemory()
        try db.recordOutcome(
            "ana-1", state: AppliedState(calltoolsId: 7, fields: [:], buckets: [11237]), audit: [], completing: [],
            phone: .some(PhoneRecord(phone: "+14155550132", exclusions: [], complete: true)),
            data: data(#"{"id":"ana-1","firstName":"Ana","lastName":"Lima","email":"Ana@Example.com"}"#), at: t0)
        try db.recordOutcome(
            "bob-2", state: nil, audit: [], completing: [],
            data: data(#"{"id":"bob-2","firstName":"Bob","lastName":"Reis_50%"}"#), at: t0)
        func ids(_ q: String) throws -> [String] { try db.searchContacts(q).map(\.ghlId) }
        #expect(try ids("ana-1") == ["ana-1"])
        #expect(try ids("ana") == ["ana-1"])  // an id prefix
        #expect(try ids("555-0132") == ["ana-1"])
        #expect(try ids("ana lima") == ["ana-1"])
        #expect(try ids("LIMA Ana") == ["ana-1"])
        #expect(try ids("example.com") == ["ana-1"])
        #expect(try ids("reis_50%") == ["bob-2"])
        #expect(try ids("s_50") == ["bob-2"])
        #expect(try ids("_") == [])  // LIKE's wildcards are taken literally
        #expect(try ids("   ").isEmpty && ids("nobody").isEmpty)
        let hit = try #require(try db.searchContacts("ana lima").first)
        #expect(hit.name == "Ana Lima" && hit.phone == "+14155550132" && hit.buckets == [11237])

        // New data replaces the old in the search.
        try db.recordOutcome(
            "ana-1", state: nil, audit: [], completing: [],
            data: data(#"{"id":"ana-1","firstName":"Ana","lastName":"Souza"}"#), at: t0)
        #expect(try ids("lima").isEmpty && ids("souza") == ["ana-1"])
        #expect(try db.recentContacts(limit: 1).map(\.ghlId).count == 1)
    }

    /// A database written before the search table existed gets it filled when it migrates.
    @Test func theMigrationFillsTheSearchFromStoredData() throws {
        let queue = try DatabaseQueue()
        var migrator = LeadsyncDatabase.migrator
        try migrator.migrate(queue, upTo: "v7")
        try queue.write { db in
            try db.execute(
                sql: "INSERT INTO contact_data (ghl_id, data, hash, updated_at) VALUES (?, ?, 0, 0), (?, ?, 0, 0)",
                arguments: [
                    "old-1", data(#"{"id":"old-1","firstName":"Olga","email":"olga@x.io"}"#).text, "bad", "{nope",
                ])
        }
        migrator = LeadsyncDatabase.migrator
        try migrator.migrate(queue)
        let rows = try queue.read {
            try Row.fetchAll($0, sql: "SELECT ghl_id, text FROM contact_search ORDER BY ghl_id")
        }
        #expect(rows.map { $0["ghl_id"] as String } == ["bad", "old-1"])
        #expect(rows.map { $0["text"] as String } == ["", "olga   olga@x.io "])
    }
}
