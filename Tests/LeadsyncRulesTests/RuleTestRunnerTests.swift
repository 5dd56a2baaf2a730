import LeadsyncCore
import LeadsyncValues
import Testing

@testable import LeadsyncRules

@Suite struct RuleTestRunnerTests {
    static let source = """
        version: 1
        buckets: { cold: 1 }
        exclusions:
          - name: customer
            when: { tags: { has: customer } }
        rules:
          - name: cold
            when: { all: [{ tags: { has: cold } }, { field: dateAdded, newer_than: 30d }] }
            bucket: cold
            calltools_tags: { add: [Cold] }
        on_no_match: keep
        tests:
          - name: passes
            contact: { id: a, tags: [cold], dateAdded: "2026-11-20T00:00:00Z" }
            now: "2026-11-29T00:00:00Z"
            expect: { buckets: [cold], rules: [cold], excluded_by: [], calltools_tags: { add: [cold] }, marked_customer: false }
          - name: fails on every expectation
            webhook: { type: ContactTagUpdate, locationId: l, id: b, tags: [cold, customer], dateAdded: "2026-11-20T00:00:00Z" }
            now: "2026-11-29T00:00:00Z"
            state: { marked_customer: true, buckets: [cold] }
            expect:
              buckets: [cold]
              rules: [cold]
              excluded_by: []
              fields: { x: "1" }
              calltools_tags: { add: [Cold] }
              ghl_tags: { remove: [y] }
              marked_customer: false
          - name: from a file
            file: contact.json
            expect: { buckets: [] }
        """

    @Test func runsAndReportsEveryMismatch() throws {
        let doc = RulesCompiler.compile(source: Self.source, file: "t.yaml")
        let rules = try #require(doc.rules)
        #expect(doc.tests.map(\.name) == ["passes", "fails on every expectation", "from a file"])
        #expect(doc.tests.map(\.line) == [13, 17, 29])
        let runner = RuleTestRunner(rules: rules, defaultNow: testNow) { test in
            guard case .file(let path) = test.input else { return .null }
            #expect(path == "contact.json")
            return try JSONParser.parse(#"{"id":"f","tags":["cold"],"dateAdded":"2020-01-01"}"#)
        }
        let results = doc.tests.map(runner.run)
        #expect(results[0].passed)
        #expect(
            results[1].failures == [
                "buckets: expected [cold], got []",
                "rules: expected [cold], got []",
                "excluded_by: expected [], got [customer, marked-customer]",
                "fields.x: expected \"1\", got nothing (left out)",
                "calltools_tags: expected add [Cold] remove [], got add [] remove []",
                "ghl_tags: expected add [] remove [y], got add [] remove []",
                "marked_customer: expected false, got true",
            ])
        #expect(results[2].passed)
    }

    @Test func testsFileIsCheckedAgainstTheRules() throws {
        let rules = try #require(RulesCompiler.compile(source: Self.source, file: "t.yaml").rules)
        let (tests, diagnostics) = RulesCompiler.compileTests(
            source: """
                tests:
                  - name: a
                    contact: { id: a }
                    expect: { buckets: [colt], rules: [hot], excluded_by: [customers] }
                  - name: b
                    expect: { buckets: [] }
                  - name: a
                    contact: { id: a }
                    webhook: { id: b }
                    expect: {}
                  - name: c
                    contact: { firstName: x }
                    expect: { buckets: [] }
                """, file: "t.tests.yaml", against: rules)
        #expect(tests.map(\.name) == ["a"])
        #expect(
            diagnostics.map { "\($0.code.rawValue) \($0.line):\($0.column)" } == [
                "unknown-bucket 4:25", "unknown-rule 4:40", "unknown-exclusion 4:60", "missing-key 5:5", "bad-test 7:5",
                "duplicate-name 7:11", "bad-test 10:13", "bad-test 12:14",
            ])
        #expect(diagnostics[0].message == "unknown bucket 'colt'; did you mean 'cold'?")
        #expect(diagnostics.last?.message == "test 'c': contact is not usable: no contact id ('id')")
    }
}
