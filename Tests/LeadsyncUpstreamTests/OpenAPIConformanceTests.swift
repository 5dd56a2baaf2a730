import AsyncHTTPClient
import Foundation
import LeadsyncTestSupport
import LeadsyncValues
import Testing

@testable import LeadsyncSandbox
@testable import LeadsyncUpstream

/// Every request the GHL client sends, checked against GHL's official OpenAPI documents
/// (Tests/Fixtures/ghl-openapi, copied from the project's shared/upstream): the operation exists, required headers and query parameters are
/// present, and the body has the schema's required keys with the right JSON types.
@Suite(.serialized) struct OpenAPIConformanceTests {
    static let upstream: String = {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
        return path + "/Tests/Fixtures/ghl-openapi/apps"
    }()

    struct Spec {
        let doc: JSON
        let components: JSONObject

        func operation(method: String, path: String) -> JSON? {
            guard case .object(let paths)? = doc["paths"] else { return nil }
            let segments = path.split(separator: "/").map(String.init)
            for entry in paths.entries {
                let template = entry.key.split(separator: "/").map(String.init)
                guard template.count == segments.count else { continue }
                let fits = zip(template, segments).allSatisfy { t, s in (t.hasPrefix("{") && t.hasSuffix("}")) || t == s
                }
                if fits, let op = entry.value[method.lowercased()] { return op }
            }
            return nil
        }

        func resolve(_ schema: JSON) -> JSON {
            if let ref = schema["$ref"]?.stringValue, ref.hasPrefix("#/components/schemas/") {
                return components[String(ref.dropFirst("#/components/schemas/".count))] ?? schema
            }
            return schema
        }

        func typeMatches(_ value: JSON, _ type: String) -> Bool {
            switch (type, value) {
            case ("string", .string), ("array", .array), ("object", .object), ("boolean", .bool), ("number", .number):
                return true
            case ("integer", .number(let n)): return n == n.rounded()
            default: return false
            }
        }
    }

    static func load(_ file: String) throws -> Spec {
        let path = upstream + "/" + file
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: path])
        }
        let doc = try JSONParser.parse([UInt8](data))
        return Spec(doc: doc, components: doc["components"]?["schemas"]?.objectValue ?? JSONObject())
    }

    @Test func theGHLClientSendsWhatTheOpenAPIDescribes() async throws {
        let specs = [try Self.load("contacts.json"), try Self.load("locations.json")]
        let requests = try await UpstreamHarness.with { h in
            let ghl = h.ghl
            await h.state.putGHLContact(JSONObject(["id": .string("c1"), "tags": .array([.string("a")])]))
            _ = try await ghl.contact("c1")
            let page = try await ghl.search(
                filters: [
                    .object(JSONObject(["field": .string("tags"), "operator": .string("eq"), "value": .string("a")]))
                ],
                pageLimit: 1)
            _ = try await ghl.search(pageLimit: 1, searchAfter: page.next)
            try await ghl.addTags("c1", ["b"])
            try await ghl.removeTags("c1", ["a"])
            _ = try await ghl.customFields()
            // `check --online`'s reads.
            #expect(try await ghl.locationTags() == ["b"])
            #expect(try await ghl.carries(tag: "b"))
            return await h.state.requests
        }

        #expect(requests.count == 8)
        for r in requests {
            guard let op = specs.lazy.compactMap({ $0.operation(method: r.method, path: r.path) }).first,
                let spec = specs.first(where: { $0.operation(method: r.method, path: r.path) != nil })
            else {
                Issue.record("\(r.method) \(r.path) is not in GHL's OpenAPI")
                continue
            }
            for p in op["parameters"]?.arrayValue ?? [] {
                guard p["required"] == .bool(true), let name = p["name"]?.stringValue else { continue }
                switch p["in"]?.stringValue {
                case "header":
                    #expect(r.headers[name.lowercased()] != nil, "\(r.method) \(r.path) lacks header \(name)")
                    if name == "Version",
                        let example = p["schema"]?["example"]?.stringValue ?? p["example"]?.stringValue
                    {
                        #expect(r.headers["version"] == example)
                    }
                    if let options = p["schema"]?["enum"]?.arrayValue?.compactMap(\.stringValue) {
                        #expect(
                            options.contains(r.headers[name.lowercased()] ?? ""),
                            "\(r.method) \(r.path): header \(name) must be one of \(options)")
                    }
                case "query":
                    #expect(r.query[name] != nil, "\(r.method) \(r.path) lacks query parameter \(name)")
                default: continue
                }
            }
            guard let schemaRef = op["requestBody"]?["content"]?["application/json"]?["schema"] else {
                #expect(r.body == nil, "\(r.method) \(r.path) sends a body the API does not take")
                continue
            }
            let schema = spec.resolve(schemaRef)
            let body = try #require(r.body, "\(r.method) \(r.path) needs a body")
            // Closed: GHL rejects unknown body properties with 422. Enums and nested types too.
            var validator = SchemaValidator(schemas: spec.components)
            validator.closed = schema["properties"]?.objectValue.map { !$0.entries.isEmpty } ?? false
            let problems = validator.validate(body, schema)
            #expect(problems.isEmpty, "\(r.method) \(r.path): \(problems)")
            for key in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] {
                #expect(body[key] != nil, "\(r.method) \(r.path): missing required '\(key)'")
            }
            if case .object(let props)? = schema["properties"] {
                for e in props.entries {
                    guard let value = body[e.key], let type = spec.resolve(e.value)["type"]?.stringValue else {
                        continue
                    }
                    #expect(spec.typeMatches(value, type), "\(r.method) \(r.path): '\(e.key)' should be \(type)")
                    if type == "array", let itemType = e.value["items"]?["type"]?.stringValue {
                        #expect(value.arrayValue?.allSatisfy { spec.typeMatches($0, itemType) } == true)
                    }
                }
            }
        }
    }
}
