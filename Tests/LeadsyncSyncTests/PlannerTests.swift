import Foundation
import LeadsyncCore
import LeadsyncRules
import LeadsyncValues
import Testing

@testable import LeadsyncSync

@Suite struct PlannerTests {
    static let source = """
        version: 1
        buckets:
          cold: 11237
          active: 11252
          vip: { name: "VIP" }
        calltools: { lookup_existing: true }
        fields:
          first_name: "{{ firstName }}"
          mobile_phone_number: "{{ phone | e164 }}"
        exclusions:
          - name: dnc
            when: { field: dnd, equals: true }
        rules:
          - name: active
            when: { tags: { has: active } }
            bucket: active
            exclusive: true
            calltools_tags: { add: [Active], remove: [Cold] }
            ghl_tags: { add: [in-calltools] }
            stop: true
          - name: cold
            when: { tags: { has: cold } }
            bucket: cold
            calltools_tags: { add: [Cold] }
            ghl_tags: { add: [in-calltools] }
          - name: vip
            when: { tags: { has: vip } }
            bucket: vip
        """

    let rules: CompiledRules
    let planner: Planner
    let resolved = Resolution(buckets: ["cold": 11237, "active": 11252, "vip": 900], tags: ["cold": 7, "active": 8])
    let now = Timestamp(iso8601: "2026-11-29T12:00:00Z")!

    init() throws {
        rules = try #require(RulesCompiler.compile(source: Self.source, file: "p.yaml").rules)
        planner = Planner(rules: rules)
    }

    func decide(_ json: String, marked: Bool = false, deleted: Bool = false) throws -> Decision {
        let contact = try InboundContact.decode(try JSONParser.parse(json)).contact
        return Engine(rules: rules).evaluate(
            contact, state: ContactState(markedCustomer: marked), now: now, deleted: deleted)
    }

    static let ana = #"{"id":"g1","firstName":"Ana","phone":"(415) 555-0132","tags":["cold"]}"#

    @Test func newContactLooksUpThenCreatesWithEverythingInOneCall() throws {
        let d = try decide(Self.ana)
        #expect(planner.calltoolsStep(d, applied: .new, resolution: resolved) == .lookup(phone: "+14155550132"))
        let step = planner.calltoolsStep(d, applied: .new, resolution: resolved, lookup: .notFound)
        guard case .create(let body) = step else {
            Issue.record("expected a create, got \(step)")
            return
        }
        #expect(body.fields.map(\.slug) == ["first_name", "mobile_phone_number"])
        #expect(body.fields.map(\.value) == ["Ana", "+14155550132"])
        #expect(body.addBuckets == [11237] && body.addTags == [7] && body.removeBuckets.isEmpty)
    }

    @Test func withoutLookupExistingItCreatesDirectly() throws {
        let r = try #require(
            RulesCompiler.compile(
                source: Self.source.replacingOccurrences(of: "lookup_existing: true", with: "lookup_existing: false"),
                file: "p.yaml"
            ).rules)
        let d = Engine(rules: r).evaluate(try InboundContact.decode(try JSONParser.parse(Self.ana)).contact, now: now)
        guard case .create = Planner(rules: r).calltoolsStep(d, applied: .new, resolution: resolved) else {
            Issue.record("expected a create without lookup")
            return
        }
    }

    @Test func aPendingCreateAlwaysLooksUpFirst() throws {
        let r = try #require(
            RulesCompiler.compile(
                source: Self.source.replacingOccurrences(of: "lookup_existing: true", with: "lookup_existing: false"),
                file: "p.yaml"
            ).rules)
        let d = Engine(rules: r).evaluate(try InboundContact.decode(try JSONParser.parse(Self.ana)).contact, now: now)
        let step = Planner(rules: r).calltoolsStep(d, applied: AppliedState(createPending: true), resolution: resolved)
        #expect(step == .lookup(phone: "+14155550132"))
    }

    @Test func aPendingCreateForAContactRoutedNowhereIsFoundAndTakenOutOfItsBuckets() throws {
        // Ana's create was sent before a crash; now she is DND: no rule routes her, no fields.
        let d = try decide(#"{"id":"g1","firstName":"Ana","phone":"(415) 555-0132","tags":["cold"],"dnd":true}"#)
        #expect(d.buckets.isEmpty && d.fields.isEmpty)
        let pending = AppliedState(createPending: true)
        // Without a phone to look her up by, nothing can be done (as before).
        #expect(planner.calltoolsStep(d, applied: pending, resolution: resolved) == .nothing)
        let phone = "+14155550132"
        #expect(
            planner.calltoolsStep(d, applied: pending, resolution: resolved, pendingPhone: phone)
                == .lookup(phone: phone))
        // The create had happened: she leaves the cold bucket.
        let found = LookupResult.found(id: 501, buckets: [11237], fields: ["first_name": "Ana"])
        guard
            case .update(501, let body) = planner.calltoolsStep(
                d, applied: pending, resolution: resolved, lookup: found, pendingPhone: phone)
        else {
            Issue.record("expected a PATCH")
            return
        }
        #expect(body.removeBuckets == [11237] && body.addBuckets.isEmpty)
        // It had not: nothing to create for a contact routed nowhere.
        #expect(
            planner.calltoolsStep(d, applied: pending, resolution: resolved, lookup: .notFound, pendingPhone: phone)
                == .nothing)
    }

    @Test func aContactFoundByPhoneIsPatchedWithOnlyTheDifferences() throws {
        let d = try decide(Self.ana)
        let found = LookupResult.found(id: 501, buckets: [11237, 42], fields: ["first_name": "Ana"])
        let step = planner.calltoolsStep(d, applied: .new, resolution: resolved, lookup: found)
        // Already in cold (11237); 42 is not managed and is left alone.
        #expect(
            step
                == .update(
                    id: 501,
                    CallToolsBody(
                        fields: [FieldValue(slug: "mobile_phone_number", value: "+14155550132")],
                        addTags: [7])))
    }

    @Test func unchangedMeansNoCall() throws {
        let d = try decide(Self.ana)
        guard case .create(let body) = planner.calltoolsStep(d, applied: .new, resolution: resolved, lookup: .notFound)
        else {
            Issue.record("expected a create")
            return
        }
        let applied = AppliedState.new.applying(body, id: 501)
        #expect(planner.calltoolsStep(d, applied: applied, resolution: resolved) == .nothing)
    }

    @Test func aChangedFieldIsOnePatchWithOnlyThatField() throws {
        let applied = AppliedState(
            calltoolsId: 501, fields: ["first_name": "Ana", "mobile_phone_number": "+14155550132"],
            buckets: [11237], tags: [7: true])
        let d = try decide(#"{"id":"g1","firstName":"Anna","phone":"(415) 555-0132","tags":["cold"]}"#)
        let step = planner.calltoolsStep(d, applied: applied, resolution: resolved)
        #expect(step == .update(id: 501, CallToolsBody(fields: [FieldValue(slug: "first_name", value: "Anna")])))
    }

    @Test func becomingAnActiveClientMovesBucketsAndTagsInOnePatch() throws {
        let applied = AppliedState(
            calltoolsId: 501, fields: ["first_name": "Ana", "mobile_phone_number": "+14155550132"],
            buckets: [11237], tags: [7: true])
        let d = try decide(#"{"id":"g1","firstName":"Ana","phone":"(415) 555-0132","tags":["cold","active"]}"#)
        let step = planner.calltoolsStep(d, applied: applied, resolution: resolved)
        #expect(
            step
                == .update(
                    id: 501,
                    CallToolsBody(
                        addBuckets: [11252], removeBuckets: [11237], addTags: [8],
                        removeTags: [7])))
    }

    @Test func anExcludedContactLeavesItsManagedBuckets() throws {
        let applied = AppliedState(calltoolsId: 501, buckets: [11237, 900], tags: [7: true])
        let d = try decide(#"{"id":"g1","dnd":true,"tags":["cold"]}"#)
        #expect(
            planner.calltoolsStep(d, applied: applied, resolution: resolved)
                == .update(id: 501, CallToolsBody(removeBuckets: [900, 11237])))
    }

    @Test func anExcludedContactCallToolsNeverHadCostsNothing() throws {
        let d = try decide(#"{"id":"g1","dnd":true,"tags":["cold"]}"#)
        #expect(planner.calltoolsStep(d, applied: .new, resolution: resolved) == .nothing)
    }

    @Test func aDeleteRemovesManagedBucketsAndTouchesNothingElse() throws {
        let applied = AppliedState(calltoolsId: 501, fields: ["first_name": "Ana"], buckets: [11237], tags: [7: true])
        let d = try decide(Self.ana, deleted: true)
        #expect(
            planner.calltoolsStep(d, applied: applied, resolution: resolved)
                == .update(id: 501, CallToolsBody(removeBuckets: [11237])))
    }

    @Test func unresolvedNamesAreResolvedFirst() throws {
        let d = try decide(#"{"id":"g1","phone":"4155550132","tags":["vip","cold"]}"#)
        let partial = Resolution(buckets: ["cold": 11237, "active": 11252], tags: [:])
        #expect(
            planner.calltoolsStep(d, applied: .new, resolution: partial)
                == .resolve(buckets: ["vip"], tagsToAdd: ["Cold"], tagsToRemove: []))
        #expect(Resolution.initial(for: rules) == Resolution(buckets: ["cold": 11237, "active": 11252]))
    }

    @Test func aTagToRemoveThatCallToolsLacksNeedsNoCall() throws {
        let applied = AppliedState(
            calltoolsId: 501, fields: ["first_name": "Ana", "mobile_phone_number": "+14155550132"],
            buckets: [11252], tags: [8: true])
        let noCold = Resolution(buckets: resolved.buckets, tags: ["cold": Int?.none, "active": 8])
        let d = try decide(#"{"id":"g1","firstName":"Ana","phone":"(415) 555-0132","tags":["active"]}"#)
        #expect(planner.calltoolsStep(d, applied: applied, resolution: noCold) == .nothing)
    }

    /// A tag first met as one to remove is remembered as absent. The first contact that must
    /// have it then resolves it again (creating it), rather than being written without it: the
    /// crash test saw a whole run tag no "cold" contact because a "warm" one came first.
    @Test func aTagKnownAbsentIsResolvedAgainWhenAContactNeedsIt() throws {
        let noCold = Resolution(buckets: resolved.buckets, tags: ["cold": Int?.none, "active": 8])
        let d = try decide(#"{"id":"g1","firstName":"Ana","phone":"(415) 555-0132","tags":["cold"]}"#)
        let applied = AppliedState(
            calltoolsId: 501, fields: ["first_name": "Ana", "mobile_phone_number": "+14155550132"],
            buckets: [11237], tags: [:])
        #expect(
            planner.calltoolsStep(d, applied: applied, resolution: noCold)
                == .resolve(buckets: [], tagsToAdd: ["Cold"], tagsToRemove: []))
        #expect(
            planner.calltoolsStep(d, applied: applied, resolution: resolved)
                == .update(id: 501, CallToolsBody(addTags: [7])))
    }
    @Test func anUnknownTagStateIsRemovedOnceThenKnownAbsent() throws {
        let applied = AppliedState(
            calltoolsId: 501, fields: ["first_name": "Ana", "mobile_phone_number": "+14155550132"],
            buckets: [11252], tags: [8: true])
        let d = try decide(#"{"id":"g1","firstName":"Ana","phone":"(415) 555-0132","tags":["active"]}"#)
        let step = planner.calltoolsStep(d, applied: applied, resolution: resolved)
        #expect(step == .update(id: 501, CallToolsBody(removeTags: [7])))
        guard case .update(let id, let body) = step else { return }
        #expect(planner.calltoolsStep(d, applied: applied.applying(body, id: id), resolution: resolved) == .nothing)
    }

    @Test func ghlWriteBacksOnlyWhenNeededSoWebhooksConverge() throws {
        let d = try decide(Self.ana)
        #expect(planner.ghlTagChanges(d, currentTags: ["cold"]) == TagChanges(add: ["in-calltools"]))
        #expect(planner.ghlTagChanges(d, currentTags: ["cold", "In-CallTools "]) == TagChanges())
    }

    /// Applying a plan and planning again must give nothing: the property that makes an
    /// unchanged contact cost zero calls and our own write-backs end.
    @Test func plansConvergeForEveryExample() throws {
        let rules = try #require(
            RulesCompiler.compile(
                source: try String(contentsOfFile: root + "/rules/cold-leads.yaml", encoding: .utf8), file: "c.yaml"
            ).rules)
        let planner = Planner(rules: rules)
        let resolution = Resolution(
            buckets: ["cold_leads": 11237, "active_clients": 11252],
            tags: ["aca cold lead": 7, "aca active client": 8])
        let lines = try String(contentsOfFile: root + "/examples/contacts.jsonl", encoding: .utf8).split(
            separator: "\n")
        var creates = 0
        for line in lines {
            let contact = try InboundContact.decode(try JSONParser.parse(String(line))).contact
            let d = Engine(rules: rules).evaluate(contact, now: now)
            var applied = AppliedState.new
            var calls = 0
            var lookup: LookupResult?
            loop: while calls < 5 {
                switch planner.calltoolsStep(d, applied: applied, resolution: resolution, lookup: lookup) {
                case .lookup:
                    lookup = .notFound
                case .create(let body):
                    applied = applied.applying(body, id: 1000 + creates)
                    creates += 1
                case .update(let id, let body):
                    applied = applied.applying(body, id: id)
                case .nothing:
                    break loop
                case .resolve:
                    Issue.record("everything is resolved here")
                    break loop
                }
                calls += 1
            }
            // New contact: at most lookup + create, then nothing.
            #expect(calls <= 2, "\(contact.id) took \(calls) calls")
        }
        #expect(creates == 4)  // k1, k2, k5, k9 reach a bucket
    }
}

let root: String = {
    var path = #filePath
    for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
    return path
}()

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
