/// The do-not-disturb keys of a contact, checked and put in one form as the contact is decoded.
///
/// A condition on a value of the wrong type is false, as on a missing one, and for DND that
/// means dialling: `dndSettings` sent as a string, or `"dnd": "yes"`, used to read as "no DND".
/// So a DND value leadsync cannot read makes the contact unusable (reported, counted, not acted
/// on: a new lead is not dialled), and the forms that mean one thing are made one:
/// - `dnd`: `true` / `false`; the strings `"true"` / `"false"` and the numbers 1 / 0 (what form
///   tools and workflow steps send) become booleans; null is no setting.
/// - `dndSettings` / `inboundDndSettings`: an object of channels, each an object whose `status`
///   is one of GHL's (`active`, `inactive`, `permanent`), compared without case or surrounding
///   space and stored lower-case. A null channel or a channel without a status is no setting.
///   Channels GHL does not document (`RCS` has been seen) are data: kept as they came, and
///   never a reason to refuse the contact.
public enum DNDValues {
    /// The contact keys that say "do not call" (what the `do-not-call` check looks for).
    public static let keys: Set<String> = ["dnd", "dndSettings", "inboundDndSettings"]

    /// The channels of `dndSettings` in GHL's schema (`DndSettingsSchema`), in its order: the
    /// ones a rule may name (`dndSettings.Call.status`).
    public static let settingsChannels = ["Call", "SMS", "Email", "WhatsApp", "GMB", "FB"]

    /// The documented channels of each settings key (`inboundDndSettings`:
    /// `InboundDndSettingsSchema`).
    static let channels: [String: Set<String>] = [
        "dndSettings": Set(settingsChannels),
        "inboundDndSettings": ["all"],
    ]

    /// GHL's statuses (`DndSettingSchema.status`; the inbound schema has the first two).
    static let statuses: Set<String> = ["active", "inactive", "permanent"]

    /// `value` of `key` (one of `keys`) in its one form, or a one-line reason it cannot be read.
    static func normalised(_ key: String, _ value: JSON) throws(PayloadError) -> JSON {
        switch key {
        case "dnd": return try flag(value)
        default: return try settings(key, value)
        }
    }

    static func flag(_ value: JSON) throws(PayloadError) -> JSON {
        switch value {
        case .bool, .null: return value
        case .string(let s):
            switch s.trimmedASCII.lowercasedQuickly {
            case "true": return .bool(true)
            case "false": return .bool(false)
            default: break
            }
        case .number(let n) where n == 1 || n == 0: return .bool(n == 1)
        default: break
        }
        throw refusal("'dnd' must be true or false", value)
    }

    static func settings(_ key: String, _ value: JSON) throws(PayloadError) -> JSON {
        guard case .object(var object) = value else {
            if value.isNull { return value }
            throw refusal("'\(key)' must be an object of channels", value)
        }
        let known = channels[key] ?? []
        for i in object.entries.indices {
            let channel = object.entries[i].key
            guard known.contains(channel) else { continue }
            switch object.entries[i].value {
            case .null: continue
            case .object(var setting):
                guard let at = setting.entries.firstIndex(where: { $0.key == "status" }) else { continue }
                switch setting.entries[at].value {
                case .null: continue
                case .string(let s):
                    let status = s.trimmedASCII.lowercasedQuickly
                    guard statuses.contains(status) else {
                        throw refusal("'\(key).\(channel).status' must be active, inactive or permanent", .string(s))
                    }
                    if status != s {
                        setting.entries[at].value = .string(status)
                        object.entries[i].value = .object(setting)
                    }
                case let other:
                    throw refusal("'\(key).\(channel).status' must be a string", other)
                }
            case let other:
                throw refusal("'\(key).\(channel)' must be an object", other)
            }
        }
        return .object(object)
    }

    /// The reason, the value that broke it (cut short: it may be huge), and what follows.
    static func refusal(_ rule: String, _ value: JSON) -> PayloadError {
        var text = JSONWriter.encode(value)
        if text.count > 40 { text = String(text.prefix(40)) + "…" }
        return PayloadError(
            "\(rule), found \(value.typeName) \(text): leadsync does not act on a contact whose DND it cannot read")
    }
}
