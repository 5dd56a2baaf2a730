import LeadsyncCore
import LeadsyncValues
import Testing

@testable import LeadsyncRules

/// A number from input never stops the process: `"dateAdded": 1e300` used to be an illegal
/// instruction in `Engine.timestamp`, which killed `dry-run` and, under `serve`, the server on
/// every restart. Such a value is no date: a date condition on it is false, as for a missing one.
@Suite struct HostileNumberTests {
    static let dateRules = """
        version: 1
        buckets:
          b: 1
        rules:
          - name: old
            when:
              any:
                - { field: dateAdded, older_than: 30d }
                - { field: dateUpdated, newer_than: 30d }
                - { field: customFields.last_call, older_than: 1d }
            bucket: b
        """

    @Test(arguments: [
        "1e300", "-1e300", "1.7976931348623157e308", "-9223372036854775808", "9223372036854775807",
        "1e15", "-1e15", "123456789012345678901234567890",
    ])
    func aDateFarOutsideTimeIsNoDate(_ number: String) throws {
        let rules = try compileOK(Self.dateRules)
        let c = try contact(
            #"{"id":"h1","dateAdded":\#(number),"dateUpdated":\#(number),"customFields":[{"key":"last_call","value":\#(number)}]}"#
        )
        let decision = Engine(rules: rules).evaluate(c, now: testNow)
        #expect(decision.buckets.isEmpty)
    }

    @Test func aDateInRangeStillCounts() throws {
        let rules = try compileOK(Self.dateRules)
        let c = try contact(#"{"id":"h2","dateAdded":1600000000000}"#)
        #expect(Engine(rules: rules).evaluate(c, now: testNow).buckets == [0])
    }

    @Test func epochMillisecondsAreBounded() {
        #expect(Timestamp(epochMilliseconds: 1e300) == nil)
        #expect(Timestamp(epochMilliseconds: .infinity) == nil)
        #expect(Timestamp(epochMilliseconds: .nan) == nil)
        #expect(Timestamp(epochMilliseconds: 1_700_000_000_123.9)?.milliseconds == 1_700_000_000_123)
        #expect(Timestamp(epochMilliseconds: -1_000)?.milliseconds == -1_000)
    }

    /// A duration near Int64's range compiles (or is refused) without overflow, and evaluates.
    @Test func aHugeDurationDoesNotOverflow() throws {
        let source = rulesFile(condition: "{ field: dateAdded, older_than: 106751991167d }")
        let doc = RulesCompiler.compile(source: source, file: "t.yaml")
        if let rules = doc.rules {
            let c = try contact(#"{"id":"h3","dateAdded":"2020-01-01"}"#)
            #expect(Engine(rules: rules).evaluate(c, now: testNow).buckets.isEmpty)
        }
        let bigger = rulesFile(condition: "{ field: dateAdded, older_than: 99999999999999999999d }")
        #expect(RulesCompiler.compile(source: bigger, file: "t.yaml").rules == nil)
    }
}
