import LeadsyncCore
import LeadsyncValues

/// What deploying a rules file would do to the contacts already known: which move between bucket
/// sets, which rules and exclusions start or stop applying, and the calls it costs. Pure: the
/// caller feeds it every stored contact (`add`), in two passes when phones matter
/// (`notePhone` first, so an exclusion that matches one contact of a phone holds for the others,
/// as the executor applies it).
public struct RulesPlan: Sendable {
    public struct Move: Sendable, Equatable {
        public var from: [String]
        public var to: [String]
        public var count: Int
        /// A few contact ids, for a person to look at (`explain`).
        public var examples: [String]
    }

    /// The calls the next pass spends on the moves (and on any drift it finds), by kind.
    public struct Calls: Sendable, Equatable {
        /// `GET /api/buckets/` for bucket names the store has no id for.
        public var bucketLists = 0
        /// Tag look-ups (`GET /api/alltags/?name=`), and a create for each tag to add (counted
        /// whether or not CallTools has it: an upper bound of one call per tag).
        public var tagResolves = 0
        /// `GET /api/contacts/?phone_number=` before a create.
        public var lookups = 0
        /// `POST /api/contacts/`.
        public var creates = 0
        /// PATCHes that add or change something.
        public var patches = 0
        /// PATCHes that only take a contact out of buckets.
        public var removals = 0
        /// GHL tag write-backs (`POST` / `DELETE /contacts/{id}/tags`).
        public var ghlTagWrites = 0

        public var calltools: Int { bucketLists + tagResolves + lookups + creates + patches + removals }
        public init() {}
    }

    public let old: CompiledRules
    public let new: CompiledRules
    let oldEngine: Engine
    let newEngine: Engine
    let planner: Planner
    let now: Timestamp
    /// Bucket id → name, from the store and both files.
    let bucketNames: [Int: String]
    /// Bucket id → its index in each file (for `ContactState.buckets`), and the managed names.
    let oldIndex: [Int: Int]
    let newIndex: [Int: Int]
    let managed: Set<String>
    /// Names resolved (bucket lists and tags), so that plans made apart and merged count each once.
    var resolvedBuckets = Set<String>()
    /// Folded tag name → the calls its resolution cost.
    var resolvedTags: [String: Int] = [:]
    var resolution: Resolution
    var syntheticId = -1
    /// Phone → (contact, exclusion name) matched under each file, by-phone exclusions only.
    var oldPhoneMatches: [String: [(String, String)]] = [:]
    var newPhoneMatches: [String: [(String, String)]] = [:]

    public private(set) var contacts = 0
    public private(set) var unreadable = 0
    private var moveIndex: [String: Int] = [:]
    public private(set) var moves: [Move] = []
    /// Rules and exclusions that start or stop applying, counted by index.
    var changes: (rules: StartStop, exclusions: StartStop)
    public var rulesStarting: [String: Int] { changes.rules.starting }
    public var rulesStopping: [String: Int] { changes.rules.stopping }
    public var exclusionsStarting: [String: Int] { changes.exclusions.starting }
    public var exclusionsStopping: [String: Int] { changes.exclusions.stopping }
    public private(set) var calls = Calls()
    /// Every contact that changes buckets, when asked for (`collectMoved`; tests compare it
    /// with what a pass does).
    public private(set) var movedIds: [String]?
    public var collectMoved: Bool {
        get { movedIds != nil }
        set { movedIds = newValue ? (movedIds ?? []) : nil }
    }

    public init(
        old: CompiledRules, new: CompiledRules, now: Timestamp, knownBuckets: [String: Int], knownTags: [String: Int?]
    ) {
        self.old = old
        self.new = new
        changes = (
            StartStop(old: old.rules.map(\.name), new: new.rules.map(\.name)),
            StartStop(old: old.exclusions.map(\.name), new: new.exclusions.map(\.name))
        )
        oldEngine = Engine(rules: old)
        newEngine = Engine(rules: new)
        planner = Planner(rules: new)
        self.now = now
        var names: [Int: String] = [:]
        for (name, id) in knownBuckets { names[id] = name }
        for rules in [old, new] {
            for b in rules.buckets { if case .id(let id) = b.reference { names[id] = b.name } }
        }
        bucketNames = names
        func index(_ rules: CompiledRules) -> [Int: Int] {
            var out: [Int: Int] = [:]
            for (id, name) in names { if let i = rules.buckets.firstIndex(where: { $0.name == name }) { out[id] = i } }
            return out
        }
        oldIndex = index(old)
        newIndex = index(new)
        managed = Set(old.buckets.map(\.name)).union(new.buckets.map(\.name))
        var r = Resolution.initial(for: new)
        for (name, id) in knownBuckets where new.buckets.contains(where: { $0.name == name }) { r.buckets[name] = id }
        r.tags = knownTags
        resolution = r
    }

    /// First pass: the by-phone exclusions each contact matches under both files.
    public mutating func notePhone(_ contact: Contact, phone: String?, markedCustomer: Bool) {
        guard let phone else { return }
        func matches(_ rules: CompiledRules, _ engine: Engine) -> [(String, String)] {
            engine.evaluate(contact, state: ContactState(markedCustomer: markedCustomer), now: now, detail: [])
                .matchedExclusions
                .filter { rules.exclusions[$0].byPhone }.map { (contact.id, rules.exclusions[$0].name) }
        }
        oldPhoneMatches[phone, default: []] += matches(old, oldEngine)
        newPhoneMatches[phone, default: []] += matches(new, newEngine)
    }

    func phoneExclusions(
        _ rules: CompiledRules, _ matches: [String: [(String, String)]], phone: String?, id: String
    )
        -> [PhoneExclusion]
    {
        guard let phone, let list = matches[phone] else { return [] }
        return list.compactMap { other, name in
            guard other != id, let i = rules.exclusions.firstIndex(where: { $0.name == name }) else { return nil }
            return PhoneExclusion(exclusion: i, contactId: other)
        }
    }

    /// Second pass: one contact, as stored.
    public mutating func add(
        _ contact: Contact, applied: AppliedState, markedCustomer: Bool, phone: String?
    ) {
        contacts += 1
        func indexes(_ map: [Int: Int]) -> [Int] {
            applied.buckets.isEmpty ? [] : Set(applied.buckets.compactMap { map[$0] }).sorted()
        }
        let oldState = ContactState(
            markedCustomer: markedCustomer, buckets: indexes(oldIndex),
            phoneExclusions: phoneExclusions(old, oldPhoneMatches, phone: phone, id: contact.id))
        let newState = ContactState(
            markedCustomer: markedCustomer, buckets: indexes(newIndex),
            phoneExclusions: phoneExclusions(new, newPhoneMatches, phone: phone, id: contact.id))
        // Under the live rules only what applies matters (no fields, no trace).
        let before = oldEngine.evaluate(contact, state: oldState, now: now, detail: [])
        let after = newEngine.evaluate(contact, state: newState, now: now, detail: .fields)

        // Rules and exclusions that start or stop applying (matched by name across the files).
        changes.rules.count(before: before.applied, after: after.applied)
        changes.exclusions.count(before: before.excluded, after: after.excluded)

        // Where CallTools has it now (the managed buckets of either file) → where the new file puts it.
        let from = applied.buckets.compactMap { bucketNames[$0] }.filter(managed.contains).sorted()
        let to = after.keptCurrentBuckets ? from : Set(after.buckets.map { new.buckets[$0].name }).sorted()
        if from != to {
            movedIds?.append(contact.id)
            let key = from.joined(separator: "\u{1F}") + "\u{1E}" + to.joined(separator: "\u{1F}")
            if let i = moveIndex[key] {
                moves[i].count += 1
                if moves[i].examples.count < 3 { moves[i].examples.append(contact.id) }
            } else {
                moveIndex[key] = moves.count
                moves.append(Move(from: from, to: to, count: 1, examples: [contact.id]))
            }
        }
        cost(after, applied: applied, contact: contact)
    }

    /// The steps the executor would take for `decision`, counted (a look-up finds nothing).
    mutating func cost(_ decision: Decision, applied: AppliedState, contact: Contact) {
        var lookup: LookupResult?
        for _ in 0..<6 {
            switch planner.calltoolsStep(decision, applied: applied, resolution: resolution, lookup: lookup) {
            case .resolve(let buckets, let add, let remove):
                if !buckets.isEmpty {
                    if resolvedBuckets.isEmpty { calls.bucketLists += 1 }
                    for b in buckets {
                        resolvedBuckets.insert(b)
                        resolution.buckets[b] = syntheticId
                        syntheticId -= 1
                    }
                }
                // A tag to add is looked up, then created if CallTools lacks it (counted as both);
                // a tag to remove is only looked up.
                for (t, cost, id) in add.map({ ($0, 2, Int?.some(0)) }) + remove.map({ ($0, 1, Int?.none) }) {
                    let f = t.foldedForComparison
                    if resolvedTags[f] == nil {
                        resolvedTags[f] = cost
                        calls.tagResolves += cost
                    }
                    if id == nil {
                        resolution.tags[f] = .some(nil)
                    } else {
                        resolution.tags[f] = .some(syntheticId)
                        syntheticId -= 1
                    }
                }
                continue
            case .lookup:
                calls.lookups += 1
                lookup = .notFound
                continue
            case .create:
                calls.creates += 1
            case .update(_, let body):
                if body.fields.isEmpty && body.addBuckets.isEmpty && body.addTags.isEmpty && body.removeTags.isEmpty {
                    calls.removals += 1
                } else {
                    calls.patches += 1
                }
            case .nothing:
                break
            }
            break
        }
        let ghl = planner.ghlTagChanges(decision, currentTags: contact.tags)
        calls.ghlTagWrites += (ghl.add.isEmpty ? 0 : 1) + (ghl.remove.isEmpty ? 0 : 1)
    }

    /// Adds what `other` (the same plan, made over other contacts) found: how a plan is made on
    /// several cores. Examples stay the smallest ids, so the result is the same however split.
    public mutating func merge(_ other: RulesPlan) {
        contacts += other.contacts
        unreadable += other.unreadable
        for m in other.moves {
            let key = m.from.joined(separator: "\u{1F}") + "\u{1E}" + m.to.joined(separator: "\u{1F}")
            if let i = moveIndex[key] {
                moves[i].count += m.count
                moves[i].examples = Array((moves[i].examples + m.examples).sorted().prefix(3))
            } else {
                moveIndex[key] = moves.count
                moves.append(m)
            }
        }
        changes.rules.add(other.changes.rules)
        changes.exclusions.add(other.changes.exclusions)
        let c = other.calls
        calls.lookups += c.lookups
        calls.creates += c.creates
        calls.patches += c.patches
        calls.removals += c.removals
        calls.ghlTagWrites += c.ghlTagWrites
        // Names resolved on both sides are resolved once.
        if !other.resolvedBuckets.isEmpty, resolvedBuckets.isEmpty { calls.bucketLists += other.calls.bucketLists }
        for (t, n) in other.resolvedTags where resolvedTags[t] == nil {
            calls.tagResolves += n
            resolvedTags[t] = n
        }
        resolvedBuckets.formUnion(other.resolvedBuckets)
        if let ids = other.movedIds { movedIds = (movedIds ?? []) + ids }
    }

    /// A stored snapshot that could not be read.
    public mutating func skipUnreadable() { unreadable += 1 }

    /// Contacts that change bucket sets.
    public var moved: Int { moves.reduce(0) { $0 + $1.count } }
}

/// Which named items (rules, or exclusions) of two files start or stop applying, counted by
/// index without building a set of names per contact.
struct StartStop: Sendable {
    let oldNames: [String]
    let newNames: [String]
    /// Old index → new index of the same name, or -1; and the reverse.
    let oldToNew: [Int]
    let newToOld: [Int]
    /// The same names in the same order: equal sets mean nothing started or stopped.
    let sameNames: Bool
    var startingCounts: [Int]
    var stoppingCounts: [Int]

    init(old: [String], new: [String]) {
        sameNames = old == new
        oldNames = old
        newNames = new
        oldToNew = old.map { name in new.firstIndex(of: name) ?? -1 }
        newToOld = new.map { name in old.firstIndex(of: name) ?? -1 }
        startingCounts = [Int](repeating: 0, count: new.count)
        stoppingCounts = [Int](repeating: 0, count: old.count)
    }

    mutating func count(before: IndexBits, after: IndexBits) {
        if sameNames && before == after { return }
        for n in after.indexes where newToOld[n] < 0 || !before.contains(newToOld[n]) { startingCounts[n] += 1 }
        for o in before.indexes where oldToNew[o] < 0 || !after.contains(oldToNew[o]) { stoppingCounts[o] += 1 }
    }

    mutating func add(_ other: StartStop) {
        for i in startingCounts.indices { startingCounts[i] += other.startingCounts[i] }
        for i in stoppingCounts.indices { stoppingCounts[i] += other.stoppingCounts[i] }
    }

    var starting: [String: Int] {
        var out: [String: Int] = [:]
        for (i, n) in startingCounts.enumerated() where n > 0 { out[newNames[i]] = n }
        return out
    }

    var stopping: [String: Int] {
        var out: [String: Int] = [:]
        for (i, n) in stoppingCounts.enumerated() where n > 0 { out[oldNames[i]] = n }
        return out
    }
}
