import LeadsyncCore
import LeadsyncValues

/// The result of one rule test.
public struct RuleTestResult: Sendable {
    public var test: RuleTestCase
    /// One line per mismatch: `buckets: expected [a], got [b]`. Empty when the test passed.
    public var failures: [String]
    public var decision: Decision?
    public var passed: Bool { failures.isEmpty }
}

/// Runs `tests:` against compiled rules. Pure but for `loadFile`, which the caller supplies.
public struct RuleTestRunner {
    public var rules: CompiledRules
    /// Evaluation time for tests without `now:`.
    public var defaultNow: Timestamp
    /// Reads a `file:` input (path already resolved by the caller).
    public var loadFile: (RuleTestCase) throws -> JSON

    public init(rules: CompiledRules, defaultNow: Timestamp, loadFile: @escaping (RuleTestCase) throws -> JSON) {
        self.rules = rules
        self.defaultNow = defaultNow
        self.loadFile = loadFile
    }

    public func run(_ test: RuleTestCase) -> RuleTestResult {
        let json: JSON
        switch test.input {
        case .contact(let j), .webhook(let j): json = j
        case .file:
            do {
                json = try loadFile(test)
            } catch {
                return RuleTestResult(test: test, failures: ["input: \(error)"], decision: nil)
            }
        }
        let inbound: InboundContact
        do {
            inbound = try InboundContact.decode(json, defaultEventType: "manual")
        } catch {
            return RuleTestResult(test: test, failures: ["input: \(error.message)"], decision: nil)
        }
        let state = ContactState(
            markedCustomer: test.markedCustomer,
            buckets: test.currentBuckets.compactMap(rules.bucketIndex(named:)))
        let decision = Engine(rules: rules).evaluate(
            inbound.contact, state: state, now: test.now ?? defaultNow,
            deleted: inbound.deleted)
        return RuleTestResult(test: test, failures: compare(test.expect, decision), decision: decision)
    }

    func compare(_ expect: RuleTestCase.Expectation, _ d: Decision) -> [String] {
        var failures: [String] = []
        func list(_ items: [String]) -> String { "[\(items.joined(separator: ", "))]" }
        if let want = expect.buckets {
            let got = d.buckets.map { rules.buckets[$0].name }
            if Set(want) != Set(got) {
                failures.append("buckets: expected \(list(want.sorted())), got \(list(got.sorted()))")
            }
        }
        if let want = expect.rules {
            let got = d.appliedRules.map { rules.rules[$0].name }
            if want != got { failures.append("rules: expected \(list(want)), got \(list(got))") }
        }
        if let want = expect.excludedBy {
            let got = d.matchedExclusions.map { rules.exclusions[$0].name }
            if Set(want) != Set(got) {
                failures.append("excluded_by: expected \(list(want.sorted())), got \(list(got.sorted()))")
            }
        }
        if let want = expect.fields {
            for f in want {
                let got = d.fields.first { $0.slug == f.slug }?.value
                if got != f.value {
                    failures.append(
                        "fields.\(f.slug): expected \"\(f.value)\", got \(got.map { "\"\($0)\"" } ?? "nothing (left out)")"
                    )
                }
            }
        }
        func tags(_ what: String, _ want: TagChanges?, _ got: TagChanges) {
            guard let want else { return }
            let fold = { (l: [String]) in Set(l.map(\.foldedForComparison)) }
            if fold(want.add) != fold(got.add) || fold(want.remove) != fold(got.remove) {
                failures.append(
                    "\(what): expected add \(list(want.add)) remove \(list(want.remove)), "
                        + "got add \(list(got.add)) remove \(list(got.remove))")
            }
        }
        tags("calltools_tags", expect.calltoolsTags, d.calltoolsTags)
        tags("ghl_tags", expect.ghlTags, d.ghlTags)
        if let want = expect.markedCustomer, want != d.markedCustomer {
            failures.append("marked_customer: expected \(want), got \(d.markedCustomer)")
        }
        return failures
    }
}
