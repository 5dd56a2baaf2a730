import AsyncHTTPClient
import LeadsyncValues
import NIOHTTP1

/// GoHighLevel API v2: `Authorization: Bearer`, `Version: 2021-07-28`, JSON bodies.
///
/// Only the calls leadsync needs, sent exactly as GHL's OpenAPI documents them: contacts are
/// read and searched, and tags change only through the tag endpoints, never through a PUT
/// (`tags` in a PUT replaces every tag the contact has).
public struct GHLClient: Sendable {
    public static let version = "2021-07-28"
    public static let defaultBaseURL = "https://services.leadconnectorhq.com"
    /// GHL's maximum page size for search.
    public static let maxPageLimit = 500

    public let http: UpstreamHTTP
    public let locationId: String

    public init(
        baseURL: String = defaultBaseURL, token: String, locationId: String, client: HTTPClient,
        budget: TokenBucket, timeout: Duration = .seconds(15), retry: RetryPolicy = RetryPolicy(),
        breaker: CircuitBreaker? = nil, tokenSource: (any BearerTokenSource)? = nil,
        onCall: @escaping @Sendable (CallRecord) -> Void = { _ in }
    ) {
        // The breaker's probe: the location's custom-field list, a small documented read.
        let probe = "/locations/\(UpstreamHTTP.percentEncode(locationId))/customFields"
        // An OAuth connection's token comes from its source on every attempt; a Private
        // Integration token is fixed.
        let auth: [(String, String)] = tokenSource == nil ? [("Authorization", "Bearer \(token)")] : []
        http = UpstreamHTTP(
            service: .ghl,
            configuration: .init(
                baseURL: baseURL, headers: auth + [("Version", Self.version)],
                timeout: timeout, retry: retry, probe: (.GET, probe, [("model", "contact")]), tokenSource: tokenSource),
            client: client, budget: budget, breaker: breaker, onCall: onCall)
        self.locationId = locationId
    }

    /// `GET /contacts/{id}` → the contact object.
    public func contact(_ id: String) async throws(UpstreamError) -> JSON {
        let r = try await http.send(.GET, "/contacts/\(UpstreamHTTP.percentEncode(id))")
        guard let contact = r.body["contact"], case .object = contact else {
            throw UpstreamError(
                service: .ghl, call: "GET /contacts/{id}", kind: .invalidResponse("no 'contact' object"),
                attempts: 1)
        }
        return contact
    }

    /// One page of a contact search.
    public struct SearchPage: Sendable {
        public var contacts: [JSON]
        public var total: Int?
        /// The `searchAfter` of the last contact: pass it to get the next page; nil on the last.
        public var next: JSON?
    }

    /// `POST /contacts/search`, always with `searchAfter` paging (page numbers stop at 10,000
    /// results). Sorted by `sort` then GHL's tiebreak; `filters` are GHL filter objects.
    public func search(
        filters: [JSON] = [], sort: [(field: String, direction: String)] = [("dateUpdated", "asc")],
        pageLimit: Int = maxPageLimit, searchAfter: JSON? = nil
    ) async throws(UpstreamError) -> SearchPage {
        var body = JSONObject()
        body["locationId"] = .string(locationId)
        body["pageLimit"] = .number(Double(min(pageLimit, Self.maxPageLimit)))
        if !filters.isEmpty { body["filters"] = .array(filters) }
        if !sort.isEmpty {
            body["sort"] = .array(
                sort.prefix(2).map {
                    .object(JSONObject(["field": .string($0.field), "direction": .string($0.direction)]))
                })
        }
        if let searchAfter { body["searchAfter"] = searchAfter }
        let r = try await http.send(.POST, "/contacts/search", body: .object(body))
        guard let contacts = r.body["contacts"]?.arrayValue else {
            throw UpstreamError(
                service: .ghl, call: "POST /contacts/search", kind: .invalidResponse("no 'contacts' array"),
                attempts: 1)
        }
        let total: Int? = {
            // Checked: a total past Int's range (or NaN) is no total, never a trap.
            if case .number(let n)? = r.body["total"] ?? r.body["count"], n >= 0, n < 1e15 { return Int(n) }
            return nil
        }()
        let next = contacts.count < min(pageLimit, Self.maxPageLimit) ? nil : contacts.last?["searchAfter"]
        return SearchPage(contacts: contacts, total: total, next: next)
    }

    /// `POST /contacts/{id}/tags` adds tags.
    public func addTags(_ contactId: String, _ tags: [String]) async throws(UpstreamError) {
        _ = try await http.send(
            .POST, "/contacts/\(UpstreamHTTP.percentEncode(contactId))/tags",
            body: .object(JSONObject(["tags": .array(tags.map(JSON.string))])))
    }

    /// `DELETE /contacts/{id}/tags` removes tags.
    public func removeTags(_ contactId: String, _ tags: [String]) async throws(UpstreamError) {
        _ = try await http.send(
            .DELETE, "/contacts/\(UpstreamHTTP.percentEncode(contactId))/tags",
            body: .object(JSONObject(["tags": .array(tags.map(JSON.string))])))
    }

    /// `GET /locations/{id}/tags`: the location's tag names.
    public func locationTags() async throws(UpstreamError) -> [String] {
        let r = try await http.send(.GET, "/locations/\(UpstreamHTTP.percentEncode(locationId))/tags")
        guard let list = r.body["tags"]?.arrayValue else {
            throw UpstreamError(
                service: .ghl, call: "GET /locations/{id}/tags", kind: .invalidResponse("no 'tags' array"), attempts: 1)
        }
        return list.compactMap { $0["name"]?.stringValue }
    }

    /// Whether at least one contact carries `tag` (one search, one result asked for).
    public func carries(tag: String) async throws(UpstreamError) -> Bool {
        let page = try await search(
            filters: [
                .object(JSONObject(["field": .string("tags"), "operator": .string("eq"), "value": .string(tag)]))
            ],
            sort: [], pageLimit: 1)
        return !page.contacts.isEmpty
    }

    /// `GET /locations/{id}/customFields?model=contact`: ids to keys and names. Cache it.
    public func customFields() async throws(UpstreamError) -> CustomFieldCatalog {
        let r = try await http.send(
            .GET, "/locations/\(UpstreamHTTP.percentEncode(locationId))/customFields",
            query: [("model", "contact")])
        do {
            return try CustomFieldCatalog(ghlResponse: r.body)
        } catch {
            throw UpstreamError(
                service: .ghl, call: "GET /locations/{id}/customFields", kind: .invalidResponse(error.message),
                attempts: 1)
        }
    }
}

extension UpstreamError {
    /// A GHL answer that means the contact no longer exists: 404, or the 400 / 422 "not found"
    /// shapes GHL also uses (`{"statusCode": 400, "message": "Contact not found"}`, or a list of
    /// messages for 422). Handled as a deletion, never retried.
    public var meansContactGone: Bool {
        guard service == .ghl, case .status(let status, let message) = kind else { return false }
        if status == 404 { return true }
        let text = message.lowercased()
        return (status == 400 || status == 422)
            && (text.contains("not found") || text.contains("does not exist") || text.contains("deleted"))
    }
}
