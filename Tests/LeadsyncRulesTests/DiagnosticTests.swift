import LeadsyncCore
import LeadsyncTestSupport
import LeadsyncValues
import Testing

@testable import LeadsyncRules

/// Every diagnostic kind of rules-v1.md §8, golden: code and line:col.
@Suite struct DiagnosticTests {
    static let base = """
        version: 1
        buckets:
          cold_leads: 11237
          active: { id: 11252 }
        exclusions:
          - name: customer
            when: { any: [{ tags: { any_contains: [customer] } }, { field: dnd, equals: true }] }
        rules:
          - name: cold-lead
            when: { tags: { has: "cold lead" } }
            bucket: cold_leads
          - name: active-client
            when: { tags: { has: active } }
            bucket: active
        """

    /// Replaces one line of `base` (1-based) with `replacement`.
    static func edit(_ line: Int, _ replacement: String) -> String {
        var lines = base.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines[line - 1] = replacement
        return lines.joined(separator: "\n")
    }

    @Test func baseIsClean() {
        #expect(golden(Self.base) == [])
    }

    @Test(
        arguments: [
            // YAML syntax
            (edit(10, "    when: { tags: { has: \"cold lead\" }"), ["yaml-syntax 11:5"]),
            (edit(3, "  cold_leads: [11237"), ["yaml-syntax 4:9"]),
            // unknown keys, with suggestions
            (
                edit(11, "    buckett: cold_leads"),
                ["warning unused-bucket 3:3", "missing-key 9:5", "unknown-key 11:5"]
            ),
            (edit(1, "versoin: 1"), ["missing-key 1:1", "unknown-key 1:1"]),
            // unknown operators
            (edit(10, "    when: { tags: { hass: \"cold lead\" } }"), ["unknown-operator 10:21"]),
            (edit(10, "    when: { field: phone, equal: x }"), ["unknown-operator 10:27"]),
            (edit(10, "    when: { feild: phone, equals: x }"), ["unknown-operator 10:13"]),
            (edit(10, "    when: { tags: { count: { gtt: 1 } } }"), ["unknown-operator 10:30"]),
            (edit(10, "    when: { state: marked_custom }"), ["unknown-operator 10:20"]),
            // unknown field
            (edit(10, "    when: { field: firstname, equals: x }"), ["unknown-field 10:20"]),
            // wrong value types
            (edit(3, "  cold_leads: eleven"), ["wrong-type 3:15"]),
            (edit(10, "    when: [a, b]"), ["wrong-type 10:11"]),
            (edit(10, "    when: { all: { tags: { has: x } } }"), ["wrong-type 10:18"]),
            (edit(11, "    bucket: [cold_leads]"), ["warning unused-bucket 3:3", "wrong-type 11:13"]),
            (edit(10, "    when: { tags: { count: { gt: many } } }"), ["wrong-type 10:34"]),
            // missing required keys
            (edit(10, "    stop: true"), ["missing-key 9:5"]),
            (edit(1, "#"), ["missing-key 2:1"]),
            // unsupported version
            (edit(1, "version: 2"), ["unsupported-version 1:10"]),
            // duplicate names
            (edit(12, "  - name: cold-lead"), ["duplicate-name 12:11"]),
            (edit(6, "  - name: marked-customer"), ["duplicate-name 6:11"]),
            // bad names
            (edit(9, "  - name: Cold_Lead"), ["bad-name 9:11"]),
            // a bucket that names no key
            (edit(11, "    bucket: cold_lead"), ["warning unused-bucket 3:3", "unknown-bucket 11:13"]),
            // unknown exclusion in ignore_exclusions
            (edit(11, "    bucket: cold_leads\n    ignore_exclusions: [customers]"), ["unknown-exclusion 12:25"]),
            // bad regex
            (edit(10, "    when: { field: phone, matches: '([a-z' }"), ["bad-regex 10:36"]),
            (edit(10, "    when: { tags: { any_matches: '*x' } }"), ["bad-regex 10:34"]),
            // bad templates and filters
            (edit(11, "    bucket: cold_leads\n    fields: { a: \"{{ phone | e165 }}\" }"), ["unknown-filter 12:30"]),
            (edit(11, "    bucket: cold_leads\n    fields: { a: \"{{ phone \" }"), ["bad-template 12:19"]),
            (edit(11, "    bucket: cold_leads\n    fields: { a: \"{{ fone }}\" }"), ["unknown-field 12:18"]),
            // bad durations
            (edit(10, "    when: { field: dateAdded, older_than: 90days }"), ["bad-duration 10:43"]),
            // type errors known at load
            (edit(10, "    when: { field: tags, gt: 3 }"), ["type-mismatch 10:26"]),
            (edit(10, "    when: { field: dnd, contains: x }"), ["type-mismatch 10:25"]),
            (edit(10, "    when: { field: firstName, older_than: 3d }"), ["type-mismatch 10:31"]),
            (edit(10, "    when: { field: dateAdded, gt: 5 }"), ["type-mismatch 10:35"]),
            (edit(10, "    when: { field: dndSettings, equals: x }"), ["type-mismatch 10:33"]),
            // bad values
            (edit(10, "    when: { field: phone, is: absent }"), ["bad-value 10:31"]),
            (edit(10, "    when: { tags: { has: x }, field: phone, is: present }"), ["bad-value 10:31"]),
            (edit(10, "    when: { field: phone, is: present, equals: x }"), ["bad-value 10:40"]),
            (base + "\non_no_match: drop", ["bad-value 15:14"]),
            (base + "\ncalltools: { default_region: XX }", ["bad-value 15:30"]),
            // warnings
            (
                base.replacingOccurrences(of: "bucket: active", with: "bucket: cold_leads"),
                ["warning unused-bucket 4:3"]
            ),
            (
                base.replacingOccurrences(of: "bucket: cold_leads\n", with: "bucket: cold_leads\n    stop: true\n")
                    .replacingOccurrences(of: "has: active", with: "has: \"cold lead\""),
                ["warning unreachable-rule 13:5"]
            ),
        ] as [(String, [String])])
    func reportsAtTheRightPlace(source: String, expected: [String]) {
        #expect(golden(source) == expected, "\(source)")
    }

    @Test func everyProblemInOneRunSorted() {
        let source = """
            version: 1
            buckets:
              cold_leads: 11237
              unused: 5
            rules:
              - name: a
                when: { tags: { hass: x } }
                bucket: cold_lead
              - name: a
                when: { field: phone, matches: '(' }
                bucket: cold_leads
                fields: { x: "{{ phone | nope }}" }
                colour: red
            """
        #expect(
            golden(source) == [
                "warning unused-bucket 4:3", "unknown-operator 7:21", "unknown-bucket 8:13", "duplicate-name 9:11",
                "bad-regex 10:36", "unknown-filter 12:30", "unknown-key 13:5",
            ])
    }

    @Test func duplicateKeysAreAllReportedWithTheRest() {
        let source = """
            version: 1
            buckets:
              b: 1
              b: 2
            rules:
              - name: r
                when: { tags: { has: x }, tags: { has: y } }
                bucket: b
                bucket: b
                stopp: true
            """
        #expect(
            golden(source) == [
                "duplicate-key 4:3", "warning do-not-call 5:1", "duplicate-key 7:31", "duplicate-key 9:5",
                "unknown-key 10:5",
            ])
    }

    @Test func messagesSuggestTheLikelyFix() {
        let source = Self.edit(10, "    when: { tags: { hass: \"cold lead\" } }")
        let d = RulesCompiler.compile(source: source, file: "rules/cold-leads.yaml").diagnostics[0]
        #expect(
            d.rendered(sourceLines: source.split(separator: "\n", omittingEmptySubsequences: false)) == """
                rules/cold-leads.yaml:10:21: error: unknown tag operator 'hass'; did you mean 'has'?
                    when: { tags: { hass: "cold lead" } }
                                    ^
                """)
        let messages = [
            (Self.edit(11, "    buckett: cold_leads"), "unknown key 'buckett' in a rule; did you mean 'bucket'?"),
            (
                Self.edit(11, "    bucket: cold_lead"),
                "rule 'cold-lead' routes to unknown bucket 'cold_lead'; did you mean 'cold_leads'?"
            ),
            (
                Self.edit(10, "    when: { field: firstname, equals: x }"),
                "unknown field 'firstname'; did you mean 'firstName'?"
            ),
            (
                Self.edit(10, "    when: { field: phone, equal: x }"),
                "unknown field operator 'equal'; did you mean 'equals'?"
            ),
            (
                Self.edit(11, "    bucket: cold_leads\n    ignore_exclusions: [customers]"),
                "unknown exclusion 'customers' in ignore_exclusions; did you mean 'customer'?"
            ),
            (
                Self.edit(11, "    bucket: cold_leads\n    fields: { a: \"{{ phone | e165 }}\" }"),
                "unknown filter 'e165'; did you mean 'e164'?"
            ),
            (Self.edit(1, "version: 2"), "unsupported version '2'; supported versions: 1"),
        ]
        for (source, message) in messages {
            #expect(
                RulesCompiler.compile(source: source, file: "t.yaml").diagnostics.map(\.message).contains(message),
                "\(message)")
        }
    }

    @Test func billionLaughsIsRefusedQuickly() {
        var source = "version: 1\nbuckets: { b: 1 }\nrules: [{ name: r, when: { tags: { has: x } }, bucket: b }]\n"
        source += "lol0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for i in 1...9 {
            let refs = Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ")
            source += "lol\(i): &a\(i) [\(refs)]\n"
        }
        source += "tests: *a9\n"
        let clock = ContinuousClock()
        var diagnostics: [Diagnostic] = []
        let elapsed = clock.measure { diagnostics = RulesCompiler.compile(source: source, file: "t.yaml").diagnostics }
        #expect(diagnostics.map(\.code) == [.aliasExpansion])
        // Generous bound: the budget stops the walk after 100,000 nodes; 10^10 would never end.
        #expect(elapsed < .seconds(5))
    }

    @Test func modestAliasesAreFine() throws {
        let source = """
            version: 1
            buckets: { b: 1 }
            rules:
              - name: r
                when: &cold { tags: { has: cold } }
                bucket: b
              - name: s
                when: { not: *cold }
                bucket: b
            """
        let rules = try compileOK(source)
        #expect(rules.rules.count == 2)
    }

    @Test func emptyAndNonMappingFiles() {
        #expect(golden("") == ["missing-key 1:1"])
        #expect(golden("- a\n- b\n") == ["wrong-type 1:1"])
    }
}

@Suite struct WebhookSettingsTests {
    @Test func trustWorkflowPayloadCompilesAndUnknownKeysAreReported() {
        let base =
            "version: 1\nbuckets: { cold: 1 }\nrules:\n  - { name: r, when: { tags: { has: x } }, bucket: cold }\n"
        let ok = RulesCompiler.compile(source: base + "webhooks: { trust_workflow_payload: true }\n", file: "r.yaml")
        #expect(ok.rules?.webhooks.trustWorkflowPayload == true)
        #expect(RulesCompiler.compile(source: base, file: "r.yaml").rules?.webhooks.trustWorkflowPayload == false)
        let bad = RulesCompiler.compile(source: base + "webhooks: { trust_workflow_payloads: true }\n", file: "r.yaml")
        #expect(bad.rules == nil)
        let error = bad.diagnostics.first { $0.severity == .error }
        #expect(error?.line == 5)
        #expect(error?.message.contains("did you mean 'trust_workflow_payload'") == true)
    }
}

/// `do-not-call`: where a file can dial a contact who asked not to be called.
@Suite struct DoNotCallWarningTests {
    static func warnings(_ source: String) -> [String] {
        RulesCompiler.compile(source: source, file: "t.yaml").diagnostics.filter { $0.code == .doNotCall }.map {
            "\($0.line):\($0.column) \($0.message)"
        }
    }

    static let header = """
        version: 1
        buckets: { cold: 1, hot: 2 }
        exclusions:
          - name: do-not-call
            when: { any: [{ field: dnd, equals: true }, { field: dndSettings.Call.status, in: [active, permanent] }] }
          - name: customer
            when: { tags: { has: customer } }
        rules:

        """

    @Test func aRuleIgnoringTheDndExclusionIsWarnedAtItsIgnore() {
        let source =
            Self.header + """
                  - name: cold
                    when: { tags: { has: cold } }
                    bucket: cold
                  - name: hot
                    when: { tags: { has: hot } }
                    bucket: hot
                    ignore_exclusions: [customer, do-not-call]

                """
        #expect(
            Self.warnings(source) == [
                "15:35 rule 'hot' ignores exclusion 'do-not-call', which reads dnd: it routes contacts who asked "
                    + "not to be called to bucket 'hot'"
            ])
    }

    @Test func rulesThatGuardThemselvesOrDialNoOneAreNotWarned() {
        let source = """
            version: 1
            buckets: { cold: 1 }
            rules:
              - name: own-check
                when: { all: [{ tags: { has: cold } }, { not: { field: dndSettings.Call.status, equals: active } }] }
                bucket: cold
              - name: tag-only
                when: { tags: { has: x } }
                ghl_tags: { add: [seen] }
              - name: off
                when: { tags: { has: y } }
                bucket: cold
                enabled: false
            """
        #expect(Self.warnings(source) == [])
        let ignoringButGuarded =
            Self.header + """
                  - name: cold
                    when: { tags: { has: cold } }
                    bucket: cold
                    ignore_exclusions: [customer]

                """
        #expect(Self.warnings(ignoringButGuarded) == [])
    }

    @Test func aFileWithNoDndCheckIsWarnedOnce() {
        let source = """
            version: 1
            buckets: { cold: 1 }
            exclusions:
              - name: customer
                when: { tags: { has: customer } }
            rules:
              - { name: a, when: { tags: { has: a } }, bucket: cold }
              - { name: b, when: { tags: { has: b } }, bucket: cold }
              - { name: c, when: { tags: { has: c } }, bucket: cold }
              - { name: d, when: { tags: { has: d } }, bucket: cold }
            """
        #expect(
            Self.warnings(source) == [
                "6:1 no exclusion reads dnd or dndSettings: rules 'a', 'b', 'c', … can route contacts who asked not "
                    + "to be called to a bucket"
            ])
    }

    @Test func theShippedRulesAreNotWarned() {
        #expect(!Fixtures.coldLeadsFile.isEmpty)
        #expect(Self.warnings(Fixtures.coldLeadsFile) == [])
    }
}
