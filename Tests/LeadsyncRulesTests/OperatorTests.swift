import Foundation
import LeadsyncCore
import LeadsyncValues
import Testing

@testable import LeadsyncRules

/// Every condition operator of rules-v1.md §4, table-driven: condition, contact, expected.
@Suite struct OperatorTests {
    static let ana = #"""
        {"id":"c1","firstName":"Ana","lastName":"Silva","email":"Ana@Example.com","phone":"+14155550132",
         "tags":[" Cold Lead ","VIP","newsletter-2026"],"dnd":false,"city":"Lisbon","country":"PT",
         "dndSettings":{"Call":{"status":"active"},"SMS":{"status":"inactive"}},"source":"Facebook Ads",
         "dateAdded":"2026-08-01T00:00:00Z","dateUpdated":"2026-11-29T11:30:00Z",
         "customFields":[{"id":"f1","key":"contact.lead_score","value":87},{"id":"f2","key":"contact.plan","value":"Gold"},
                         {"id":"f3","key":"contact.score_text","value":"12.5"}]}
        """#

    static let cases: [(String, Bool)] = [
        // tags
        (#"{ tags: { has: "cold lead" } }"#, true),
        (#"{ tags: { has: "COLD LEAD  " } }"#, true),
        (#"{ tags: { has: cold } }"#, false),
        (#"{ tags: { any_of: [x, vip] } }"#, true),
        (#"{ tags: { any_of: [x, y] } }"#, false),
        (#"{ tags: { all_of: [vip, cold lead] } }"#, true),
        (#"{ tags: { all_of: [vip, x] } }"#, false),
        (#"{ tags: { none_of: [x, y] } }"#, true),
        (#"{ tags: { none_of: [x, Vip] } }"#, false),
        (#"{ tags: { any_contains: [old, zzz] } }"#, true),
        (#"{ tags: { any_contains: [zzz] } }"#, false),
        (#"{ tags: { any_contains: "LEAD" } }"#, true),
        (#"{ tags: { any_matches: '^newsletter-\d{4}$' } }"#, true),
        (#"{ tags: { any_matches: 'Cold' } }"#, false),
        (#"{ tags: { any_matches: '^cold' } }"#, true),
        (#"{ tags: { count: { gte: 3 } } }"#, true),
        (#"{ tags: { count: { gt: 3 } } }"#, false),
        (#"{ tags: { count: { eq: 3 } } }"#, true),
        (#"{ tags: { count: { lt: 1 } } }"#, false),
        (#"{ tags: { count: { lte: 3 } } }"#, true),
        // equals / not_equals
        (#"{ field: firstName, equals: ana }"#, true),
        (#"{ field: firstName, equals: ana, case_sensitive: true }"#, false),
        (#"{ field: firstName, equals: Ana, case_sensitive: true }"#, true),
        (#"{ field: firstName, not_equals: Bob }"#, true),
        (#"{ field: firstName, not_equals: ANA }"#, false),
        (#"{ field: companyName, not_equals: x }"#, true),
        (#"{ field: dnd, equals: false }"#, true),
        (#"{ field: dnd, equals: true }"#, false),
        (#"{ field: customFields.lead_score, equals: 87 }"#, true),
        (#"{ field: customFields.f1, equals: "87" }"#, true),
        (#"{ field: tags, equals: vip }"#, true),
        // in / not_in
        (#"{ field: dndSettings.Call.status, in: [active, permanent] }"#, true),
        (#"{ field: dndSettings.SMS.status, in: [active, permanent] }"#, false),
        (#"{ field: dndSettings.Email.status, in: [active] }"#, false),
        (#"{ field: country, not_in: [US, CA] }"#, true),
        (#"{ field: country, not_in: [pt] }"#, false),
        (#"{ field: customFields.plan, in: [gold, silver] }"#, true),
        // contains / starts_with / ends_with
        (#"{ field: email, contains: "@example." }"#, true),
        (#"{ field: email, contains: "@EXAMPLE." }"#, true),
        (#"{ field: email, contains: "@EXAMPLE.", case_sensitive: true }"#, false),
        (#"{ field: source, starts_with: facebook }"#, true),
        (#"{ field: source, ends_with: ads }"#, true),
        (#"{ field: source, ends_with: google }"#, false),
        (#"{ field: companyName, contains: x }"#, false),
        // matches
        (#"{ field: phone, matches: '^\+1415' }"#, true),
        (#"{ field: email, matches: 'Example\.com$' }"#, true),
        (#"{ field: email, matches: 'EXAMPLE' }"#, false),
        (#"{ field: email, matches: '(?i)EXAMPLE' }"#, true),
        (#"{ field: city, matches: 'isb' }"#, true),
        // is
        (#"{ field: phone, is: present }"#, true),
        (#"{ field: phone, is: missing }"#, false),
        (#"{ field: companyName, is: missing }"#, true),
        (#"{ field: companyName, is: empty }"#, true),
        (#"{ field: tags, is: empty }"#, false),
        (#"{ field: customFields.nope, is: missing }"#, true),
        // gt / gte / lt / lte: numbers and dates
        (#"{ field: customFields.lead_score, gt: 80 }"#, true),
        (#"{ field: customFields.lead_score, gte: 87 }"#, true),
        (#"{ field: customFields.lead_score, lt: 87 }"#, false),
        (#"{ field: customFields.lead_score, lte: 87.5 }"#, true),
        (#"{ field: customFields.score_text, gt: 12 }"#, true),
        (#"{ field: firstName, gt: 1 }"#, false),
        (#"{ field: dateAdded, gt: "2026-07-31" }"#, true),
        (#"{ field: dateAdded, lt: "2026-07-31T23:59:59Z" }"#, false),
        (#"{ field: dateAdded, gte: "2026-08-01T00:00:00Z" }"#, true),
        // older_than / newer_than (now = 2026-11-29T12:00:00Z)
        (#"{ field: dateAdded, older_than: 90d }"#, true),
        (#"{ field: dateAdded, older_than: 200d }"#, false),
        (#"{ field: dateAdded, newer_than: 20w }"#, true),
        (#"{ field: dateUpdated, newer_than: 45m }"#, true),
        (#"{ field: dateUpdated, newer_than: 15m }"#, false),
        (#"{ field: dateUpdated, older_than: 12h }"#, false),
        (#"{ field: dateOfBirth, older_than: 1d }"#, false),
        // event.type and state
        (#"{ field: event.type, equals: manual }"#, true),
        (#"{ field: event.type, equals: ContactTagUpdate }"#, false),
        (#"{ state: marked_customer }"#, false),
        // combinators
        (#"{ all: [{ tags: { has: vip } }, { field: country, equals: PT }] }"#, true),
        (#"{ all: [{ tags: { has: vip } }, { field: country, equals: US }] }"#, false),
        (#"{ any: [{ tags: { has: x } }, { field: country, equals: PT }] }"#, true),
        (#"{ any: [{ tags: { has: x } }, { field: country, equals: US }] }"#, false),
        (#"{ not: { tags: { has: vip } } }"#, false),
        (#"{ not: { not: { tags: { has: vip } } } }"#, true),
        (#"{ all: [{ any: [{ not: { field: city, equals: Porto } }] }, { tags: { count: { gt: 0 } } }] }"#, true),
    ]

    @Test(arguments: cases)
    func evaluates(condition: String, expected: Bool) throws {
        let rules = try compileOK(rulesFile(condition: condition))
        let decision = Engine(rules: rules).evaluate(try contact(Self.ana), now: testNow)
        #expect((decision.appliedRules == [0]) == expected, "\(condition)")
    }

    @Test func stateMarkedCustomer() throws {
        let rules = try compileOK(rulesFile(condition: "{ state: marked_customer }"))
        let c = try contact(Self.ana)
        let engine = Engine(rules: rules)
        // The built-in exclusion blocks the rule unless it ignores it.
        #expect(
            engine.evaluate(c, state: ContactState(markedCustomer: true), now: testNow).trace.rules == [
                .blocked(exclusion: 0)
            ])
        let ignoring = try compileOK(
            rulesFile(condition: "{ state: marked_customer }").replacingOccurrences(
                of: "bucket: b", with: "bucket: b\n    ignore_exclusions: [marked-customer]"))
        #expect(
            Engine(rules: ignoring).evaluate(c, state: ContactState(markedCustomer: true), now: testNow).appliedRules
                == [0])
    }

    @Test func regexIsCompiledOnceAtLoad() throws {
        let rules = try compileOK(rulesFile(condition: #"{ field: phone, matches: '^\+1' }"#))
        guard case .field(_, .matches(let regex), _) = rules.rules[0].condition else {
            Issue.record("expected a compiled regex")
            return
        }
        #expect(regex.pattern == #"^\+1"#)
    }
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        var result = ""
        var rest = self[...]
        while let range = rest.range(of: target) {
            result += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
