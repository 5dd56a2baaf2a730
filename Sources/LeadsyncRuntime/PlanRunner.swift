import Dispatch
import Foundation
import LeadsyncCore
import LeadsyncStore
import LeadsyncSync
import LeadsyncValues
import Synchronization

/// `leadsync plan` and `POST /rules/plan`: a rules file evaluated over every stored contact
/// beside the live one, two streaming passes over the store (phones, then contacts), memory flat
/// in the number of contacts (only by-phone exclusion matches are kept between the passes).
public enum PlanRunner {
    /// One core's plan: each `concurrentPerform` iteration touches only its own slot.
    final class Slot: @unchecked Sendable {
        var plan: RulesPlan
        init(_ plan: RulesPlan) { self.plan = plan }
    }

    /// The stored contacts in small chunks, for every core to take from. The next batch is read
    /// ahead on its own thread while the cores plan this one, so no core waits for the database
    /// at a batch boundary (reading is about a tenth of the work).
    final class Feed: @unchecked Sendable {
        struct State {
            var pending: ArraySlice<PlannedContact> = []
            var exhausted = false
            var error: StoreError?
        }
        let store: LeadsyncDatabase
        let state = Mutex(State())
        /// The batch being read ahead, and the id after which it starts (nil: nothing left).
        private var ahead: Result<[PlannedContact], StoreError> = .success([])
        private let aheadDone = DispatchSemaphore(value: 0)
        private let reader = DispatchQueue(label: "leadsync.plan.read")
        static let batchSize = 4000
        static let chunkSize = 200

        init(store: LeadsyncDatabase) {
            self.store = store
            readAhead(after: "")
        }

        private func readAhead(after: String) {
            reader.async {
                self.ahead = Result { () throws(StoreError) -> [PlannedContact] in
                    try self.store.plannedContacts(after: after, limit: Self.batchSize)
                }
                self.aheadDone.signal()
            }
        }

        func next() -> ArraySlice<PlannedContact>? {
            state.withLock { s -> ArraySlice<PlannedContact>? in
                if s.pending.isEmpty {
                    guard !s.exhausted else { return nil }
                    aheadDone.wait()
                    switch ahead {
                    case .failure(let error):
                        s.error = error
                        s.exhausted = true
                        return nil
                    case .success(let batch):
                        s.pending = batch[...]
                        if batch.count == Self.batchSize {
                            readAhead(after: batch[batch.count - 1].ghlId)
                        } else {
                            s.exhausted = true
                        }
                    }
                    if s.pending.isEmpty { return nil }
                }
                let chunk = s.pending.prefix(Self.chunkSize)
                s.pending = s.pending.dropFirst(Self.chunkSize)
                return chunk
            }
        }
    }

    public static func run(
        old: CompiledRules, new: CompiledRules, store: LeadsyncDatabase, now: Timestamp, collectMoved: Bool = false
    ) throws(StoreError) -> RulesPlan {
        let known = try store.knownIds()
        var plan = RulesPlan(old: old, new: new, now: now, knownBuckets: known.buckets, knownTags: known.tags)
        plan.collectMoved = collectMoved
        // First, the contacts whose phone another contact shares: their by-phone exclusions hold
        // for the others (usually few; none of the rest is parsed or evaluated twice).
        let shared = try store.sharedPhones()
        if !shared.isEmpty {
            try store.forEachPlannedContact { batch in
                for c in batch {
                    guard let phone = c.phone, shared.contains(phone), let contact = Contact(snapshot: c.data) else {
                        continue
                    }
                    plan.notePhone(contact, phone: phone, markedCustomer: c.markedCustomer)
                }
                return true
            }
        }
        // Then every contact: a plan per core, each taking chunks from one feed, merged at the end.
        let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8))
        let slots = (0..<workers).map { _ in Slot(plan) }
        let feed = Feed(store: store)
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let slot = slots[w]
            while let chunk = feed.next() {
                for c in chunk {
                    guard let contact = Contact(snapshot: c.data) else {
                        slot.plan.skipUnreadable()
                        continue
                    }
                    slot.plan.add(contact, applied: c.applied, markedCustomer: c.markedCustomer, phone: c.phone)
                }
            }
        }
        if let error = feed.state.withLock({ $0.error }) { throw error }
        var merged = slots[0].plan
        for slot in slots.dropFirst() { merged.merge(slot.plan) }
        return merged
    }

    /// Outbound budgets, `(requests, seconds)` as `*_RATE_LIMIT` gives them.
    public struct Budgets: Sendable {
        public var calltools: (Int, Double)
        public var ghl: (Int, Double)
        public init(calltools: (Int, Double) = (1000, 3600), ghl: (Int, Double) = (100, 10)) {
            self.calltools = calltools
            self.ghl = ghl
        }

        /// Seconds `calls` take at `rate` (what the budget holds at once goes at once).
        public static func seconds(_ calls: Int, _ rate: (Int, Double)) -> Double {
            guard calls > rate.0 else { return 0 }
            return Double(calls - rate.0) * rate.1 / Double(max(rate.0, 1))
        }
    }

    /// "10 h 3 min", "42 s".
    public static func duration(_ seconds: Double) -> String {
        // cannot trap: clamped to a century of seconds
        let s = Int(min(max(seconds, 0), 3.2e9).rounded(.up))
        if s < 60 { return "\(s) s" }
        if s < 3600 { return "\(s / 60) min \(s % 60) s" }
        return "\(s / 3600) h \(s % 3600 / 60) min"
    }

    /// The plan as JSON (stable key order: tests compare it).
    public static func json(_ plan: RulesPlan, budgets: Budgets, oldHash: String) -> JSON {
        var o = JSONObject()
        o["against"] = .string(oldHash)
        o["rules"] = .string(plan.new.sourceHash)
        o["contacts"] = .number(Double(plan.contacts))
        if plan.unreadable > 0 { o["unreadable"] = .number(Double(plan.unreadable)) }
        o["moved"] = .number(Double(plan.moved))
        o["moves"] = .array(
            plan.moves.sorted {
                ($0.count, $1.from.joined(), $1.to.joined()) > ($1.count, $0.from.joined(), $0.to.joined())
            }
            .map { m in
                .object(
                    JSONObject([
                        "from": .array(m.from.map(JSON.string)), "to": .array(m.to.map(JSON.string)),
                        "count": .number(Double(m.count)), "examples": .array(m.examples.map(JSON.string)),
                    ]))
            })
        func counts(_ d: [String: Int]) -> JSON {
            var c = JSONObject()
            for (k, v) in d.sorted(by: { $0.key < $1.key }) { c[k] = .number(Double(v)) }
            return .object(c)
        }
        o["rules_starting"] = counts(plan.rulesStarting)
        o["rules_stopping"] = counts(plan.rulesStopping)
        o["exclusions_starting"] = counts(plan.exclusionsStarting)
        o["exclusions_stopping"] = counts(plan.exclusionsStopping)
        let c = plan.calls
        var calls = JSONObject()
        calls["bucket_lists"] = .number(Double(c.bucketLists))
        calls["tag_resolves"] = .number(Double(c.tagResolves))
        calls["lookups"] = .number(Double(c.lookups))
        calls["creates"] = .number(Double(c.creates))
        calls["patches"] = .number(Double(c.patches))
        calls["removals"] = .number(Double(c.removals))
        calls["calltools_total"] = .number(Double(c.calltools))
        calls["ghl_tag_writes"] = .number(Double(c.ghlTagWrites))
        o["calls"] = .object(calls)
        o["calltools_seconds"] = .number(Budgets.seconds(c.calltools, budgets.calltools).rounded(.up))
        o["ghl_seconds"] = .number(Budgets.seconds(c.ghlTagWrites, budgets.ghl).rounded(.up))
        return .object(o)
    }

    /// The plan for a person.
    public static func text(_ plan: RulesPlan, budgets: Budgets, oldName: String) -> [String] {
        var lines: [String] = []
        lines.append(
            "\(plan.contacts) contacts evaluated under \(oldName) and the new rules; \(plan.moved) change buckets")
        if plan.unreadable > 0 { lines.append("  \(plan.unreadable) stored contacts could not be read (skipped)") }
        func set(_ names: [String]) -> String { names.isEmpty ? "(none)" : names.joined(separator: ", ") }
        for m in plan.moves.sorted(by: { $0.count > $1.count }) {
            lines.append(
                "  \(String(m.count).leftPadded(to: 7)) \(set(m.from)) → \(set(m.to))   e.g. \(m.examples.joined(separator: ", "))"
            )
        }
        func deltas(_ title: String, _ d: [String: Int]) {
            for (k, v) in d.sorted(by: { $0.key < $1.key }) { lines.append("  \(title) \(k): \(v)") }
        }
        deltas("rule starts applying", plan.rulesStarting)
        deltas("rule stops applying", plan.rulesStopping)
        deltas("exclusion starts matching", plan.exclusionsStarting)
        deltas("exclusion stops matching", plan.exclusionsStopping)
        let c = plan.calls
        lines.append(
            "cost: \(c.calltools) CallTools calls (\(c.creates) creates after \(c.lookups) look-ups, \(c.patches) PATCHes, "
                + "\(c.removals) removals, \(c.bucketLists + c.tagResolves) id look-ups), \(c.ghlTagWrites) GHL tag writes"
        )
        let ct = Budgets.seconds(c.calltools, budgets.calltools)
        let rate = "\(budgets.calltools.0) per \(duration(budgets.calltools.1))"
        lines.append(
            (ct == 0
                ? "time: at once (the CallTools budget, \(rate), holds \(c.calltools) calls)"
                : "time: \(duration(ct)) for CallTools at \(rate)")
                + (c.ghlTagWrites > 0 ? "; \(duration(Budgets.seconds(c.ghlTagWrites, budgets.ghl))) for GHL" : ""))
        return lines
    }
}
