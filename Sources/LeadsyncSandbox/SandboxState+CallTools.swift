import LeadsyncValues

extension SandboxState {
    static func drf(_ status: Int, _ detail: String) -> SandboxResponse {
        .json(status, .object(JSONObject(["detail": .string(detail)])))
    }

    /// CallTools at `/api/...`: `Token` auth, trailing slashes, DRF paging and errors.
    func handleCallTools(
        method: String, path: String, segments: [String], query: [String: String],
        headers: [String: String], body: JSON?
    ) -> SandboxResponse {
        guard let auth = headers["authorization"], auth.hasPrefix("Token ") else {
            return Self.drf(401, "Authentication credentials were not provided.")
        }
        guard auth == "Token \(calltoolsKey)" else { return Self.drf(401, "Invalid token.") }
        guard path.hasSuffix("/") else { return Self.drf(404, "Not found.") }
        let budget = spend(ghl: false)
        if budget.over {
            var r = Self.drf(
                429, "Request was throttled. Expected available in \(Int(budget.retryAfter.rounded(.up))) seconds.")
            // cannot trap: a budget's wait is at most its period, a finite number of seconds
            r.headers = [("Retry-After", String(Int(budget.retryAfter.rounded(.up))))]
            return r
        }
        // segments[0] == "api"
        switch (method, Array(segments.dropFirst())) {
        case ("GET", ["contacts"]):
            let list: [JSONObject]
            if let phone = query["phone_number"] {
                list = contacts(withPhone: phone)
            } else {
                list = ctContacts.sorted { $0.key < $1.key }.map(\.value)
            }
            // Any other filter is silently ignored, as the real API does.
            return page(list.map(JSON.object), query: query, path: path)
        case ("POST", ["contacts"]):
            // No de-duplication on phone: a second create makes a second contact.
            let id = putCallToolsContact(body?.objectValue ?? JSONObject())
            return .json(201, .object(ctContacts[id] ?? JSONObject()))
        case ("DELETE", ["contacts"]):
            // Reported behaviour of the real API: a DELETE on the collection deletes everything.
            removeAllCallToolsContacts()
            return SandboxResponse(status: 204, headers: [], body: nil)
        case (let m, let s) where s.count == 2 && s[0] == "contacts":
            guard let id = Int(s[1]), var c = ctContacts[id] else { return Self.drf(404, "Not found.") }
            switch m {
            case "GET": return .json(200, .object(c))
            case "PATCH", "PUT":
                applyCallToolsBody(body?.objectValue ?? JSONObject(), to: &c, create: m == "PUT")
                setCallToolsContact(id, c)
                return .json(200, .object(c))
            case "DELETE":
                setCallToolsContact(id, nil)
                return SandboxResponse(status: 204, headers: [], body: nil)
            default: return Self.drf(405, "Method \"\(m)\" not allowed.")
            }
        case ("GET", ["buckets"]):
            return page(
                buckets.map { .object(JSONObject(["id": .number(Double($0.id)), "name": .string($0.name)])) },
                query: query, path: path)
        case ("GET", ["alltags"]):
            var list = tags
            if let name = query["name"]?.foldedForComparison {
                list = list.filter { $0.name.foldedForComparison.contains(name) }
            }
            return page(
                list.map { .object(JSONObject(["id": .number(Double($0.id)), "name": .string($0.name)])) },
                query: query, path: path)
        case ("POST", ["alltags"]):
            guard let name = body?["name"]?.stringValue, !name.isEmpty else {
                return .json(400, .object(JSONObject(["name": .array([.string("This field is required.")])])))
            }
            // Tag names are unique (a Django unique field; DRF answers 400 in its field shape).
            if tags.contains(where: { $0.name == name }) {
                return .json(
                    400, .object(JSONObject(["name": .array([.string("contact tag with this name already exists.")])])))
            }
            let id = nextTagId
            nextTagId += 1
            tags.append((id, name))
            return .json(201, .object(JSONObject(["id": .number(Double(id)), "name": .string(name)])))
        default:
            return Self.drf(404, "Not found.")
        }
    }

    /// DRF paging: `page`, `page_size` (default 25, max 250), `{count, next, previous, results}`.
    private func page(_ items: [JSON], query: [String: String], path: String) -> SandboxResponse {
        let size = min(250, max(1, Int(query["page_size"] ?? "") ?? 25))
        guard let page = query["page"].map({ Int($0) }) ?? 1, page >= 1, page <= 1_000_000 else {
            return Self.drf(404, "Invalid page.")
        }
        let start = (page - 1) * size
        // DRF's PageNumberPagination: a page past the end (except the first) is a 404.
        if page > 1 && start >= items.count { return Self.drf(404, "Invalid page.") }
        let slice = start < items.count ? Array(items[start..<min(items.count, start + size)]) : []
        let next: JSON =
            start + size < items.count ? .string("http://sandbox\(path)?page=\(page + 1)&page_size=\(size)") : .null
        let previous: JSON = page > 1 ? .string("http://sandbox\(path)?page=\(page - 1)&page_size=\(size)") : .null
        return .json(
            200,
            .object(
                JSONObject([
                    "count": .number(Double(items.count)), "next": next, "previous": previous,
                    "results": .array(slice),
                ])))
    }

    /// Applies a create/PATCH body: known field slugs are stored, unknown keys silently dropped.
    func applyCallToolsBody(_ body: JSONObject, to c: inout JSONObject, create: Bool) {
        func ints(_ value: JSON?) -> [Int] {
            value?.arrayValue?.compactMap { item -> Int? in
                if case .number(let n) = item { return Int(exactly: n) }
                return nil
            } ?? []
        }
        func ids(_ key: String) -> [Int] { ints(body[key]) }
        var bucketSet = Set(ints(c["buckets"]))
        var tagSet = Set(ints(c["tags"]))
        if body["buckets"] != nil { bucketSet = Set(ids("buckets")) }
        if body["tags"] != nil { tagSet = Set(ids("tags")) }
        bucketSet.formUnion(ids("add_buckets"))
        bucketSet.subtract(ids("remove_buckets"))
        tagSet.formUnion(ids("add_tags"))
        tagSet.subtract(ids("remove_tags"))
        for e in body.entries where fieldSlugs.contains(e.key) { c[e.key] = e.value }
        c["buckets"] = .array(bucketSet.sorted().map { .number(Double($0)) })
        c["tags"] = .array(tagSet.sorted().map { .number(Double($0)) })
        // CallTools normalises the numbers it stores to E.164 (`_phone_numbers`); one it cannot
        // read is kept as given.
        c["_phone_numbers"] = .array(
            phoneSlugs.sorted().compactMap { c[$0]?.stringValue }.filter { !$0.isEmpty }.map {
                .string(PhoneNumber.e164($0) ?? $0)
            })
    }
}
