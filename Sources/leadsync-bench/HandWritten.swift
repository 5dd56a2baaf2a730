import LeadsyncCore
import LeadsyncValues

/// `rules/cold-leads.yaml`, written by hand the way the original worker hard-coded its routing:
/// the yardstick for the compiled engine. It must agree with the engine on every contact (the
/// benchmark checks), and it fills the same `Decision` as the engine's untraced evaluation:
/// which exclusions matched and which rules applied, no per-rule trace.
struct HandWrittenColdLeads {
    let coldLeads: Int
    let activeClients: Int

    init(rules: CompiledRules) {
        coldLeads = rules.bucketIndex(named: "cold_leads")!
        activeClients = rules.bucketIndex(named: "active_clients")!
    }

    static let customerWords: [StaticString] = ["customer", "customers", "client", "clients", "purchased"]
    static let coldWords: [StaticString] = ["cold", "new lead", "prospect", "prospects"]
    static let activeTags = ["aca active 2025", "aca active 2026"]

    /// True when `phrase` occurs in `tag` with a non-word character (or the edge) on each side:
    /// the regex `\bphrase\b`, by hand, over UTF-8 without allocating.
    @inline(__always)
    static func hasWord(_ tag: String, _ phrase: StaticString, notFollowedBy excluded: UInt8? = nil) -> Bool {
        var tag = tag
        return tag.withUTF8 { t in
            let p = UnsafeBufferPointer(start: phrase.utf8Start, count: phrase.utf8CodeUnitCount)
            guard p.count <= t.count else { return false }
            var i = 0
            while i + p.count <= t.count {
                if t[i] == p[0] {
                    var k = 1
                    while k < p.count && t[i + k] == p[k] { k += 1 }
                    if k == p.count {
                        let before = i == 0 || !isWordByte(t[i - 1])
                        let after =
                            i + p.count == t.count || (!isWordByte(t[i + p.count]) && t[i + p.count] != excluded)
                        if before && after { return true }
                    }
                }
                i += 1
            }
            return false
        }
    }

    @inline(__always)
    static func anyWord(_ tags: [String], _ words: [StaticString]) -> Bool {
        for tag in tags {
            for w in words where hasWord(tag, w) { return true }
        }
        return false
    }

    static func digitCount(_ s: String) -> Int { s.utf8.reduce(0) { $0 + (($1 >= 0x30 && $1 <= 0x39) ? 1 : 0) } }

    func decide(_ c: Contact, state: ContactState) -> Decision {
        let tags = c.foldedTags
        // `won` counts unless an apostrophe follows ("won't"), as in the rules' regex.
        let customer =
            Self.anyWord(tags, Self.customerWords) || tags.contains { Self.hasWord($0, "won", notFollowedBy: 0x27) }
        let phone = c.fields["phone"]?.stringValue ?? ""
        let noPhone = phone.isEmpty || Self.digitCount(phone) < 7
        var dnc = c.fields["dnd"] == .bool(true)
        if case .string(let s)? = c.fields["dndSettings"]?["Call"]?["status"], s == "active" || s == "permanent" {
            dnc = true
        }
        var excluded = IndexBits()
        for (i, matched) in [state.markedCustomer, customer, noPhone, dnc].enumerated() where matched {
            excluded.insert(i)
        }

        var applied = IndexBits()
        var buckets: [Int] = []
        var ct = TagChanges()
        var marks = false
        if tags.contains(where: Self.activeTags.contains), !noPhone, !dnc {
            applied.insert(0)
            buckets = [activeClients]
            ct = TagChanges(add: ["ACA Active client"], remove: ["ACA Cold lead"])
            marks = true
        } else if customer {
            applied.insert(1)
            ct = TagChanges(remove: ["ACA Cold lead"])
            marks = true
        } else if Self.anyWord(tags, Self.coldWords), !state.markedCustomer, !noPhone, !dnc {
            applied.insert(2)
            buckets = [coldLeads]
            ct = TagChanges(add: ["ACA Cold lead"])
        }
        var fields: [FieldValue] = []
        if !applied.isEmpty {
            let first = c.fields["firstName"]?.stringValue ?? ""
            let name = c.fields["name"]?.stringValue ?? ""
            let f = (first.isEmpty ? (name.isEmpty ? "Unknown" : name) : first).trimmedASCII
            if !f.isEmpty { fields.append(FieldValue(slug: "first_name", value: f)) }
            if let last = c.fields["lastName"]?.stringValue?.trimmedASCII, !last.isEmpty {
                fields.append(FieldValue(slug: "last_name", value: last))
            }
            if let e164 = PhoneNumber.e164(phone) {
                fields.append(FieldValue(slug: "mobile_phone_number", value: e164))
            }
            if let email = c.fields["email"]?.stringValue?.trimmedASCII.lowercasedQuickly, !email.isEmpty {
                fields.append(FieldValue(slug: "personal_email_address", value: email))
            }
            fields.append(FieldValue(slug: "crm_id", value: c.id))
        }
        return Decision(
            contactId: c.id, eventType: c.eventType, buckets: buckets, keptCurrentBuckets: false, fields: fields,
            calltoolsTags: ct, ghlTags: TagChanges(), markedCustomer: state.markedCustomer || marks,
            marksCustomer: marks && !state.markedCustomer, deleted: false, applied: applied, excluded: excluded,
            trace: Trace(exclusions: [], rules: []))
    }
}

@inline(__always)
func isWordByte(_ b: UInt8) -> Bool {
    (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == 0x5F
}
