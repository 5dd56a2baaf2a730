import Testing

@testable import LeadsyncCore
@testable import LeadsyncValues

@Suite struct InboundContactTests {
    let catalog = CustomFieldCatalog([
        .init(id: "BcdmQEsNgz6AVpgLVUJ0", key: "contact.lead_score", name: "Lead Score")
    ])

    func decode(_ text: String) throws -> InboundContact {
        try InboundContact.decode(try JSONParser.parse(text), catalog: catalog)
    }

    /// Rules read the id as a field (`{{ id }}`, `field: id`); changing it changes both.
    @Test func theIdAndTheIdFieldStayTheSame() {
        var c = Contact(id: "a", fields: JSONObject(["id": .string("stale"), "firstName": .string("Ana")]))
        #expect(c.field("id") == .string("a"))
        c.id = "b"
        #expect(c.id == "b" && c.field("id") == .string("b") && c.field("firstName") == .string("Ana"))
        #expect(c.fields.keys == ["id", "firstName"])
    }

    @Test func apiContactWrapped() throws {
        let c = try decode(
            #"{"contact":{"id":"abc","firstName":"Lee","tags":["A ","b"],"customFields":[{"id":"BcdmQEsNgz6AVpgLVUJ0","value":87}]}}"#
        )
        #expect(c.shape == .api)
        #expect(c.contact.id == "abc")
        #expect(c.contact.tags == ["A ", "b"])
        #expect(c.contact.foldedTags == ["a", "b"])
        #expect(c.contact.eventType == "manual")
        #expect(c.contact.value(at: FieldPath("customFields.lead_score")) == .number(87))
        #expect(c.contact.value(at: FieldPath("customFields.BcdmQEsNgz6AVpgLVUJ0")) == .number(87))
        #expect(c.contact.value(at: FieldPath("customFields.Lead Score")) == .number(87))
        #expect(c.webhookId == nil)
    }

    @Test func apiContactBare() throws {
        let c = try decode(#"{"id":"abc","phone":"+15551234567"}"#)
        #expect(c.shape == .api)
        #expect(c.contact.value(at: FieldPath("phone")) == .string("+15551234567"))
        #expect(c.contact.value(at: FieldPath("id")) == .string("abc"))
    }

    @Test(arguments: ["ContactCreate", "ContactUpdate", "ContactTagUpdate", "ContactDndUpdate", "ContactDelete"])
    func marketplaceEvents(type: String) throws {
        let c = try decode(
            #"""
            {"type":"\#(type)","locationId":"loc","id":"nmF","firstName":"John","tags":["cold lead"],
             "dndSettings":{"Call":{"status":"active"}},
             "timestamp":"2025-08-26T11:36:43.463Z","webhookId":"9062e8fb"}
            """#)
        #expect(c.shape == .marketplace)
        #expect(c.contact.id == "nmF")
        #expect(c.contact.eventType == type)
        #expect(c.contact.locationId == "loc")
        #expect(c.webhookId == "9062e8fb")
        #expect(c.timestamp == Timestamp(iso8601: "2025-08-26T11:36:43.463Z"))
        #expect(c.deleted == (type == "ContactDelete"))
        #expect(c.contact.value(at: FieldPath("dndSettings.Call.status")) == .string("active"))
        #expect(c.contact.value(at: FieldPath("type")) == nil)  // the event type is not a contact field
        #expect(c.contact.value(at: FieldPath("event.type")) == .string(type))
    }

    /// Every GHL contact carries its own `type` (the contact type): it is data, never an event.
    @Test(arguments: ["lead", "customer", "", "Lead"])
    func contactTypeIsData(type: String) throws {
        let c = try decode(#"{"id":"c9","type":"\#(type)","tags":["cold lead"],"locationId":"loc"}"#)
        #expect(c.shape == .api)
        #expect(c.contact.eventType == "manual")
        #expect(c.contact.value(at: FieldPath("type")) == .string(type))
    }

    @Test func aContactTypeThatIsNotAStringIsDataToo() throws {
        let c = try decode(#"{"id":"x","type":5}"#)
        #expect(c.shape == .api)
        #expect(c.contact.value(at: FieldPath("type")) == .number(5))
    }

    /// A webhook envelope (`webhookId`, `timestamp`, `appId`) makes `type` an event name.
    @Test func anEnvelopeMakesTypeAnEvent() {
        #expect(throws: PayloadError("event type 'lead' does not concern contacts", ignorable: true)) {
            try decode(#"{"type":"lead","id":"c1","webhookId":"w1"}"#)
        }
        #expect(throws: PayloadError("event type 'INSTALL' does not concern contacts", ignorable: true)) {
            try decode(#"{"type":"INSTALL","appId":"a","locationId":"l","id":"x"}"#)
        }
    }

    /// Search results, re-reads: `.api` whatever the keys.
    @Test func expectingAnAPIContactNeverReadsAnEnvelope() throws {
        let c = try InboundContact.decode(
            try JSONParser.parse(#"{"id":"c1","type":"ContactCreate","timestamp":"x"}"#), defaultEventType: "batch",
            expecting: .api)
        #expect(c.shape == .api)
        #expect(c.contact.eventType == "batch")
        #expect(c.contact.value(at: FieldPath("type")) == .string("ContactCreate"))
    }

    @Test func otherEventTypesAreIgnorable() {
        #expect(throws: PayloadError("event type 'OpportunityCreate' does not concern contacts", ignorable: true)) {
            try decode(#"{"type":"OpportunityCreate","id":"o1","locationId":"l"}"#)
        }
    }

    @Test func workflowPayload() throws {
        let c = try decode(
            #"""
            {"contact_id":"Zx9","first_name":"Dev","last_name":"Patel","full_name":"Dev Patel","phone":"+16465550199",
             "tags":"newsletter, Cold Lead ,","contact_source":"facebook","contact_type":"lead",
             "date_created":"2026-09-01T14:00:00.000Z","Lead Score":"42","Favourite Colour":"blue",
             "location":{"id":"loc9","name":"x"},"workflow":{"id":"w","name":"y"},
             "customData":"{\"campaign\":\"fall\"}"}
            """#)
        #expect(c.shape == .workflow)
        #expect(c.contact.id == "Zx9")
        #expect(c.contact.eventType == "workflow")
        #expect(c.contact.tags == ["newsletter", "Cold Lead"])
        #expect(c.contact.locationId == "loc9")
        #expect(c.contact.value(at: FieldPath("firstName")) == .string("Dev"))
        #expect(c.contact.value(at: FieldPath("name")) == .string("Dev Patel"))
        #expect(c.contact.value(at: FieldPath("source")) == .string("facebook"))
        #expect(c.contact.value(at: FieldPath("type")) == .string("lead"))
        #expect(c.contact.value(at: FieldPath("dateAdded")) == .string("2026-09-01T14:00:00.000Z"))
        #expect(c.contact.value(at: FieldPath("customData.campaign")) == .string("fall"))
        // Custom fields arrive by display name; the catalog maps them to keys and ids.
        #expect(c.contact.value(at: FieldPath("customFields.lead_score")) == .string("42"))
        #expect(c.contact.value(at: FieldPath("customFields.BcdmQEsNgz6AVpgLVUJ0")) == .string("42"))
        #expect(c.contact.value(at: FieldPath("customFields.favourite colour")) == .string("blue"))
    }

    @Test func workflowCustomDataAsObjectAndTagsAsArray() throws {
        let c = try decode(#"{"contact_id":"z","tags":["a","b"],"customData":{"k":1}}"#)
        #expect(c.contact.tags == ["a", "b"])
        #expect(c.contact.value(at: FieldPath("customData.k")) == .number(1))
    }

    @Test(arguments: [
        (#"[1]"#, "expected a JSON object, found array"),
        (#"{"firstName":"x"}"#, "no contact id ('id')"),
        (#"{"id":7}"#, "'id' must be a non-empty string"),
        (#"{"id":"  "}"#, "'id' must be a non-empty string"),
        (#"{"contact_id":null}"#, "no contact id ('contact_id')"),
        (#"{"type":"ContactCreate","locationId":"l"}"#, "no contact id ('id')"),
        (
            #"{"contacts":[{"id":"a"}],"total":1}"#,
            "a list of contacts ('contacts'), not one contact: give its items one by one"
        ),
        (#"{"id":"x","tags":5}"#, "'tags' must be an array or a comma-separated string, found number"),
        (#"{"id":"x","tags":[1]}"#, "'tags' must hold strings, found number"),
        (#"{"id":"x","customFields":[1]}"#, "'customFields' entries must be objects, found number"),
    ])
    func rejectsUnusablePayloads(text: String, message: String) {
        #expect(throws: PayloadError(message)) { try decode(text) }
    }

    /// DND values in the forms that mean one thing are made one; channels GHL does not document
    /// are data, kept as they came.
    @Test func dndValuesAreMadeOneForm() throws {
        let c = try decode(
            #"""
            {"id":"d","dnd":"TRUE","dndSettings":{"Call":{"status":" Active ","message":"x"},"SMS":null,
             "Email":{"message":"no status"},"RCS":"whatever"},"inboundDndSettings":{"all":{"status":"inactive"}}}
            """#)
        #expect(c.contact.field("dnd") == .bool(true))
        #expect(c.contact.value(at: FieldPath("dndSettings.Call.status")) == .string("active"))
        #expect(c.contact.value(at: FieldPath("dndSettings.Call.message")) == .string("x"))
        #expect(c.contact.value(at: FieldPath("dndSettings.RCS")) == .string("whatever"))
        #expect(c.contact.value(at: FieldPath("inboundDndSettings.all.status")) == .string("inactive"))
        #expect(try decode(#"{"id":"d","dnd":0}"#).contact.field("dnd") == .bool(false))
        #expect(try decode(#"{"id":"d","dnd":null,"dndSettings":null}"#).contact.field("dnd") == .null)
        let workflow = try decode(#"{"contact_id":"w","dnd":"false"}"#)
        #expect(workflow.contact.field("dnd") == .bool(false))
        let event = try decode(
            #"{"type":"ContactDndUpdate","id":"m","locationId":"l","dnd":1,"dndSettings":{"Call":{"status":"PERMANENT"}}}"#
        )
        #expect(event.contact.field("dnd") == .bool(true))
        #expect(event.contact.value(at: FieldPath("dndSettings.Call.status")) == .string("permanent"))
    }

    /// A DND value leadsync cannot read would make "do not call" read as "call": the contact is
    /// refused instead, whichever shape brought it.
    @Test(arguments: [
        (#"{"id":"x","dnd":"yes"}"#, #"'dnd' must be true or false, found string "yes""#),
        (#"{"id":"x","dnd":2}"#, "'dnd' must be true or false, found number 2"),
        (
            #"{"id":"x","dnd":""# + String(repeating: "é", count: 5000) + #""}"#,
            "'dnd' must be true or false, found string \"" + String(repeating: "é", count: 39) + "…"
        ),
        (
            #"{"id":"x","dndSettings":"{\"Call\":{\"status\":\"active\"}}"}"#,
            #"'dndSettings' must be an object of channels, found string "{\"Call\":{\"status\":\"active\"}}""#
        ),
        (
            #"{"id":"x","dndSettings":{"Call":"active"}}"#,
            #"'dndSettings.Call' must be an object, found string "active""#
        ),
        (
            #"{"id":"x","dndSettings":{"Call":{"status":true}}}"#,
            "'dndSettings.Call.status' must be a string, found boolean true"
        ),
        (
            #"{"id":"x","dndSettings":{"Call":{"status":"blocked"}}}"#,
            #"'dndSettings.Call.status' must be active, inactive or permanent, found string "blocked""#
        ),
        (
            #"{"id":"x","inboundDndSettings":{"all":[1]}}"#,
            "'inboundDndSettings.all' must be an object, found array [1]"
        ),
        (
            #"{"type":"ContactDndUpdate","id":"m","locationId":"l","dndSettings":[]}"#,
            "'dndSettings' must be an object of channels, found array []"
        ),
        (#"{"contact_id":"w","dnd":"maybe"}"#, #"'dnd' must be true or false, found string "maybe""#),
    ])
    func anUnreadableDndValueRefusesTheContact(text: String, message: String) {
        #expect(throws: PayloadError(message + ": leadsync does not act on a contact whose DND it cannot read")) {
            try decode(text)
        }
    }

    @Test func customFieldCatalogFromGHLResponse() throws {
        let json = try JSONParser.parse(
            #"{"customFields":[{"id":"i1","name":"Lead Score","fieldKey":"contact.lead_score","dataType":"NUMERICAL"}]}"#
        )
        let catalog = try CustomFieldCatalog(ghlResponse: json)
        #expect(catalog.definition(id: "i1") == .init(id: "i1", key: "lead_score", name: "Lead Score"))
    }
}
