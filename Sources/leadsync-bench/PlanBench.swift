import Foundation
import LeadsyncCLI
import LeadsyncCore
import LeadsyncRules
import LeadsyncStore
import LeadsyncSync
import LeadsyncValues

/// `leadsync-bench plan-db --contacts N --db PATH`: a database of N generated contacts as a
/// pass under `rules/cold-leads.yaml` leaves it (their data, CallTools ids, buckets, phones), for
/// `scripts/bench-plan.sh` to time `leadsync plan` over.
enum PlanBench {
    static func seed(count: Int, dbPath: String, rulesPath: String) throws {
        let file = try RulesFile.load(rulesPath)
        guard let rules = file.rules else { throw CLIError("\(rulesPath) has errors") }
        try? FileManager.default.removeItem(atPath: dbPath)
        let store = try LeadsyncDatabase.open(path: dbPath)
        defer { store.close() }
        let engine = Engine(rules: rules)
        let now = Timestamp(iso8601: "2026-11-29T12:00:00Z")!
        // The bucket ids the rules name (ids, or placeholders for names), known to the store.
        var ids: [Int] = []
        for (i, b) in rules.buckets.enumerated() {
            if case .id(let id) = b.reference { ids.append(id) } else { ids.append(50_000 + i) }
        }
        var generator = ContactGenerator()
        let started = ContinuousClock.now
        var batch: [(ghlId: String, data: String, applied: AppliedState, phone: String?)] = []
        batch.reserveCapacity(5000)
        for i in 0..<count {
            let contact = try InboundContact.decode(generator.contactJSON(index: i)).contact
            let d = engine.evaluate(contact, state: ContactState(markedCustomer: i % 50 == 0), now: now)
            let phone = d.fields.first { $0.slug == rules.calltools.phoneField }?.value
            var applied = AppliedState.new
            if !d.buckets.isEmpty {
                applied = AppliedState(
                    calltoolsId: 1_000_000 + i, fields: [:], buckets: Set(d.buckets.map { ids[$0] }))
            }
            batch.append((contact.id, contact.snapshot, applied, phone))
            if batch.count == 5000 {
                try store.seedContacts(batch, at: now)
                batch.removeAll(keepingCapacity: true)
            }
        }
        if !batch.isEmpty { try store.seedContacts(batch, at: now) }
        try store.setLiveRules(
            path: rulesPath, hash: rules.sourceHash, text: try String(contentsOfFile: rulesPath, encoding: .utf8),
            at: now)
        let took = ContinuousClock.now - started
        print("seeded \(count) contacts into \(dbPath) in \(took)")
    }
}
