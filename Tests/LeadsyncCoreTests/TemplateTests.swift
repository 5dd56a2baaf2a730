import Testing

@testable import LeadsyncCore
@testable import LeadsyncValues

@Suite struct TemplateTests {
    static let contact = Contact(
        id: "c1",
        fields: JSONObject([
            "firstName": .string("  ana maria "), "lastName": .string("SILVA"), "name": .string("Ana Silva"),
            "email": .string("Ana@Example.COM"), "phone": .string("(415) 555-0132"), "empty": .string(""),
            "dateAdded": .string("2021-11-26T12:41:02.193Z"), "score": .number(87), "bad": .string("n/a"),
            "dndSettings": .object(JSONObject(["Call": .object(JSONObject(["status": .string("active")]))])),
        ]),
        tags: ["Cold Lead", "VIP"],
        customFields: [
            CustomFieldValue(id: "BcdmQE", key: "contact.lead_score", name: "Lead Score", value: .number(42))
        ]
    )

    static func render(_ text: String, region: PhoneRegion = .us) -> (String?, [String]) {
        let (template, errors) = Template.parse(text)
        guard let template else { fatalError("template did not parse: \(errors)") }
        var notes: [String] = []
        let value = template.render(contact, region: region) { notes.append($0) }
        return (value, notes)
    }

    /// The same template through the engine's compiled form (`FieldProgram`).
    static func renderCompiled(_ text: String, region: PhoneRegion = .us) -> (String?, [String]) {
        let (template, errors) = Template.parse(text)
        guard let template else { fatalError("template did not parse: \(errors)") }
        let program = FieldProgram(FieldTemplate(slug: "f", template: template), region: region)
        var notes: [String] = []
        let value = program.render(contact, &notes)
        return (value, notes)
    }

    static let cases: [(String, String?)] = [
        ("plain text", "plain text"),
        ("{{ lastName }}", "SILVA"),
        ("{{lastName|lower}}", "silva"),
        ("{{ firstName | trim | upper }}", "ANA MARIA"),
        ("{{ firstName | title }}", "  Ana Maria "),
        ("{{ firstName | trim | title }}", "Ana Maria"),
        ("{{ phone | digits }}", "4155550132"),
        ("{{ phone | e164 }}", "+14155550132"),
        ("{{ email | lower }}", "ana@example.com"),
        ("{{ lastName | truncate: 3 }}", "SIL"),
        ("{{ lastName | truncate: 0 }}", nil),
        ("{{ tags }}", "Cold Lead, VIP"),
        ("{{ tags | join: ' / ' }}", "Cold Lead / VIP"),
        ("{{ tags | lower | join: ';' }}", "cold lead;vip"),
        ("{{ dateAdded | date: 'yyyy-MM-dd' }}", "2021-11-26"),
        ("{{ dateAdded | date: 'd/M/yy HH:mm:ss.SSS' }}", "26/11/21 12:41:02.193"),
        ("{{ dateAdded | date: \"yyyy-MM-dd'T'HH\" }}", "2021-11-26T12"),
        ("{{ missing | default: 'Unknown' }}", "Unknown"),
        ("{{ empty | default: name }}", "Ana Silva"),
        ("{{ missing | default: empty | default: \"x\" }}", "x"),
        ("{{ missing }}", nil),
        ("{{ empty }}", nil),
        ("Hi {{ missing }}!", "Hi !"),
        ("{{ score }}", "87"),
        ("{{ customFields.lead_score }}", "42"),
        ("{{ customFields.BcdmQE }}", "42"),
        ("{{ dndSettings.Call.status | upper }}", "ACTIVE"),
        ("{{ id }}-{{ event.type }}", "c1-manual"),
        ("{{ firstName | trim }} {{ lastName | title }}", "ana maria Silva"),
        ("{{ firstName | default: name | default: 'Unknown' | trim }}", "ana maria"),
        ("{{ empty | default: dndSettings.Call.status }}", "active"),
        ("{{ missing | default: nowhere.at.all | default: 'z' }}", "z"),
        ("{{ bad | e164 | default: 'none' }}", "none"),
        ("{{ customFields.lead_score | default: 'x' }}", "42"),
        ("{{ tags | upper }}", "COLD LEAD, VIP"),
        ("", nil),
    ]

    @Test(arguments: cases)
    func rendersFilters(template: String, expected: String?) {
        #expect(Self.render(template).0 == expected)
    }

    /// The engine renders through closures compiled from the template; every case must come
    /// out the same, notes included.
    @Test(arguments: cases + [("{{ bad | e164 }}", nil), ("{{ lastName | date: 'yyyy' }}", nil)])
    func compiledRenderingAgrees(template: String, expected: String?) {
        let (value, notes) = Self.renderCompiled(template)
        #expect(value == expected)
        #expect(notes == Self.render(template).1)
    }

    /// The quick lower-casing `lower` and tag folding use is `lowercased()`, whatever the text.
    @Test(arguments: [
        "", "already lower", "Ana@Example.COM", "ÀÉÎ Straße", "MiXeD ü", "ǅ", "İstanbul", "@[`{", "Z", "A\u{0}B",
    ])
    func lowercasedQuicklyIsLowercased(text: String) {
        #expect(text.lowercasedQuickly == text.lowercased())
        #expect(Array(text.lowercasedQuickly.utf8) == Array(text.lowercased().utf8))
    }

    @Test func unparseablePhoneLeavesFieldOutWithANote() {
        let (value, notes) = Self.render("{{ bad | e164 }}")
        #expect(value == nil)
        #expect(notes == ["'n/a' at bad is not a phone number leadsync can normalise"])
    }

    @Test func unparseableDateLeavesFieldOutWithANote() {
        let (value, notes) = Self.render("{{ lastName | date: 'yyyy' }}")
        #expect(value == nil)
        #expect(notes == ["'SILVA' at lastName is not an ISO-8601 date"])
    }

    @Test(arguments: [
        ("{{ phone | e165 }}", "unknown filter 'e165'; did you mean 'e164'?", 11),
        ("x {{ phone", "unterminated '{{' (expected '}}')", 2),
        ("{{ }}", "empty expression in '{{ }}'", 0),
        ("{{ phone | }}", "empty filter after '|'", 11),
        ("{{ phone | truncate }}", "filter 'truncate' needs an argument ('truncate: ...')", 11),
        ("{{ phone | truncate: many }}", "truncate needs a whole number, got 'many'", 21),
        ("{{ phone | lower: 2 }}", "filter 'lower' takes no argument", 11),
        ("{{ tags | join: , }}", "join needs a quoted separator, e.g. join: ', '", 16),
        (
            "{{ dateAdded | date: 'yyyy-QQ' }}",
            "unsupported date pattern 'QQ' (use yyyy, yy, MM, M, dd, d, HH, H, mm, ss, SSS)", 27
        ),
        (
            "{{ first name }}", "'first name' is not a field path (expected e.g. firstName or customFields.lead_score)",
            3
        ),
        ("{{ x | default: 'open }}", "unterminated '{{' (expected '}}')", 0),
    ])
    func reportsTemplateErrors(template: String, message: String, offset: Int) {
        let (parsed, errors) = Template.parse(template)
        #expect(parsed == nil)
        #expect(errors == [Template.ParseError(message: message, offset: offset)])
    }
}
