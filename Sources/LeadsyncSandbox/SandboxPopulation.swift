import LeadsyncValues

/// GHL contacts shaped as GHL's API returns them (`GetContectByIdSchema` in
/// `upstream/apps/contacts.json`, and the public captures described in docs/upstreams.md), not
/// as leadsync would like them: every property real GHL sends, `null` about as often as
/// omission, the contact's own `type`, extra keys no schema lists, per-channel DND settings
/// (with channels beyond the documented six), custom field values of every type, names in any
/// script, emoji and stray spaces in tags, and now and then a very long value.
///
/// Deterministic: contact `i` is always the same. The routing-relevant parts follow a simple
/// pattern that tests rely on: every third contact is tagged as a cold lead, every tenth as an
/// active client, every seventeenth has no phone, and one in 55 has the phone of the contact
/// before it, a Call-DND contact (`sharesPhoneWith`); phones are otherwise unique.
public enum SandboxPopulation {
    public static func id(_ i: Int) -> String { "sbx" + String(i).leftPadded(to: 7, with: "0") }

    static let firstNames = ["Ana", "José", "Zoë", "Мария", "李", "محمد", "Ben", "Cleo", " Dev ", "Eve", "Fay", "Søren"]
    static let lastNames = ["Sandbox", "García", "Müller", "Иванова", "王", "O'Brien", "Nguyễn", "Smith 🚀"]
    static let channels = ["Call", "SMS", "Email", "WhatsApp", "GMB", "FB"]

    /// Contacts whose `dndSettings.Call.status` is active or permanent while `dnd` stays false:
    /// the case search may hide (every eleventh contact, alternating the two statuses).
    public static func hasCallDND(_ i: Int) -> Bool { i % 11 == 5 }

    /// The contact whose phone contact `i` has too (two GHL records, one person or one
    /// household): the one before it, which has Call DND set. Nil for all others.
    public static func sharesPhoneWith(_ i: Int) -> Int? {
        i % 55 == 6 && (i - 1) % 17 != 0 ? i - 1 : nil
    }

    public static func contact(_ i: Int, locationId: String = "sandboxLocation0001") -> JSONObject {
        var c = JSONObject()
        let id = self.id(i)
        c["id"] = .string(id)
        c["locationId"] = .string(locationId)
        let first = firstNames[i % firstNames.count]
        let last = lastNames[i % lastNames.count] + (i % lastNames.count == 0 ? "\(i)" : "")
        // Empty fields: null about as often as omitted.
        if i % 23 == 7 {
            c["firstName"] = .null
        } else {
            c["firstName"] = .string(first)
        }
        c["lastName"] = .string(last)
        c["firstNameRaw"] = .string(first)
        c["lastNameRaw"] = .string(last)
        c["name"] = .string("\(first.trimmedASCII) \(last)")
        c["contactName"] = .string("\(first.trimmedASCII) \(last)".lowercased())
        switch i % 9 {
        case 0: c["email"] = .null
        case 1: break
        default: c["email"] = .string("lead\(i)@example.com")
        }
        if let email = c["email"]?.stringValue { c["emailLowerCase"] = .string(email.lowercased()) }
        if let other = sharesPhoneWith(i) {
            c["phone"] = .string(phone(other))
        } else if i % 17 != 0 {
            c["phone"] = .string(phone(i))
        } else if i % 34 == 0 {
            c["phone"] = .null
        }
        c["type"] = .string(i % 15 == 4 ? "customer" : "lead")
        c["source"] = i % 4 == 0 ? .null : .string(["xyz form", "public api", "Facebook Lead Ad", "csv import"][i % 4])
        c["timezone"] = .string(["America/New_York", "America/Los_Angeles", "Europe/Berlin", "Asia/Calcutta"][i % 4])
        c["country"] = .string(["US", "US", "DE", "IN", "BR"][i % 5])
        c["companyName"] =
            i % 97 == 3
            ? .string(String(repeating: "Very Long Company Name ", count: 300))
            : (i % 3 == 0 ? .null : .string("Acme \(i % 40)"))
        c["address1"] = i % 5 == 0 ? .null : .string("\(100 + i) Market St")
        c["city"] = .string(["San Francisco", "München", "São Paulo", "Zürich"][i % 4])
        c["state"] = .string(["CA", "BY", "SP", "ZH"][i % 4])
        c["postalCode"] = .string(String(90_000 + i % 1000))
        c["website"] = i % 6 == 0 ? .string("https://example.com/\(i)") : .null
        c["assignedTo"] = i % 8 == 0 ? .null : .string("user\(i % 5)")
        c["dateOfBirth"] = i % 10 == 3 ? .string("1980-0\(1 + i % 9)-1\(i % 10)") : .null
        c["businessId"] = i % 7 == 0 ? .string("641c094001436dbc2081e642") : .null
        c["followers"] = .array([])
        c["additionalEmails"] = .array(i % 20 == 0 ? [.string("alt\(i)@example.com")] : [])
        c["additionalPhones"] = .array([])
        c["attributionSource"] = .object(
            JSONObject([
                "url": .string(i % 2 == 0 ? "https://example.com/form" : "Trigger Link"),
                "medium": .string(i % 2 == 0 ? "form" : "manual"), "sessionSource": .string("CRM UI"),
            ]))
        c["lastActivity"] = i % 3 == 0 ? .null : .number(Double(1_700_000_000_000 + Int64(i) * 1000))

        var tags: [JSON] = []
        if i % 3 == 0 { tags.append(.string(i % 6 == 0 ? "cold lead" : " Cold Lead ")) }
        if i % 10 == 0 { tags.append(.string("ACA Active 2026")) }
        if i % 5 == 1 { tags.append(.string("newsletter")) }
        if i % 7 == 2 { tags.append(.string("🔥 hot")) }
        c["tags"] = .array(tags)

        c["dnd"] = .bool(i % 29 == 13)
        if i % 4 != 3 || hasCallDND(i) {
            var settings = JSONObject()
            for (k, channel) in channels.enumerated() where (i + k) % 3 != 0 || channel == "Call" {
                var status = "inactive"
                if channel == "Call" && hasCallDND(i) { status = (i / 11) % 2 == 0 ? "active" : "permanent" }
                if channel == "SMS" && i % 13 == 1 { status = "active" }
                settings[channel] = .object(
                    JSONObject(["status": .string(status), "message": .string(""), "code": .string("")]))
            }
            if i % 19 == 0 { settings["RCS"] = .object(JSONObject(["status": .string("inactive")])) }
            c["dndSettings"] = .object(settings)
        }
        if i % 12 == 0 {
            c["inboundDndSettings"] = .object(
                JSONObject(["all": .object(JSONObject(["status": .string("inactive"), "message": .string("")]))]))
        }

        // Custom fields: strings, numbers, multi-select arrays, dates as epoch milliseconds.
        var custom: [JSON] = [
            .object(JSONObject(["id": .string("cfLeadScore0000000001"), "value": .number(Double(i % 100))]))
        ]
        if i % 2 == 0 {
            custom.append(
                .object(
                    JSONObject([
                        "id": .string("cfInterests000000002"), "value": .array([.string("solar"), .string("ev")]),
                    ])))
        }
        if i % 3 == 1 {
            custom.append(
                .object(
                    JSONObject([
                        "id": .string("cfLastCall0000000003"),
                        "value": .number(Double(1_690_000_000_000 + Int64(i) * 1000)),
                    ])))
        }
        if i % 4 == 2 {
            custom.append(
                .object(JSONObject(["id": .string("cfNotes00000000000004"), "value": .string("Notes für \(i) ✓")])))
        }
        c["customFields"] = .array(custom)

        let added = 1_700_000_000_000 + Int64(i) * 60_000
        c["dateAdded"] = .string(Timestamp(milliseconds: added).iso8601)
        c["dateUpdated"] = .string(Timestamp(milliseconds: added + 3_600_000).iso8601)
        return c
    }

    /// Contact `i`'s phone: E.164 mostly, as GHL's API returns it, and now and then as a lead
    /// typed it (national formats with punctuation, an extension, a spaced international form).
    /// Every form names the same number, `+1415` followed by `2000000 + i`.
    public static func phone(_ i: Int) -> String {
        let line = String(2_000_000 + i).leftPadded(to: 7, with: "0")
        let (a, b) = (line.prefix(3), line.suffix(4))
        switch i % 13 {
        case 2: return "(415) \(a)-\(b)"
        case 6: return "415.\(a).\(b) ext. \(i % 90 + 10)"
        case 9: return "+1 415 \(a) \(b)"
        case 11: return "1-415-\(a)-\(b)"
        default: return "+1415" + line
        }
    }

    /// The custom field definitions of the location the contacts above use.
    public static let customFields: [CustomFieldCatalog.Definition] = [
        .init(id: "cfLeadScore0000000001", key: "lead_score", name: "Lead Score"),
        .init(id: "cfInterests000000002", key: "interests", name: "Interests"),
        .init(id: "cfLastCall0000000003", key: "last_call", name: "Last Call"),
        .init(id: "cfNotes00000000000004", key: "notes", name: "Notes"),
    ]

    /// Seeds `count` contacts into `state`.
    public static func seed(_ state: SandboxState, count: Int) async {
        await state.setCustomFields(customFields)
        for i in 0..<count { await state.putGHLContact(contact(i, locationId: state.locationId)) }
    }
}
