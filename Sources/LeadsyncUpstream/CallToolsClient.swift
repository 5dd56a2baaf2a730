import AsyncHTTPClient
import LeadsyncCore
import NIOHTTP1

/// A CallTools contact as read back: its id, phone numbers, buckets, tags and field values.
public struct CallToolsContact: Sendable, Equatable {
    public var id: Int
    public var phoneNumbers: [String]
    public var buckets: Set<Int>
    public var tags: Set<Int>
    public var fields: [String: String]

    public init(id: Int, phoneNumbers: [String], buckets: Set<Int>, tags: Set<Int>, fields: [String: String]) {
        self.id = id
        self.phoneNumbers = phoneNumbers
        self.buckets = buckets
        self.tags = tags
        self.fields = fields
    }

    init?(_ json: JSON) {
        guard case .number(let n)? = json["id"] else { return nil }
        id = Int(n)
        phoneNumbers = json["_phone_numbers"]?.arrayValue?.compactMap(\.stringValue) ?? []
        func ids(_ key: String) -> Set<Int> {
            Set(
                json[key]?.arrayValue?.compactMap { item -> Int? in
                    if case .number(let n) = item { return Int(n) }
                    if case .number(let n)? = item["id"] { return Int(n) }
                    return nil
                } ?? [])
        }
        buckets = ids("buckets")
        tags = ids("tags")
        fields = [:]
        if case .object(let o) = json {
            for e in o.entries where !["id", "_phone_numbers", "buckets", "tags"].contains(e.key) {
                if let v = e.value.scalarText { fields[e.key] = v }
            }
        }
    }
}

/// CallTools: `Authorization: Token`, paths ending in `/`, DRF-style paging and errors.
///
/// Its public documentation is thin, so each call is built in one place and checked by the
/// sandbox. CallTools ignores filters and body keys it does not know, so results are always
/// verified here (a phone search that ignored its filter returns everyone).
public struct CallToolsClient: Sendable {
    public static let defaultBaseURL = "https://east-1.calltools.io"
    public static let maxPageSize = 250

    public let http: UpstreamHTTP

    public init(
        baseURL: String = defaultBaseURL, apiKey: String, client: HTTPClient, budget: TokenBucket,
        timeout: Duration = .seconds(15), retry: RetryPolicy = RetryPolicy(),
        onCall: @escaping @Sendable (CallRecord) -> Void = { _ in }
    ) {
        http = UpstreamHTTP(
            service: .calltools,
            configuration: .init(
                baseURL: baseURL, headers: [("Authorization", "Token \(apiKey)")], timeout: timeout,
                retry: retry),
            client: client, budget: budget, onCall: onCall)
    }

    /// Contacts whose phone numbers include `e164`, verified client-side.
    public func findByPhone(_ e164: String) async throws(UpstreamError) -> [CallToolsContact] {
        let r = try await http.send(.GET, "/api/contacts/", query: [("phone_number", e164)])
        let results = try Self.results(r.body, call: "GET /api/contacts/")
        return results.compactMap(CallToolsContact.init).filter { $0.phoneNumbers.contains(e164) }
    }

    /// One page of the contact list (`GET /api/contacts/?page=N&page_size=250`): the contacts,
    /// the total count, and whether more pages follow.
    public func contactsPage(
        _ page: Int
    ) async throws(UpstreamError) -> (contacts: [CallToolsContact], count: Int, more: Bool) {
        let r = try await http.send(
            .GET, "/api/contacts/",
            query: [("page", String(page)), ("page_size", String(Self.maxPageSize))])
        let results = try Self.results(r.body, call: "GET /api/contacts/")
        let count: Int = { if case .number(let n)? = r.body["count"] { return Int(n) } else { return results.count } }()
        let more: Bool = { if case .string? = r.body["next"] { return true } else { return false } }()
        return (results.compactMap(CallToolsContact.init), count, more)
    }

    /// `POST /api/contacts/` → the new id. Never retried when its outcome is unknown: the
    /// caller looks the contact up by phone instead (CallTools does not de-duplicate).
    public func create(_ body: JSON) async throws(UpstreamError) -> Int {
        let r = try await http.send(.POST, "/api/contacts/", body: body, idempotent: false)
        guard case .number(let n)? = r.body["id"] else {
            throw UpstreamError(
                service: .calltools, call: "POST /api/contacts/", kind: .invalidResponse("no integer 'id'"),
                attempts: 1)
        }
        return Int(n)
    }

    /// `PATCH /api/contacts/{id}/` with only the changes.
    public func update(_ id: Int, _ body: JSON) async throws(UpstreamError) {
        _ = try await http.send(.PATCH, "/api/contacts/\(id)/", body: body)
    }

    /// Every bucket (`GET /api/buckets/`, all pages): name → id.
    public func buckets() async throws(UpstreamError) -> [String: Int] {
        var out: [String: Int] = [:]
        var page = 1
        while true {
            let r = try await http.send(
                .GET, "/api/buckets/",
                query: [("page", String(page)), ("page_size", String(Self.maxPageSize))])
            for item in try Self.results(r.body, call: "GET /api/buckets/") {
                if case .number(let id)? = item["id"], let name = item["name"]?.stringValue { out[name] = Int(id) }
            }
            guard case .string? = r.body["next"] else { return out }
            page += 1
        }
    }

    /// The id of the tag named exactly `name` (case-insensitively), or nil.
    public func tag(named name: String) async throws(UpstreamError) -> Int? {
        let r = try await http.send(.GET, "/api/alltags/", query: [("name", name)])
        let wanted = name.foldedForComparison
        for item in try Self.results(r.body, call: "GET /api/alltags/") {
            if item["name"]?.stringValue?.foldedForComparison == wanted, case .number(let id)? = item["id"] {
                return Int(id)
            }
        }
        return nil
    }

    /// `POST /api/alltags/` → the new tag's id.
    public func createTag(_ name: String) async throws(UpstreamError) -> Int {
        let r = try await http.send(
            .POST, "/api/alltags/", body: .object(JSONObject(["name": .string(name)])),
            idempotent: false)
        guard case .number(let id)? = r.body["id"] else {
            throw UpstreamError(
                service: .calltools, call: "POST /api/alltags/", kind: .invalidResponse("no integer 'id'"),
                attempts: 1)
        }
        return Int(id)
    }

    static func results(_ body: JSON, call: String) throws(UpstreamError) -> [JSON] {
        if let list = body["results"]?.arrayValue { return list }
        if let list = body.arrayValue { return list }
        throw UpstreamError(service: .calltools, call: call, kind: .invalidResponse("no 'results' list"), attempts: 1)
    }
}
