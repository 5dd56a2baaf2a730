import LeadsyncValues

/// An answer from an emulated API.
public struct SandboxResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: JSON?

    static func json(_ status: Int, _ body: JSON, headers: [(String, String)] = []) -> SandboxResponse {
        SandboxResponse(status: status, headers: headers, body: body)
    }
}

extension SandboxState {
    /// GHL's error body: `{"statusCode": N, "message": "..."}`; 422 carries a list of messages.
    static func ghlError(_ status: Int, _ message: String) -> SandboxResponse {
        .json(
            status,
            .object(
                JSONObject([
                    "statusCode": .number(Double(status)),
                    "message": status == 422 ? .array([.string(message)]) : .string(message),
                ])))
    }

    /// GHL API v2 at `/contacts...` and `/locations/...`.
    func handleGHL(
        method: String, segments: [String], query: [String: String], headers: [String: String], body: JSON?
    )
        -> SandboxResponse
    {
        guard ghlBearerAccepted(headers["authorization"]) else {
            return Self.ghlError(401, "Invalid JWT")
        }
        guard headers["version"] == "2021-07-28" else {
            return Self.ghlError(400, "Version header is required and must be 2021-07-28")
        }
        let budget = spend(ghl: true)
        ghlDailyUsed += 1
        let dailyLeft = max(0, ghlDailyLimit - ghlDailyUsed)
        var rateHeaders: [(String, String)] = [
            ("X-RateLimit-Limit-Daily", String(ghlDailyLimit)), ("X-RateLimit-Daily-Remaining", String(dailyLeft)),
            ("X-RateLimit-Interval-Milliseconds", String(ghlLimit?.periodMs ?? 10_000)),
            ("X-RateLimit-Max", String(ghlLimit?.count ?? 100)),
            ("X-RateLimit-Remaining", String(budget.remaining)),
        ]
        if ghlDailyUsed > ghlDailyLimit {
            var r = Self.ghlError(429, "Daily limit exceeded")
            r.headers = rateHeaders
            return r
        }
        if budget.over {
            // GHL documents no Retry-After; the sandbox sends one only when told to.
            if ghlSendsRetryAfter {
                // cannot trap: a budget's wait is at most its period, a finite number of seconds
                rateHeaders.append(("Retry-After", String(Int(budget.retryAfter.rounded(.up)))))
            }
            var r = Self.ghlError(429, "Too Many Requests")
            r.headers = rateHeaders
            return r
        }
        var response = routeGHL(method: method, segments: segments, query: query, body: body)
        response.headers += rateHeaders
        return response
    }

    private func routeGHL(method: String, segments: [String], query: [String: String], body: JSON?) -> SandboxResponse {
        switch (method, segments.count, segments.first) {
        case ("POST", 2, "contacts") where segments[1] == "search":
            return search(body)
        case ("POST", 1, "contacts"):
            return create(body)
        case ("GET", 2, "contacts"):
            guard let c = ghlContacts[segments[1]] else { return Self.ghlError(404, "Contact not found") }
            return .json(200, .object(JSONObject(["contact": .object(c)])))
        case ("POST", 3, "contacts") where segments[2] == "tags", ("DELETE", 3, "contacts") where segments[2] == "tags":
            return changeTags(id: segments[1], add: method == "POST", body: body)
        case ("PUT", 2, "contacts"):
            return update(id: segments[1], body: body)
        case ("GET", 3, "locations") where segments[2] == "tags":
            // `LocationTagsSuccessfulResponseDto`: every tag the location's contacts carry, once
            // (GHL keeps a location tag list; here it is derived from the contacts).
            guard segments[1] == locationId else {
                return Self.ghlError(403, "The token does not have access to this location")
            }
            var seen = Set<String>()
            var tags: [JSON] = []
            for id in ghlOrder {
                for t in ghlContacts[id]?["tags"]?.arrayValue ?? [] {
                    guard let name = t.stringValue?.trimmedASCII.lowercased(), !name.isEmpty, seen.insert(name).inserted
                    else { continue }
                    tags.append(
                        .object(
                            JSONObject([
                                "name": .string(name), "locationId": .string(locationId),
                                "id": .string("tag" + String(seen.count).leftPadded(to: 17, with: "0")),
                            ])))
                }
            }
            return .json(200, .object(JSONObject(["tags": .array(tags)])))
        case ("GET", 3, "locations") where segments[2] == "customFields":
            guard segments[1] == locationId else {
                return Self.ghlError(403, "The token does not have access to this location")
            }
            let list = customFieldDefinitions.map { d in
                JSON.object(
                    JSONObject([
                        "id": .string(d.id), "name": .string(d.name), "fieldKey": .string("contact.\(d.key)"),
                        "dataType": .string("TEXT"), "model": .string("contact"),
                    ]))
            }
            return .json(200, .object(JSONObject(["customFields": .array(list)])))
        default:
            return Self.ghlError(404, "Cannot \(method) /\(segments.joined(separator: "/"))")
        }
    }

    /// `POST /contacts/search` with the validation the real API applies.
    private func search(_ body: JSON?) -> SandboxResponse {
        guard case .object(let b)? = body else { return Self.ghlError(422, "body must be an object") }
        let allowed: Set = ["locationId", "pageLimit", "page", "searchAfter", "filters", "sort", "query"]
        if let bad = b.keys.first(where: { !allowed.contains($0) }) {
            return Self.ghlError(422, "property \(bad) should not exist")
        }
        guard b["locationId"]?.stringValue == locationId else {
            return Self.ghlError(422, "locationId must be \(locationId)")
        }
        guard case .number(let limit)? = b["pageLimit"], limit == limit.rounded() else {
            return Self.ghlError(422, "pageLimit must be an integer number")
        }
        guard limit >= 1, limit <= 500 else { return Self.ghlError(422, "pageLimit must not be greater than 500") }
        if b["page"] != nil && b["searchAfter"] != nil { return Self.ghlError(422, "use either page or searchAfter") }
        if let page = b["page"] {
            guard case .number(let n) = page, n == n.rounded(), n >= 1 else {
                return Self.ghlError(422, "page must be an integer number not less than 1")
            }
        }
        if let after = b["searchAfter"] {
            guard case .array(let parts) = after, parts.count == 2, case .number = parts[0], case .string = parts[1]
            else {
                return Self.ghlError(422, "searchAfter must be the searchAfter array of a contact of the previous page")
            }
        }
        if let sort = b["sort"] {
            guard case .array(let sorts) = sort, sorts.count <= 2 else {
                return Self.ghlError(422, "sort must be an array of at most 2 items")
            }
            for item in sorts {
                guard let field = item["field"]?.stringValue, Self.sortableFields.contains(field) else {
                    return Self.ghlError(
                        422, "sort.field must be one of: " + Self.sortableFields.sorted().joined(separator: ", "))
                }
                guard let dir = item["direction"]?.stringValue, dir == "asc" || dir == "desc" else {
                    return Self.ghlError(422, "sort.direction must be one of: asc, desc")
                }
            }
        }
        if let problem = Self.filterProblem(b["filters"] ?? .array([])) { return Self.ghlError(422, problem) }

        // Sort: one field (dateUpdated or dateAdded), ties broken by id; searchAfter = [millis, id].
        let sortField = b["sort"]?.arrayValue?.first?["field"]?.stringValue ?? "dateAdded"
        let descending = b["sort"]?.arrayValue?.first?["direction"]?.stringValue == "desc"
        func key(_ c: JSONObject) -> (Int64, String) {
            (c[sortField]?.stringValue.flatMap(Timestamp.init(iso8601:))?.milliseconds ?? 0, c["id"]?.stringValue ?? "")
        }
        // What the search index holds now (every contact, unless it lags writes).
        let contacts = searchableContacts()
        let sorted: [(Int64, String)]
        if searchLagMs == 0, let cache = sortCache, cache.field == sortField, cache.descending == descending {
            sorted = cache.keys
        } else {
            var keys = contacts.values.map(key)
            keys.sort { descending ? $0 > $1 : $0 < $1 }
            if searchLagMs == 0 { sortCache = (sortField, descending, keys) }
            sorted = keys
        }
        var ordered = sorted[...]
        if let after = b["searchAfter"]?.arrayValue, after.count == 2, case .number(let ms) = after[0],
            let id = after[1].stringValue, let cursorMs = Int64(exactly: ms.rounded(.towardZero))
        {
            let cursor = (cursorMs, id)
            // Binary search for the first key past the cursor.
            var lo = ordered.startIndex, hi = ordered.endIndex
            while lo < hi {
                let mid = (lo + hi) / 2
                if descending ? ordered[mid] < cursor : ordered[mid] > cursor { hi = mid } else { lo = mid + 1 }
            }
            ordered = ordered[lo...]
        }
        // Filters (validated above): tags, dates, DND and plain fields are evaluated; a group is
        // an AND or OR of its filters.
        var predicates: [(JSONObject) -> Bool] = []
        for f in b["filters"]?.arrayValue ?? [] { predicates.append(Self.predicate(f)) }
        func matches(_ c: JSONObject) -> Bool { predicates.allSatisfy { $0(c) } }
        let total = predicates.isEmpty ? contacts.count : contacts.values.filter(matches).count
        var list: [JSONObject] = []
        if case .number(let page)? = b["page"] {
            guard Int(page) * Int(limit) <= 10_000 else {
                return Self.ghlError(422, "page paging reaches 10000 results at most")
            }
            let all = ordered.compactMap { contacts[$0.1] }.filter(matches)
            list = Array(all.dropFirst((Int(page) - 1) * Int(limit)).prefix(Int(limit)))
        } else {
            for k in ordered {
                guard let c = contacts[k.1], matches(c) else { continue }
                list.append(c)
                if list.count == Int(limit) { break }
            }
        }
        let pageItems = list.map { c -> JSON in
            var out = c
            if searchOmitsDndSettings {
                // As GHL users report: search results without the per-channel DND settings.
                out["dndSettings"] = nil
                out["inboundDndSettings"] = nil
            }
            let k = key(c)
            out["searchAfter"] = .array([.number(Double(k.0)), .string(k.1)])
            return .object(out)
        }
        return .json(200, .object(JSONObject(["contacts": .array(Array(pageItems)), "total": .number(Double(total))])))
    }

    /// `UpdateContactDto`'s properties (`PUT /contacts/{id}`); anything else is a 422.
    static let updatableProperties: Set<String> = [
        "firstName", "lastName", "name", "email", "phone", "address1", "city", "state", "postalCode", "website",
        "timezone", "dnd", "dndSettings", "inboundDndSettings", "tags", "customFields", "source", "dateOfBirth",
        "country", "assignedTo",
    ]

    /// Fields `POST /contacts/search` sorts on (upstreams.md).
    static let sortableFields: Set<String> = [
        "dateAdded", "dateUpdated", "firstNameLowerCase", "lastNameLowerCase", "businessName", "email",
    ]

    /// Fields it filters on; `customFields.<id>` too.
    static let filterableFields: Set<String> = [
        "id", "tags", "dateAdded", "dateUpdated", "dnd", "phone", "email", "type", "source", "firstNameLowerCase",
        "lastNameLowerCase", "businessName", "companyName", "address", "city", "state", "country", "postalCode",
        "timezone", "assignedTo", "followers", "dateOfBirth", "lastActivity", "validEmail", "website",
        "dndSettings.Call.status", "dndSettings.SMS.status", "dndSettings.Email.status",
        "inboundDndSettings.all.status",
    ]

    static let filterOperators: Set<String> = [
        "eq", "not_eq", "contains", "not_contains", "exists", "not_exists", "range",
    ]

    /// What is wrong with a filter list, in GHL's words, or nil.
    static func filterProblem(_ filters: JSON, depth: Int = 0) -> String? {
        guard case .array(let list) = filters else { return "filters must be an array" }
        guard depth < 3 else { return "filters are nested too deep" }
        for f in list {
            guard case .object(let o) = f else { return "each value in filters must be an object" }
            if let group = o["group"] {
                guard let g = group.stringValue, g == "AND" || g == "OR" else { return "group must be one of: AND, OR" }
                if let problem = filterProblem(o["filters"] ?? .null, depth: depth + 1) { return problem }
                continue
            }
            guard let field = o["field"]?.stringValue else { return "filters.field must be a string" }
            guard filterableFields.contains(field) || field.hasPrefix("customFields.") else {
                return "filters.field '\(field)' is not supported"
            }
            guard let op = o["operator"]?.stringValue, filterOperators.contains(op) else {
                return "filters.operator must be one of: " + filterOperators.sorted().joined(separator: ", ")
            }
            if op == "range" {
                guard case .object(let r)? = o["value"],
                    r["gte"] != nil || r["lte"] != nil || r["gt"] != nil
                        || r["lt"] != nil
                else { return "filters.value of a range must be an object with gte / lte" }
            } else if op != "exists" && op != "not_exists" && o["value"] == nil {
                return "filters.value is required for operator \(op)"
            }
        }
        return nil
    }

    /// A validated filter as a predicate on a stored contact.
    static func predicate(_ f: JSON) -> (JSONObject) -> Bool {
        if let group = f["group"]?.stringValue {
            let parts = (f["filters"]?.arrayValue ?? []).map(predicate)
            return group == "OR" ? { c in parts.contains { $0(c) } } : { c in parts.allSatisfy { $0(c) } }
        }
        let field = f["field"]?.stringValue ?? ""
        let op = f["operator"]?.stringValue ?? ""
        let value = f["value"] ?? .null
        func read(_ c: JSONObject) -> JSON? {
            var current: JSON? = .object(c)
            for part in field.split(separator: ".") { current = current?[String(part)] }
            if case .null? = current { return nil }
            return current
        }
        if field == "tags" {
            let want = value.stringValue?.foldedForComparison ?? ""
            let has = { (c: JSONObject) in
                (c["tags"]?.arrayValue ?? []).contains { $0.stringValue?.foldedForComparison == want }
            }
            switch op {
            case "eq", "contains": return has
            case "not_eq", "not_contains": return { !has($0) }
            case "exists": return { !($0["tags"]?.arrayValue ?? []).isEmpty }
            default: return { ($0["tags"]?.arrayValue ?? []).isEmpty }
            }
        }
        switch op {
        case "range":
            func instant(_ v: JSON?) -> Int64? {
                switch v {
                case .string(let s)?: return Timestamp(iso8601: s)?.milliseconds
                case .number(let n)?: return n.isFinite && abs(n) < 1e15 ? Int64(n) : nil
                default: return nil
                }
            }
            let gte = instant(value["gte"]), lte = instant(value["lte"])
            return { c in
                guard let t = instant(read(c)) else { return false }
                return (gte.map { t >= $0 } ?? true) && (lte.map { t <= $0 } ?? true)
            }
        case "exists": return { read($0) != nil }
        case "not_exists": return { read($0) == nil }
        default:
            let want = value.scalarText?.foldedForComparison
            let equal = { (c: JSONObject) in read(c)?.scalarText?.foldedForComparison == want }
            let contains = { (c: JSONObject) in
                guard let w = want, let v = read(c)?.scalarText?.foldedForComparison else { return false }
                return v.contains(w)
            }
            switch op {
            case "eq": return equal
            case "not_eq": return { !equal($0) }
            case "contains": return contains
            default: return { !contains($0) }
            }
        }
    }

    private func changeTags(id: String, add: Bool, body: JSON?) -> SandboxResponse {
        guard case .object(let b)? = body, let tags = b["tags"]?.arrayValue else {
            return Self.ghlError(422, "tags must be an array")
        }
        if let bad = b.keys.first(where: { $0 != "tags" }) {
            return Self.ghlError(422, "property \(bad) should not exist")
        }
        guard var c = ghlContacts[id] else { return Self.ghlError(404, "Contact not found") }
        var current = c["tags"]?.arrayValue?.compactMap(\.stringValue) ?? []
        for t in tags.compactMap(\.stringValue) {
            let folded = t.foldedForComparison
            if add {
                // GHL stores tags lower-cased.
                if !current.contains(where: { $0.foldedForComparison == folded }) { current.append(folded) }
            } else {
                current.removeAll { $0.foldedForComparison == folded }
            }
        }
        let changed = current != (c["tags"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        c["tags"] = .array(current.map(JSON.string))
        c["dateUpdated"] = .string(Timestamp(milliseconds: nowMs()).iso8601)
        storeGHLContact(c, id: id)
        if changed { emit("ContactTagUpdate", contact: c) }
        return .json(add ? 201 : 200, .object(JSONObject(["tags": .array(current.map(JSON.string))])))
    }

    /// `CreateContactDto`'s properties (`POST /contacts/`); `locationId` is required.
    static let creatableProperties: Set<String> = updatableProperties.union(["locationId", "gender", "companyName"])

    /// `POST /contacts/`: a new contact with an id GHL makes up (20 characters), answered
    /// `{"contact": {...}}` with 201. Tags are stored lower-cased, as GHL does.
    private func create(_ body: JSON?) -> SandboxResponse {
        guard case .object(let b)? = body else { return Self.ghlError(422, "body must be an object") }
        if let bad = b.keys.first(where: { !Self.creatableProperties.contains($0) }) {
            return Self.ghlError(422, "property \(bad) should not exist")
        }
        guard b["locationId"]?.stringValue == locationId else {
            return Self.ghlError(422, "locationId must be \(locationId)")
        }
        var c = b
        let n = ghlContacts.count + 1
        let id = "sbxNew" + String(n).leftPadded(to: 14, with: "0")
        c["id"] = .string(id)
        c["type"] = c["type"] ?? .string("lead")
        if let tags = b["tags"]?.arrayValue {
            c["tags"] = .array(tags.compactMap(\.stringValue).map { .string($0.foldedForComparison) })
        }
        c["dateAdded"] = .string(Timestamp(milliseconds: nowMs()).iso8601)
        c["dateUpdated"] = c["dateAdded"]
        putGHLContact(c)
        emit("ContactCreate", contact: ghlContacts[id] ?? c)
        return .json(201, .object(JSONObject(["contact": .object(ghlContacts[id] ?? c)])))
    }

    private func update(id: String, body: JSON?) -> SandboxResponse {
        guard case .object(let b)? = body else { return Self.ghlError(422, "body must be an object") }
        if let bad = b.keys.first(where: { !Self.updatableProperties.contains($0) }) {
            return Self.ghlError(422, "property \(bad) should not exist")
        }
        guard var c = ghlContacts[id] else { return Self.ghlError(404, "Contact not found") }
        let tagsBefore = c["tags"]
        for e in b.entries { c[e.key] = e.value }  // `tags` replaces every tag, as the real API does
        c["dateUpdated"] = .string(Timestamp(milliseconds: nowMs()).iso8601)
        storeGHLContact(c, id: id)
        emit("ContactUpdate", contact: c)
        if c["tags"] != tagsBefore { emit("ContactTagUpdate", contact: c) }
        return .json(200, .object(JSONObject(["succeded": .bool(true), "contact": .object(c)])))
    }
}
