import LeadsyncCore
import LeadsyncRules
import LeadsyncValues

/// `Engine.evaluate` over a rules file that uses every operator, on any contact JSON.
let rules: CompiledRules = {
    let source = """
        version: 1
        buckets: { a: 1, b: 2, c: 3 }
        calltools: { phone_field: mobile_phone_number }
        fields:
          first_name: "{{ firstName | default: name | default: 'Unknown' | trim | upper }}"
          mobile_phone_number: "{{ phone | e164 }}"
          note: "{{ customFields.score | lower | truncate: 10 }}"
        exclusions:
          - { name: dnc, when: { any: [{ field: dnd, equals: true }, { field: dndSettings.Call.status, in: [active, permanent] }] } }
          - { name: no-phone, when: { field: phone, is: empty } }
          - { name: test, when: { field: email, ends_with: "@example.com" }, by_phone: false }
        rules:
          - name: r1
            when:
              all:
                - { tags: { any_of: [cold, "new lead"] } }
                - { tags: { none_of: [x] } }
                - { not: { tags: { has: customer } } }
                - { field: dateAdded, older_than: 30d }
                - { field: dateUpdated, newer_than: 365d }
                - { field: customFields.score, gt: 10 }
                - { field: customFields.score, lte: 1000 }
            bucket: a
          - name: r2
            when:
              any:
                - { tags: { any_contains: [prospect] } }
                - { tags: { any_matches: '(?i)\\b(hot|warm)\\b' } }
                - { field: firstName, matches: '^[A-ZÉ][a-zé]+$' }
                - { field: source, in: [facebook, "csv import"] }
                - { field: city, not_equals: Berlin }
                - { field: email, contains: "@" }
                - { field: name, starts_with: "Dr" }
                - { field: phone, is: present }
                - { state: marked_customer }
            bucket: b
            exclusive: true
            calltools_tags: { add: [T1], remove: [T2] }
            ghl_tags: { add: [g] }
          - name: r3
            when: { field: customFields.visits, gte: 5 }
            bucket: c
            mark_customer: true
            stop: true
        on_no_match: keep
        """
    guard let rules = RulesCompiler.compile(source: source, file: "fuzz.yaml").rules else {
        fatalError("the fuzz rules do not compile")
    }
    return rules
}()
let engine = Engine(rules: rules)

/// Before the first input: the rules, the engine and the statics a first evaluation builds exist
/// for the whole run (not leaks of one input).
@_cdecl("LLVMFuzzerInitialize")
public func initialize(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> CInt {
    let contact = try? InboundContact.decode(
        JSONParser.parse(Array(#"{"id":"i","tags":["cold"],"phone":"+14155550100"}"#.utf8)))
    if let contact {
        _ = engine.evaluate(contact.contact, now: Timestamp(milliseconds: 1_800_000_000_000)).report(
            rules: rules, name: nil)
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let json = try? JSONParser.parse(bytes), let inbound = try? InboundContact.decode(json) else { return 0 }
    let state = ContactState(markedCustomer: size % 2 == 0, buckets: [0, 2])
    let decision = engine.evaluate(inbound.contact, state: state, now: Timestamp(milliseconds: 1_800_000_000_000))
    _ = decision.report(rules: rules, name: nil)
    return 0
}
