import Foundation
import LeadsyncCore
import LeadsyncStore
import LeadsyncValues
import Testing

@testable import LeadsyncCLI

/// `leadsync replay`, `stats` and `explain` over the server's inbox.
@Suite struct ReplayCommandTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("leadsync-replay-\(UUID().uuidString)").path
    var db: String { dir + "/l.sqlite" }
    let t0 = Timestamp(milliseconds: 1_800_000_000_000)

    func seeded() async throws -> LeadsyncDatabase {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let store = try LeadsyncDatabase.open(path: db)
        _ = try await store.enqueue(
            [
                NewInboxEvent(
                    webhookId: "a", contactId: "c1", eventType: "ContactTagUpdate", source: "marketplace", body: "{}"),
                NewInboxEvent(
                    webhookId: "b", contactId: "c2", eventType: "ContactUpdate", source: "marketplace", body: "{}"),
            ], at: t0)
        let seqs =
            try store.pendingInboxEvents(contact: "c1").map(\.seq) + store.pendingInboxEvents(contact: "c2").map(\.seq)
        try store.failInboxEvents(
            seqs, error: "calltools POST /api/contacts/: HTTP 400", permanent: true, retryAt: t0, maxAttempts: 5, at: t0
        )
        return store
    }

    @Test func listsRequeuesOneThenTheRest() async throws {
        let store = try await seeded()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let list = capture { StoreCommands.replay(seq: nil, since: nil, list: true, dbPath: db, now: t0, console: $0) }
        #expect(list.code == 0)
        #expect(list.out.contains("c1  ContactTagUpdate  1 attempt(s)  calltools POST /api/contacts/: HTTP 400"))
        let stats = capture { StoreCommands.stats(dbPath: db, json: true, console: $0) }
        #expect(stats.out.contains(#""queue_depth":0,"held_for_upstream":0,"backlog_contacts":0,"dead_letters":2"#))
        let explain = capture { StoreCommands.explain("c1", dbPath: db, console: $0) }
        #expect(explain.code == 0)
        #expect(
            explain.out.contains("ContactTagUpdate dead, 1 failed attempt(s): calltools POST /api/contacts/: HTTP 400"))

        let seq = try #require(try store.deadLetters().first?.seq)
        let one = capture { StoreCommands.replay(seq: seq, since: nil, list: false, dbPath: db, now: t0, console: $0) }
        #expect(one.out.contains("requeued 1 dead letter(s)"))
        let again = capture {
            StoreCommands.replay(seq: seq, since: nil, list: false, dbPath: db, now: t0, console: $0)
        }
        #expect(again.code == 1)
        #expect(again.err == "leadsync: event \(seq) is not a dead letter (see 'leadsync replay --list')\n")
        let rest = capture { StoreCommands.replay(seq: nil, since: nil, list: false, dbPath: db, now: t0, console: $0) }
        #expect(rest.out.contains("requeued 1 dead letter(s)"))
        #expect(try store.inboxCounts().pending == 2)
    }
}
