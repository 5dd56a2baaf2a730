import AsyncHTTPClient
import LeadsyncValues
import NIOHTTP1

/// A CallTools contact as read back: its id, phone numbers, buckets, tags and field values.
public struct CallToolsContact: Sendable, Equatable {
    public var id: Int
    public var phoneNumbers: [String]
    public var buckets: Set<Int>
    public var tags: Set<Int>
    public var fields: [String: String]
    /// Every key the contact came with (null ones too): the account's fields, as far as this
    /// contact shows them (`check --online`).
    public var keys: Set<String> = []

    public init(id: Int, phoneNumbers: [String], buckets: Set<Int>, tags: Set<Int>, fields: [String: String]) {
        self.id = id
        self.phoneNumbers = phoneNumbers
        self.buckets = buckets
        self.tags = tags
        self.fields = fields
    }

    init?(_ json: JSON) {
        guard let id = CallToolsClient.intId(json["id"]) else { return nil }
        self.id = id
        phoneNumbers = json["_phone_numbers"]?.arrayValue?.compactMap(\.stringValue) ?? []
        func ids(_ key: String) -> Set<Int> {
            Set(
                json[key]?.arrayValue?.compactMap { item -> Int? in
                    CallToolsClient.intId(item) ?? CallToolsClient.intId(item["id"])
                } ?? [])
        }
        buckets = ids("buckets")
        tags = ids("tags")
        fields = [:]
        if case .object(let o) = json {
            keys = Set(o.entries.map(\.key))
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
    /// Tag ids by name, shared by every copy of this client (every worker, pass and executor,
    /// across rules reloads): one request in flight per name.
    let tagIds = SingleFlight<Int>()

    public init(
        baseURL: String = defaultBaseURL, apiKey: String, client: HTTPClient, budget: TokenBucket,
        timeout: Duration = .seconds(15), retry: RetryPolicy = RetryPolicy(),
        breaker: CircuitBreaker? = nil, onCall: @escaping @Sendable (CallRecord) -> Void = { _ in }
    ) {
        http = UpstreamHTTP(
            service: .calltools,
            configuration: .init(
                baseURL: baseURL, headers: [("Authorization", "Token \(apiKey)")], timeout: timeout,
                retry: retry, probe: (.GET, "/api/buckets/", [("page", "1"), ("page_size", "1")])),
            client: client, budget: budget, breaker: breaker, onCall: onCall)
    }

    /// Contacts whose phone numbers include `e164`, verified client-side. Every page of the
    /// answer is read (`page_size=250`, following `next`): a filter CallTools ignores returns
    /// everyone, and "not found" is never concluded from part of a list. Numbers stored in
    /// another form (`(415) 555-0132`) match through the core's normaliser.
    public func findByPhone(_ e164: String) async throws(UpstreamError) -> [CallToolsContact] {
        try await allPages("/api/contacts/", query: [("phone_number", e164)]) { item in
            CallToolsContact(item).flatMap { c in
                c.phoneNumbers.contains { $0 == e164 || PhoneNumber.e164($0) == e164 } ? c : nil
            }
        }
    }

    /// Reads every page of a DRF list (`page`, `page_size=250`, until `next` is null), keeping
    /// what `keep` returns. At most 10,000 pages: a list that never ends is an error.
    func allPages<T>(
        _ path: String, query: [(String, String)] = [], keep: (JSON) -> T?
    ) async throws(UpstreamError) -> [T] {
        var out: [T] = []
        var page = 1
        while page <= 10_000 {
            let r = try await http.send(
                .GET, path, query: query + [("page", String(page)), ("page_size", String(Self.maxPageSize))])
            for item in try Self.results(r.body, call: "GET \(path)") { if let v = keep(item) { out.append(v) } }
            guard case .string? = r.body["next"] else { return out }
            page += 1
        }
        throw UpstreamError(
            service: .calltools, call: "GET \(path)", kind: .invalidResponse("more than 10,000 pages"), attempts: 1)
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
        let count = Self.intId(r.body["count"]) ?? results.count
        let more: Bool = { if case .string? = r.body["next"] { return true } else { return false } }()
        return (results.compactMap(CallToolsContact.init), count, more)
    }

    /// `POST /api/contacts/` → the new id. Never retried when its outcome is unknown: the
    /// caller looks the contact up by phone instead (CallTools does not de-duplicate).
    public func create(_ body: JSON) async throws(UpstreamError) -> Int {
        let r = try await http.send(.POST, "/api/contacts/", body: body, idempotent: false)
        guard let id = Self.intId(r.body["id"]) else {
            throw UpstreamError(
                service: .calltools, call: "POST /api/contacts/", kind: .invalidResponse("no integer 'id'"),
                attempts: 1)
        }
        return id
    }

    /// `PATCH /api/contacts/{id}/` with only the changes.
    /// `GET /api/contacts/{id}/`: the contact as CallTools holds it, nil on a 404.
    public func contact(id: Int) async throws(UpstreamError) -> CallToolsContact? {
        do throws(UpstreamError) {
            let r = try await http.send(.GET, "/api/contacts/\(id)/")
            guard let c = CallToolsContact(r.body) else {
                throw UpstreamError(
                    service: .calltools, call: "GET /api/contacts/\(id)/", kind: .invalidResponse("not a contact"),
                    attempts: 1)
            }
            return c
        } catch {
            if case .status(404, _) = error.kind { return nil }
            throw error
        }
    }

    public func update(_ id: Int, _ body: JSON) async throws(UpstreamError) {
        _ = try await http.send(.PATCH, "/api/contacts/\(id)/", body: body)
    }

    /// Every bucket (`GET /api/buckets/`, all pages): name → id.
    public func buckets() async throws(UpstreamError) -> [String: Int] {
        let pairs: [(String, Int)] = try await allPages("/api/buckets/") { item in
            guard let id = Self.intId(item["id"]), let name = item["name"]?.stringValue else { return nil }
            return (name, id)
        }
        var out: [String: Int] = [:]
        for (name, id) in pairs where out[name] == nil { out[name] = id }
        return out
    }

    /// The id of the tag named exactly `name` (case-insensitively), or nil. Every page is read
    /// and matched here: the `name` filter may be ignored, or match by substring.
    public func tag(named name: String) async throws(UpstreamError) -> Int? {
        let wanted = name.foldedForComparison
        let ids: [Int] = try await allPages("/api/alltags/", query: [("name", name)]) { item in
            item["name"]?.stringValue?.foldedForComparison == wanted ? Self.intId(item["id"]) : nil
        }
        return ids.min()
    }

    /// The id of the tag `name`, created when CallTools has none. One request in flight per name
    /// for this client, whoever asks; a create answered "already exists" (another writer got
    /// there first) is followed by a look-up, never by a failure.
    public func ensureTag(_ name: String) async throws(UpstreamError) -> Int {
        do {
            return try await tagIds.value(for: name.foldedForComparison) { () async throws -> Int in
                // Tag names are unique, so a create whose outcome is unknown (a 5xx, a reset) is
                // safe to settle by looking again and, if absent, creating again: the worst a
                // second create gets is "already exists". Four rounds, backing off between.
                var attempt = 0
                while true {
                    attempt += 1
                    if let id = try await self.tag(named: name) { return id }
                    do {
                        return try await self.createTag(name)
                    } catch let error as UpstreamError where error.isAlreadyExists {
                        if let id = try await self.tag(named: name) { return id }
                        throw error
                    } catch let error as UpstreamError where error.isTransient && attempt < 4 {
                        try? await Task.sleep(for: self.http.configuration.retry.delay(after: attempt))
                        if Task.isCancelled { throw error }
                    }
                }
            }
        } catch let error as UpstreamError {
            throw error
        } catch {
            throw UpstreamError(
                service: .calltools, call: "POST /api/alltags/", kind: .connection("\(error)", sent: false), attempts: 1
            )
        }
    }

    /// Forgets a tag id (the tag was deleted in CallTools); the next `ensureTag` asks again.
    public func forgetTag(_ name: String) async { await tagIds.forget(name.foldedForComparison) }

    /// An integer id, checked: a value past Int's range, fractional or negative is no id.
    static func intId(_ value: JSON?) -> Int? {
        guard case .number(let n)? = value, n >= 0, n < 9.0e15, n.rounded() == n else { return nil }
        return Int(n)
    }

    /// `POST /api/alltags/` → the new tag's id.
    public func createTag(_ name: String) async throws(UpstreamError) -> Int {
        let r = try await http.send(
            .POST, "/api/alltags/", body: .object(JSONObject(["name": .string(name)])),
            idempotent: false)
        guard let id = Self.intId(r.body["id"]) else {
            throw UpstreamError(
                service: .calltools, call: "POST /api/alltags/", kind: .invalidResponse("no integer 'id'"),
                attempts: 1)
        }
        return id
    }

    static func results(_ body: JSON, call: String) throws(UpstreamError) -> [JSON] {
        if let list = body["results"]?.arrayValue { return list }
        if let list = body.arrayValue { return list }
        throw UpstreamError(service: .calltools, call: call, kind: .invalidResponse("no 'results' list"), attempts: 1)
    }
}
