import LeadsyncValues

/// Where a contact's data came from, and which of its fields that source may leave out although
/// the contact has them in GHL. The one list of what each GHL source may omit
/// (`docs/upstreams.md`, "Search results are not full contacts").
///
/// A missing value makes a condition on it false, as the rules language documents; that is right
/// for data that is truly absent, and wrong for data the source did not send. So a decision that
/// would put a contact into a bucket (or keep it there) on such data is not acted on until the
/// contact is completed (see `CompiledRules.fieldsToComplete`).
public enum ContactSource: Sendable, Equatable, CustomStringConvertible {
    /// A `POST /contacts/search` result: users report it answers without `dndSettings`.
    case search
    /// `GET /contacts/{id}`: the whole contact.
    case read
    /// A marketplace webhook of this event type: by GHL's schemas only `ContactDndUpdate`
    /// carries `dndSettings`.
    case webhook(String)
    /// A workflow step's own payload (`trust_workflow_payload`): snake_case fields, no DND
    /// settings at all.
    case workflowPayload
    /// A contact given by hand (a file, a rule test): taken as it is.
    case given

    /// Top-level contact keys this source may omit.
    public var mayOmit: Set<String> {
        switch self {
        case .search: return Self.dndKeys
        case .webhook(let type): return type == "ContactDndUpdate" ? ["inboundDndSettings"] : Self.dndKeys
        case .workflowPayload: return Self.dndKeys.union(["dnd"])
        case .read, .given: return []
        }
    }

    /// The per-channel do-not-disturb settings, which only a full read is sure to carry.
    public static let dndKeys: Set<String> = ["dndSettings", "inboundDndSettings"]

    public var description: String {
        switch self {
        case .search: return "GHL search"
        case .read: return "GET /contacts/{id}"
        case .webhook(let type): return "a \(type) webhook"
        case .workflowPayload: return "a workflow payload"
        case .given: return "the input"
        }
    }
}

extension CompiledRules {
    /// The top-level contact keys a condition reads (`dndSettings` for
    /// `dndSettings.Call.status`), with the names of the exclusions and rules that read them.
    public var fieldsRead: [String: [String]] {
        var out: [String: [String]] = [:]
        let owners =
            exclusions.filter { !$0.builtIn }.map { ($0.condition, "exclusion \($0.name)") }
            + rules.map { ($0.condition, "rule \($0.name)") }
        for (condition, owner) in owners {
            for key in condition.keysRead { out[key, default: []].append(owner) }
        }
        return out
    }

    /// The keys to read again before acting on `decision` for `contact` from `source`: only when
    /// the decision puts the contact in a bucket (or keeps it in one), and only keys that a
    /// condition reads, that the source may omit, that the contact lacks (absent, null or `{}`:
    /// `notSent`), and that the rules do
    /// not trust when absent (`completeness: trust_when_absent`). Empty: act on the data as it is.
    public func fieldsToComplete(_ contact: Contact, source: ContactSource, decision: Decision) -> [String] {
        guard !decision.buckets.isEmpty, !decision.deleted else { return [] }
        let omissible = source.mayOmit.subtracting(completeness.trustedWhenAbsent)
        guard !omissible.isEmpty else { return [] }
        return fieldsRead.keys.sorted().filter { omissible.contains($0) && Self.notSent($0, in: contact) }
    }

    /// Whether a source sent nothing for `key`: absent, null (GHL sends empty fields as null at
    /// least as often as it leaves them out), or an empty object (`"dndSettings": {}` carries
    /// no setting, whatever the contact has in GHL).
    static func notSent(_ key: String, in contact: Contact) -> Bool {
        switch contact.field(key) {
        case nil, .null?: return true
        case .object(let o)?: return o.entries.isEmpty
        default: return false
        }
    }
}

extension CompiledRules {
    /// Whether any exclusion holds for the phone (`by_phone`, the default).
    public var hasPhoneExclusions: Bool { exclusions.contains { $0.byPhone } }

    /// The top-level keys the by-phone exclusions read that `source` may have left out of
    /// `contact` (and the rules do not trust when absent): when not empty, what the contact's
    /// exclusions say cannot be taken for the phone without a full read.
    public func phoneExclusionFieldsToComplete(_ contact: Contact, source: ContactSource) -> [String] {
        let omissible = source.mayOmit.subtracting(completeness.trustedWhenAbsent)
        guard !omissible.isEmpty else { return [] }
        let keys = Set(exclusions.filter(\.byPhone).flatMap(\.condition.keysRead))
        return keys.sorted().filter { omissible.contains($0) && Self.notSent($0, in: contact) }
    }
}

/// `completeness:` in the rules file.
public struct CompletenessSettings: Sendable, Equatable {
    /// Top-level keys taken as absent when a source leaves them out, instead of re-reading the
    /// contact: fewer GHL calls, at the risk of dialling on a DND setting the source did not send.
    public var trustedWhenAbsent: Set<String> = []
    public init(trustedWhenAbsent: Set<String> = []) { self.trustedWhenAbsent = trustedWhenAbsent }
}
