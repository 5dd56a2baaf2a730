import LeadsyncCore
import LeadsyncStore
import LeadsyncSync
import LeadsyncUpstream
import LeadsyncValues
import Synchronization

/// One call the executor would make, as a dry run records it.
public enum PlannedCall: Sendable, Equatable {
    case buckets
    case ensureTag(String)
    case tag(String)
    case lookup(phone: String)
    case create(CallToolsBody)
    case update(id: Int, CallToolsBody)
    case ghlAddTags(contact: String, [String])
    case ghlRemoveTags(contact: String, [String])
}

/// CallTools and GHL for a dry run: every call the executor makes is recorded instead of sent.
/// A phone lookup finds no one (the plan then shows the create it would guard); names CallTools
/// has not given ids for yet get placeholder ids, shown as `<bucket NAME>` / `<tag NAME>`.
public final class RecordingUpstream: CallToolsAPI, GHLAPI, Sendable {
    struct State {
        var calls: [PlannedCall] = []
        var tagIds: [String: Int] = [:]
        /// Phone → contacts planned in this dry run with their by-phone exclusions: a later
        /// contact with the same phone sees them as a real pass sees the records it wrote.
        var phones: [String: [(id: String, exclusions: [String])]] = [:]
    }
    private let state = Mutex(State())
    /// CallTools bucket name → placeholder id, and back.
    let bucketIds: [String: Int]
    let names: [Int: String]

    public init(rules: CompiledRules) {
        var ids: [String: Int] = [:]
        var names: [Int: String] = [:]
        for (i, b) in rules.buckets.enumerated() {
            guard case .name(let ctName) = b.reference else { continue }
            ids[ctName] = -(i + 1)
            names[-(i + 1)] = b.name
        }
        self.bucketIds = ids
        self.names = names
    }

    /// The calls recorded since the last drain, in order.
    public func drain() -> [PlannedCall] {
        state.withLock { s in
            defer { s.calls.removeAll() }
            return s.calls
        }
    }

    private func record(_ call: PlannedCall) { state.withLock { $0.calls.append(call) } }

    /// A contact this dry run planned, with the by-phone exclusions it matched.
    public func notePhone(_ phone: String, id: String, exclusions: [String]) {
        state.withLock { s in
            s.phones[phone, default: []].removeAll { $0.id == id }
            s.phones[phone, default: []].append((id, exclusions))
        }
    }

    /// The other contacts with `phone` this dry run planned.
    public func plannedSiblings(_ phone: String, except id: String) -> [PhoneSibling] {
        state.withLock { s in
            (s.phones[phone] ?? []).filter { $0.id != id }.map {
                PhoneSibling(
                    ghlId: $0.id, record: PhoneRecord(phone: phone, exclusions: $0.exclusions, complete: true),
                    applied: .new)
            }
        }
    }

    public func buckets() async throws -> [String: Int] {
        record(.buckets)
        return bucketIds
    }

    public func ensureTag(_ name: String) async throws -> Int {
        record(.ensureTag(name))
        return placeholder(tag: name)
    }

    public func tag(named name: String) async throws -> Int? {
        record(.tag(name))
        return placeholder(tag: name)
    }

    private func placeholder(tag name: String) -> Int {
        state.withLock { s in
            let key = name.foldedForComparison
            if let id = s.tagIds[key] { return id }
            let id = -1000 - s.tagIds.count
            s.tagIds[key] = id
            return id
        }
    }

    public func findByPhone(_ e164: String) async throws -> [CallToolsContact] {
        record(.lookup(phone: e164))
        return []
    }

    /// A dry run never verifies a contact (only a server recovering from a crash does).
    public func contact(id: Int) async throws -> CallToolsContact? { nil }

    public func create(_ body: CallToolsBody) async throws -> Int {
        record(.create(body))
        return -1
    }

    public func update(_ id: Int, _ body: CallToolsBody) async throws { record(.update(id: id, body)) }

    public func contactsPage(_ page: Int) async throws -> (contacts: [CallToolsContact], count: Int, more: Bool) {
        ([], 0, false)
    }

    public func contact(_ id: String) async throws -> JSON {
        throw RecordingUpstream.NotRecorded(call: "GET /contacts/\(id)")
    }

    public func customFields() async throws -> CustomFieldCatalog { .empty }

    public func addTags(_ contactId: String, _ tags: [String]) async throws {
        record(.ghlAddTags(contact: contactId, tags))
    }

    public func removeTags(_ contactId: String, _ tags: [String]) async throws {
        record(.ghlRemoveTags(contact: contactId, tags))
    }

    /// A dry run never reads: the re-read before dialing is reported, not made.
    public struct NotRecorded: Error, CustomStringConvertible {
        public var call: String
        public var description: String { "a dry run does not make \(call)" }
    }

    /// Names for placeholder ids (`<bucket Cold Leads>`), real ids as numbers.
    func idJSON(_ id: Int) -> JSON {
        if let name = names[id] { return .string("<bucket \(name)>") }
        if id <= -1000, let name = state.withLock({ $0.tagIds.first { $0.value == id }?.key }) {
            return .string("<tag \(name)>")
        }
        return .number(Double(id))
    }

    /// The bucket a (placeholder or real) id names, by the rules' names where known.
    public func bucketName(_ id: Int, resolution: Resolution) -> String {
        names[id] ?? resolution.buckets.first { $0.value == id }?.key ?? String(id)
    }

    /// One line per call, as `dry-run --db` prints them.
    public func describe(_ calls: [PlannedCall]) -> [String] {
        let lookedUp = calls.contains { if case .lookup = $0 { true } else { false } }
        return calls.map { call in
            switch call {
            case .buckets: return "GET /api/buckets/ (bucket ids not recorded yet)"
            case .ensureTag(let t): return "GET /api/alltags/?name=\(t) (then POST /api/alltags/ if missing)"
            case .tag(let t): return "GET /api/alltags/?name=\(t)"
            case .lookup(let phone): return "GET /api/contacts/?phone_number=\(phone)"
            case .create(let body):
                return "POST /api/contacts/ " + JSONWriter.encode(body.wire(forCreate: true, id: idJSON))
                    + (lookedUp ? " (if the lookup finds none)" : "")
            case .update(let id, let body):
                return "PATCH /api/contacts/\(id)/ " + JSONWriter.encode(body.wire(forCreate: false, id: idJSON))
            case .ghlAddTags(let contact, let tags): return "POST /contacts/\(contact)/tags \(tags)"
            case .ghlRemoveTags(let contact, let tags): return "DELETE /contacts/\(contact)/tags \(tags)"
            }
        }
    }
}
