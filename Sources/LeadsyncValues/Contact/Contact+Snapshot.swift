/// A contact as last evaluated, stored compactly so that `leadsync plan` can evaluate other rules
/// over the whole population without reading GHL again: its fields (with `id`), its tags as
/// spelt, its custom fields (id, key, value) and what brought it in.
extension Contact {
    /// The snapshot's JSON text: `{"f": fields, "t": tags, "c": [[id, key, value]], "e": type}`.
    public var snapshot: String {
        var o = JSONObject()
        o["f"] = .object(fields)
        o["t"] = .array(tags.map(JSON.string))
        if !customFields.isEmpty {
            o["c"] = .array(
                customFields.map { cf in
                    .array([cf.id.map(JSON.string) ?? .null, cf.key.map(JSON.string) ?? .null, cf.value])
                })
        }
        o["e"] = .string(eventType)
        return JSONWriter.encode(.object(o))
    }

    /// A contact from its `snapshot`; nil when the text is not one.
    public init?(snapshot bytes: [UInt8]) {
        guard let json = try? JSONParser.parse(bytes), case .object(let fields)? = json["f"],
            let id = fields["id"]?.stringValue
        else { return nil }
        let tags = json["t"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let custom: [CustomFieldValue] =
            json["c"]?.arrayValue?.compactMap { item in
                guard let parts = item.arrayValue, parts.count == 3 else { return nil }
                return CustomFieldValue(id: parts[0].stringValue, key: parts[1].stringValue, value: parts[2])
            } ?? []
        self.init(
            id: id, fields: fields, tags: tags, customFields: custom, eventType: json["e"]?.stringValue ?? "batch")
    }

    /// FNV-1a over the snapshot's bytes: whether it changed since it was stored.
    public static func snapshotHash(_ text: String) -> Int64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        return Int64(bitPattern: h)
    }
}
