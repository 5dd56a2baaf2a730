import LeadsyncValues

/// GHL's custom field definitions (`GET /locations/{id}/customFields`), fetched once and shared by
/// every executor, pass and worker of a process. A contact that carries a custom field id the
/// catalog does not define (a field added in GHL since) makes it fetch again, once per such id:
/// an id still unknown after that fetch (deleted in GHL, or garbage) is known by its id only and
/// never causes another fetch.
public actor CatalogCache {
    let ghl: any GHLAPI
    private var catalog: CustomFieldCatalog?
    /// Unknown ids a fetch has already been made for (bounded).
    private var tried: Set<String> = []
    /// Fetches made (tests and stats).
    public private(set) var fetches = 0

    public init(ghl: any GHLAPI) {
        self.ghl = ghl
    }

    /// The catalog, fetched on first use.
    public func current() async throws -> CustomFieldCatalog {
        if let catalog { return catalog }
        return try await fetch()
    }

    /// The catalog, fetched again first when `items` carry a custom field id it does not define
    /// and no fetch was made for that id yet.
    public func covering(_ items: [JSON]) async throws -> CustomFieldCatalog {
        let known = try await current()
        let unknown = Set(items.flatMap { known.unknownIds(in: $0) })
        guard !unknown.isSubset(of: tried) else { return known }
        if tried.count > 10_000 { tried.removeAll() }
        tried.formUnion(unknown)
        return try await fetch()
    }

    private func fetch() async throws -> CustomFieldCatalog {
        let fetched = try await ghl.customFields()
        fetches += 1
        catalog = fetched
        return fetched
    }
}

extension CustomFieldCatalog {
    /// Custom field ids a contact or payload carries (`customFields` / `customField`, at the top
    /// level or under `contact`) that this catalog does not define.
    public func unknownIds(in json: JSON) -> [String] {
        var out: [String] = []
        for holder in [json, json["contact"] ?? .null] {
            for key in ["customFields", "customField"] {
                for item in holder[key]?.arrayValue ?? [] {
                    if let id = item["id"]?.stringValue, definition(id: id) == nil { out.append(id) }
                }
            }
        }
        return out
    }
}
