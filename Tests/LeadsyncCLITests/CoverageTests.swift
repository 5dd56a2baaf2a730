import Foundation
import Testing

@testable import LeadsyncCLI

/// `test --coverage`: per rule and exclusion, the tests that reach it; an untested rule is named
/// at its line; `--min-coverage` fails the run below the bar.
@Suite struct CoverageTests {
    static let rules = """
        version: 1
        buckets:
          cold: 11237
          hot: 11300
        fields:
          mobile_phone_number: "{{ phone | e164 }}"
        exclusions:
          - name: dnc
            when: { field: dnd, equals: true }
        rules:
          - name: cold
            when: { tags: { has: cold lead } }
            bucket: cold
          - name: hot
            when: { tags: { has: hot } }
            bucket: hot
        tests:
          - name: a cold lead
            contact: { id: c1, phone: "+14155550100", tags: [cold lead] }
            expect: { buckets: [cold] }
          - name: a cold lead on do-not-call
            contact: { id: c2, phone: "+14155550101", tags: [cold lead], dnd: true }
            expect: { buckets: [] }
        """

    @Test func anUntestedRuleIsNamedAtItsLine() throws {
        let dir = try TempDir()
        let file = try dir.write("r.yaml", Self.rules)
        let r = capture { TestCommand.run(files: [file], now: fixedNow, coverage: true, console: $0) }
        #expect(r.code == 0, "\(r.err)")
        #expect(
            r.out.contains("rule cold                      applied in 1, blocked in 1, not matched in 0"), "\(r.out)")
        #expect(r.out.contains("exclusion dnc                  matched in 1, not in 1"))
        #expect(r.out.contains("\(file):14: not reached: no test makes rule 'hot' apply"), "\(r.out)")
        #expect(r.out.contains("2 of 3 rules and exclusions reached (66%)"))
        let bar = capture { TestCommand.run(files: [file], now: fixedNow, minCoverage: 80, console: $0) }
        #expect(bar.code == 1)
        #expect(bar.err.contains("coverage 66% is below --min-coverage 80%"))
        let met = capture { TestCommand.run(files: [file], now: fixedNow, minCoverage: 66, console: $0) }
        #expect(met.code == 0)
    }
}
