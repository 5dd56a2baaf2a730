import LeadsyncValues
import Testing

@testable import LeadsyncCore
@testable import LeadsyncRules

/// Evaluation semantics of rules-v1.md §5 and their traces.
@Suite struct EngineTests {
    static let source = """
        version: 1
        buckets:
          cold: 1
          hot: 2
          vip: { name: "VIP list" }
        fields:
          first_name: "{{ firstName | default: 'Unknown' }}"
          phone: "{{ phone | e164 }}"
          source: "ghl"
        exclusions:
          - name: customer
            when: { tags: { has: customer } }
          - name: dnc
            when: { field: dnd, equals: true }
        rules:
          - name: off
            when: { tags: { has: cold } }
            bucket: hot
            enabled: false
          - name: vip
            when: { tags: { has: vip } }
            ignore_exclusions: [customer]
            bucket: vip
            exclusive: true
            fields: { source: "vip", tier: "{{ customFields.tier | upper }}" }
            calltools_tags: { add: [VIP], remove: [Cold] }
            ghl_tags: { add: [dialing] }
            mark_customer: true
          - name: cold
            when: { tags: { has: cold } }
            bucket: cold
            calltools_tags: { add: [Cold] }
          - name: hot
            when: { all: [{ tags: { has: cold } }, { field: customFields.score, gte: 50 }] }
            bucket: hot
            stop: true
          - name: tagger
            when: { tags: { has: cold } }
            ghl_tags: { add: [seen], remove: [dialing] }
        on_no_match: keep
        """

    let rules: CompiledRules
    let engine: Engine

    init() throws {
        rules = try compileOK(Self.source)
        engine = Engine(rules: rules)
    }

    func decide(_ json: String, state: ContactState = .none, deleted: Bool = false) throws -> Decision {
        engine.evaluate(try contact(json), state: state, now: testNow, deleted: deleted)
    }

    func names(_ d: Decision) -> [String] { d.buckets.map { rules.buckets[$0].name } }

    @Test func rulesApplyInOrderAndBucketsAccumulate() throws {
        let d = try decide(#"{"id":"a","phone":"4155550100","tags":["cold"]}"#)
        #expect(names(d) == ["cold"])
        #expect(d.appliedRules.map { rules.rules[$0].name } == ["cold", "tagger"])
        #expect(d.trace.rules[0] == .disabled)
        #expect(d.calltoolsTags == TagChanges(add: ["Cold"]))
        #expect(d.ghlTags == TagChanges(add: ["seen"], remove: ["dialing"]))
        #expect(
            d.fields == [
                FieldValue(slug: "first_name", value: "Unknown"), FieldValue(slug: "phone", value: "+14155550100"),
                FieldValue(slug: "source", value: "ghl"),
            ])
    }

    @Test func stopEndsTheWalk() throws {
        let d = try decide(#"{"id":"a","tags":["cold"],"customFields":[{"id":"x","key":"score","value":70}]}"#)
        #expect(names(d) == ["cold", "hot"])
        #expect(d.trace.rules.last == .stopped(by: 3))
        #expect(Decision.reason(d.trace.rules[4], rules: rules) == "not evaluated: rule 'hot' applied with stop: true")
    }

    @Test func exclusiveFixesTheBucketsAndLaterRulesStillTag() throws {
        let d = try decide(#"{"id":"a","tags":["vip","cold"],"customFields":[{"id":"t","key":"tier","value":"gold"}]}"#)
        #expect(names(d) == ["vip"])
        #expect(d.appliedRules.map { rules.rules[$0].name } == ["vip", "cold", "tagger"])
        // A later add cancels an earlier remove of the same tag, and the other way round.
        #expect(d.calltoolsTags == TagChanges(add: ["VIP", "Cold"], remove: []))
        #expect(d.ghlTags == TagChanges(add: ["seen"], remove: ["dialing"]))
        #expect(d.markedCustomer && d.marksCustomer)
        // Rule fields merge over the defaults, in order; new slugs are appended.
        #expect(d.fields.map(\.slug) == ["first_name", "source", "tier"])
        #expect(d.fields.first { $0.slug == "source" }?.value == "vip")
        #expect(d.fields.first { $0.slug == "tier" }?.value == "GOLD")
    }

    @Test func exclusionsBlockUnlessIgnored() throws {
        let d = try decide(#"{"id":"a","tags":["vip","cold","customer"]}"#)
        #expect(d.matchedExclusions.map { rules.exclusions[$0].name } == ["customer"])
        #expect(names(d) == ["vip"])
        #expect(d.trace.rules[2] == .blocked(exclusion: 1))
        #expect(Decision.reason(d.trace.rules[2], rules: rules) == "blocked by exclusion 'customer'")
    }

    @Test func anExcludedContactIsInNoBucketEvenWithKeep() throws {
        let d = try decide(#"{"id":"a","dnd":true,"tags":["cold"]}"#, state: ContactState(buckets: [0]))
        #expect(d.buckets.isEmpty)
        #expect(!d.keptCurrentBuckets)
        #expect(d.fields.isEmpty)
    }

    @Test func keepLeavesCurrentBucketsWhenNothingApplies() throws {
        let d = try decide(#"{"id":"a","tags":["other"]}"#, state: ContactState(buckets: [1, 0]))
        #expect(names(d) == ["cold", "hot"])
        #expect(d.keptCurrentBuckets)
        #expect(d.fields.isEmpty)
    }

    @Test func removeIsTheDefault() throws {
        let rules = try compileOK(Self.source.replacingOccurrences(of: "on_no_match: keep", with: ""))
        let d = Engine(rules: rules).evaluate(
            try contact(#"{"id":"a","tags":[]}"#), state: ContactState(buckets: [1]),
            now: testNow)
        #expect(d.buckets.isEmpty && !d.keptCurrentBuckets)
    }

    @Test func theCustomerMarkIsSticky() throws {
        let d = try decide(#"{"id":"a","tags":["cold"]}"#, state: ContactState(markedCustomer: true))
        #expect(d.markedCustomer)
        #expect(!d.marksCustomer)
        #expect(d.matchedExclusions == [0])
        #expect(d.buckets.isEmpty)
        #expect(d.trace.rules[2] == .blocked(exclusion: 0))
    }

    @Test func contactDeleteLeavesEveryBucket() throws {
        let d = try decide(
            #"{"id":"a","tags":["cold"]}"#, state: ContactState(markedCustomer: true, buckets: [0]),
            deleted: true)
        #expect(d.deleted && d.buckets.isEmpty && d.appliedRules.isEmpty)
        #expect(d.markedCustomer)
        #expect(d.trace.rules.allSatisfy { $0 == .notEvaluated })
    }

    @Test func traceNamesTheFailingCondition() throws {
        let d = try decide(#"{"id":"a","tags":["cold"],"customFields":[{"id":"x","key":"score","value":10}]}"#)
        guard case .notMatched(let id) = d.trace.rules[3] else {
            Issue.record("expected not matched, got \(d.trace.rules[3])")
            return
        }
        let info = rules.conditions[Int(id)]
        #expect(info.description == "customFields.score gte 50")
        #expect((info.line, info.column) == (34, 46))
        #expect(
            Decision.reason(d.trace.rules[3], rules: rules)
                == "not matched: customFields.score gte 50 does not hold (line 34:46)")
    }

    @Test func traceOfAnyAndNot() throws {
        let rules = try compileOK(
            """
            version: 1
            buckets: { b: 1 }
            rules:
              - name: r
                when: { any: [{ tags: { has: x } }, { tags: { has: y } }] }
                bucket: b
              - name: s
                when: { not: { tags: { has: z } } }
                bucket: b
            """)
        let d = Engine(rules: rules).evaluate(try contact(#"{"id":"a","tags":["z"]}"#), now: testNow)
        #expect(
            Decision.reason(d.trace.rules[0], rules: rules)
                == #"not matched: any of [tags has "x"; tags has "y"] does not hold (line 5:13)"#)
        #expect(
            Decision.reason(d.trace.rules[1], rules: rules)
                == #"not matched: not (tags has "z") does not hold (line 8:13)"#)
    }

    @Test func unparseablePhoneIsNotedInTheTrace() throws {
        let d = try decide(#"{"id":"a","phone":"tbd","tags":["cold"]}"#)
        #expect(!d.fields.contains { $0.slug == "phone" })
        #expect(d.trace.notes == ["field phone: 'tbd' at phone is not a phone number leadsync can normalise; left out"])
    }

    @Test func evaluationIsPure() throws {
        let c = try contact(#"{"id":"a","phone":"4155550100","tags":["vip","cold"]}"#)
        let a = engine.evaluate(c, state: .none, now: testNow)
        let b = engine.evaluate(c, state: .none, now: testNow)
        #expect(a == b)
    }

    /// Leaving out the trace or the fields changes nothing else: `plan` and the benchmark rely on it.
    @Test func lessDetailGivesTheSameDecision() throws {
        let contacts = [
            #"{"id":"a","phone":"4155550100","tags":["vip","cold"],"customFields":[{"key":"tier","value":"g"}]}"#,
            #"{"id":"b","phone":"4155550100","tags":["cold","customer"],"customFields":[{"key":"score","value":70}]}"#,
            #"{"id":"c","phone":"tbd","dnd":true,"tags":["cold"]}"#, #"{"id":"d","tags":[]}"#,
        ]
        for json in contacts {
            let c = try contact(json)
            for state in [ContactState.none, ContactState(markedCustomer: true, buckets: [1])] {
                let full = engine.evaluate(c, state: state, now: testNow)
                #expect(full.isTraced(by: rules))
                let untraced = engine.evaluate(c, state: state, now: testNow, detail: .fields)
                #expect(!untraced.isTraced(by: rules) && untraced.trace.notes == full.trace.notes)
                var same = full
                same.trace = untraced.trace
                #expect(untraced == same, "\(json)")
                let bare = engine.evaluate(c, state: state, now: testNow, detail: [])
                #expect(bare.fields.isEmpty && bare.buckets == full.buckets && bare.applied == full.applied)
                #expect(bare.excluded == full.excluded && bare.appliedRules == full.appliedRules)
                // Reports of an untraced decision say so rather than invent reasons.
                #expect(untraced.report(rules: rules).contains("not traced") == (full.appliedRules.count < 5))
            }
        }
    }

    /// Past 64 exclusions the set spills into more words, and blocking still finds the first.
    @Test func manyExclusionsStillBlock() throws {
        var source = "version: 1\nbuckets: { b: 1 }\nexclusions:\n"
        for i in 0..<70 { source += "  - { name: x\(i), when: { tags: { has: t\(i) } } }\n" }
        source += "rules:\n  - { name: r, when: { tags: { has: go } }, bucket: b, ignore_exclusions: [x1] }\n"
        let rules = try compileOK(source)
        let engine = Engine(rules: rules)
        let blocked = engine.evaluate(try contact(#"{"id":"a","tags":["go","t66","t1"]}"#), now: testNow)
        #expect(blocked.buckets.isEmpty && blocked.trace.rules == [.blocked(exclusion: 67)])
        #expect(blocked.matchedExclusions == [2, 67])  // index 0 is marked-customer
        let ignored = engine.evaluate(try contact(#"{"id":"a","tags":["go","t1"]}"#), now: testNow, detail: [])
        #expect(ignored.buckets == [0] && ignored.matchedExclusions == [2])
        #expect(IndexBits([3, 64, 130]).indexes == [3, 64, 130] && !IndexBits([3]).contains(64))
    }

    /// A rule whose condition is an exclusion's own regex reuses the exclusion's result (the
    /// engine matches the tags once). It must still decide as if it had matched them itself: on
    /// the contact's own tags only, never on an exclusion shared from another contact's phone,
    /// and with the trace naming the rule's condition.
    @Test func aRuleSharingAnExclusionsRegexDecidesOnItsOwnTags() throws {
        let rules = try compileOK(
            """
            version: 1
            buckets: { cold: 1 }
            exclusions:
              - name: customer
                when: { tags: { any_matches: '\\bcustomers?\\b' } }
            rules:
              - name: customer-tag
                when: { tags: { any_matches: '\\bcustomers?\\b' } }
                ignore_exclusions: [customer]
                mark_customer: true
                stop: true
              - name: cold
                when: { tags: { any_matches: '\\bcold\\b' } }
                bucket: cold
            """)
        let engine = Engine(rules: rules)
        #expect(engine.ruleFlags.map(\.sameAsExclusion) == [1, -1])
        let customer = try contact(#"{"id":"a","tags":["Old Customer","cold"]}"#)
        let lead = try contact(#"{"id":"b","tags":["cold"]}"#)
        for detail in [Engine.Detail.all, .fields, []] {
            let c = engine.evaluate(customer, now: testNow, detail: detail)
            #expect(c.appliedRules == [0] && c.marksCustomer && c.buckets.isEmpty)
            let l = engine.evaluate(lead, now: testNow, detail: detail)
            #expect(l.appliedRules == [1] && !l.marksCustomer && l.buckets == [0])
            // The same phone as a customer excludes the lead, but does not make it one.
            let shared = ContactState(phoneExclusions: [PhoneExclusion(exclusion: 1, contactId: "a")])
            let s = engine.evaluate(lead, state: shared, now: testNow, detail: detail)
            #expect(s.appliedRules.isEmpty && !s.marksCustomer && s.buckets.isEmpty && s.matchedExclusions == [1])
        }
        let traced = engine.evaluate(lead, now: testNow)
        #expect(traced.trace.rules == [.notMatched(condition: rules.rules[0].condition.id), .applied])
    }

    @Test func bucketReferencesKeepIdsAndNames() {
        #expect(rules.buckets.map(\.reference) == [.id(1), .id(2), .name("VIP list")])
    }
}
