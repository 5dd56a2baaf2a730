import LeadsyncCore
import LeadsyncSync
import LeadsyncUpstream
import LeadsyncValues

/// What the executor needs of CallTools, in the planner's terms. The live implementation is the
/// HTTP client (below), which owns the wire encoding; `RecordingUpstream` records the same calls
/// for a dry run. Changing one CallTools call touches the client, its conformance here, and the
/// sandbox.
public protocol CallToolsAPI: Sendable {
    /// CallTools bucket name → id (every bucket).
    func buckets() async throws -> [String: Int]
    /// The id of tag `name`, created when CallTools has none (tags to add).
    func ensureTag(_ name: String) async throws -> Int
    /// The id of tag `name`, or nil when CallTools has none (tags to remove).
    func tag(named name: String) async throws -> Int?
    /// Contacts whose phone is `e164`, lowest id first.
    func findByPhone(_ e164: String) async throws -> [CallToolsContact]
    /// Creates a contact; returns its id.
    func create(_ body: CallToolsBody) async throws -> Int
    /// Sends only the changes to contact `id`.
    func update(_ id: Int, _ body: CallToolsBody) async throws
    /// Contact `id` as CallTools holds it now, or nil when it has none.
    func contact(id: Int) async throws -> CallToolsContact?
    /// One page of the whole contact list (for a large import's phone directory).
    func contactsPage(_ page: Int) async throws -> (contacts: [CallToolsContact], count: Int, more: Bool)
}

/// What the executor needs of GHL: re-reading a contact before dialing it, and tag write-backs.
public protocol GHLAPI: Sendable {
    func contact(_ id: String) async throws -> JSON
    func customFields() async throws -> CustomFieldCatalog
    func addTags(_ contactId: String, _ tags: [String]) async throws
    func removeTags(_ contactId: String, _ tags: [String]) async throws
}

extension CallToolsClient: CallToolsAPI {
    public func create(_ body: CallToolsBody) async throws -> Int { try await create(body.wire(forCreate: true)) }
    public func update(_ id: Int, _ body: CallToolsBody) async throws {
        try await update(id, body.wire(forCreate: false))
    }
}

extension GHLClient: GHLAPI {}

extension CallToolsBody {
    /// The JSON CallTools takes. A create names the full sets (`buckets`, `tags`; removals are
    /// meaningless there and left out); a PATCH names the changes (`add_buckets`,
    /// `remove_buckets`, `add_tags`, `remove_tags`). Fields are top-level keys named by their
    /// slug. Nothing else is sent: CallTools silently ignores keys it does not know, so sending
    /// fewer keys is the only way to keep mistakes visible.
    public func wire(forCreate: Bool, id: (Int) -> JSON = { .number(Double($0)) }) -> JSON {
        var o = JSONObject()
        for f in fields { o[f.slug] = .string(f.value) }
        func ids(_ list: [Int]) -> JSON { .array(list.map(id)) }
        if forCreate {
            if !addBuckets.isEmpty { o["buckets"] = ids(addBuckets) }
            if !addTags.isEmpty { o["tags"] = ids(addTags) }
        } else {
            if !addBuckets.isEmpty { o["add_buckets"] = ids(addBuckets) }
            if !removeBuckets.isEmpty { o["remove_buckets"] = ids(removeBuckets) }
            if !addTags.isEmpty { o["add_tags"] = ids(addTags) }
            if !removeTags.isEmpty { o["remove_tags"] = ids(removeTags) }
        }
        return .object(o)
    }
}
