import AsyncHTTPClient
import Foundation
import LeadsyncValues
import NIOHTTP1
import Synchronization
import Testing

@testable import LeadsyncSandbox
@testable import LeadsyncUpstream

/// A small JSON Schema validator for GHL's OpenAPI 3 documents: `$ref` (local), `allOf`, `type`,
/// `enum`, `required`, `properties` (closed or open), `items`, `nullable`.
struct SchemaValidator {
    let schemas: JSONObject
    /// Real GHL answers `null` for empty fields at least as often as it omits them, whatever the
    /// schema says (docs/upstreams.md): allowed in responses, never in what we send.
    var allowNull = false
    /// Unknown keys are errors (GHL rejects unknown body properties with 422).
    var closed = false
    /// Paths (`contact.lastActivity`, `customFields[].value`) where public captures of real
    /// responses disagree with the schema: checked for presence, not type.
    var deviations: Set<String> = []

    func resolve(_ schema: JSON) -> JSON? {
        guard let ref = schema["$ref"]?.stringValue else { return schema }
        guard ref.hasPrefix("#/components/schemas/") else { return nil }  // another document: not checked
        return schemas[String(ref.dropFirst("#/components/schemas/".count))]
    }

    func validate(_ value: JSON, _ schema: JSON, at path: String = "", depth: Int = 0) -> [String] {
        guard depth < 20, let schema = resolve(schema) else { return [] }
        if deviations.contains(path) { return [] }
        if let all = schema["allOf"]?.arrayValue {
            return all.flatMap { validate(value, $0, at: path, depth: depth + 1) }
        }
        if case .null = value {
            return allowNull || schema["nullable"] == .bool(true) ? [] : ["\(path): null"]
        }
        if let options = schema["enum"]?.arrayValue, !options.contains(value) {
            return ["\(path): \(JSONWriter.encode(value)) is not one of \(JSONWriter.encode(.array(options)))"]
        }
        switch (schema["type"]?.stringValue, value) {
        case ("string", .string), ("boolean", .bool), ("number", .number): return []
        case ("integer", .number(let n)): return n == n.rounded() ? [] : ["\(path): \(n) is not an integer"]
        case ("array", .array(let items)):
            guard let itemSchema = schema["items"] else { return [] }
            return items.enumerated().flatMap { validate($0.element, itemSchema, at: path + "[]", depth: depth + 1) }
        case ("object", .object(let o)), (nil, .object(let o)):
            var problems: [String] = []
            for key in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where o[key] == nil {
                problems.append("\(path): required '\(key)' is missing")
            }
            guard case .object(let props)? = schema["properties"] else { return problems }
            for e in o.entries {
                let sub = path.isEmpty ? e.key : path + "." + e.key
                if let p = props[e.key] {
                    problems += validate(e.value, p, at: sub, depth: depth + 1)
                } else if closed && !deviations.contains(sub) {
                    problems.append("\(sub): not a property of the schema")
                }
            }
            return problems
        case (nil, _): return []
        case (let type?, _): return ["\(path): \(value.typeName) where the schema says \(type)"]
        }
    }
}

/// The sandbox answers, and the client asks, as GHL's official documents say: every sandbox
/// response body and webhook body, and every request the GHL client sends, validated against
/// the schemas in Tests/Fixtures/ghl-openapi (copied from shared/upstream).
@Suite(.serialized) struct SchemaValidationTests {
    static let apps = OpenAPIConformanceTests.upstream

    static func document(_ file: String) throws -> (doc: JSON, schemas: JSONObject) {
        let spec = try OpenAPIConformanceTests.load(file)
        return (spec.doc, spec.components)
    }

    /// The JSON schema block of a webhook page.
    static func webhookSchema(_ type: String) throws -> JSON {
        let text = try String(contentsOfFile: apps + "/webhook-\(type).md", encoding: .utf8)
        guard let start = text.range(of: "```json json_schema"),
            let end = text[start.upperBound...].range(of: "```")
        else { throw CocoaError(.fileReadCorruptFile) }
        return try JSONParser.parse(String(text[start.upperBound..<end.lowerBound]))
    }

    /// Where public captures of real GHL responses disagree with the schema (docs/upstreams.md):
    /// `lastActivity` is epoch milliseconds (a number), custom field values are strings, numbers,
    /// arrays or epoch-millisecond dates.
    static let knownDeviations: Set<String> = [
        "contact.lastActivity", "contact.customFields[].value", "lastActivity", "customFields[].value",
        "contacts[].customFields[].value",
    ]

    @Test func everySandboxContactResponseMatchesGHLSchemas() async throws {
        let (_, schemas) = try Self.document("contacts.json")
        try await ClientTests.withSandbox { server, ghl, _ in
            await SandboxPopulation.seed(server.state, count: 200)
            var v = SchemaValidator(schemas: schemas)
            v.allowNull = true
            v.deviations = Self.knownDeviations
            let byId = try #require(schemas["ContactsByIdSuccessfulResponseDto"])
            let full = try #require(schemas["GetContectByIdSchema"])
            var problems: [String] = []
            for i in stride(from: 0, to: 200, by: 7) {
                let contact = try await ghl.contact(SandboxPopulation.id(i))
                problems += v.validate(.object(JSONObject(["contact": contact])), byId)
            }
            let page = try await ghl.search(pageLimit: 200)
            #expect(page.contacts.count == 200)
            for c in page.contacts { problems += v.validate(c, full) }
            let searchEnvelope = try #require(schemas["ContactsSearchSuccessfulResponseDto"])
            problems += v.validate(
                .object(JSONObject(["contacts": .array(Array(page.contacts.prefix(3))), "count": .number(200)])),
                searchEnvelope)
            #expect(problems.isEmpty, "\(Set(problems).sorted().prefix(10))")
            // Every contact carries its own type, as real GHL does.
            #expect(page.contacts.allSatisfy { ["lead", "customer"].contains($0["type"]?.stringValue ?? "") })
        }
    }

    @Test func theSandboxCustomFieldListMatchesGHLSchema() async throws {
        let (doc, schemas) = try Self.document("locations.json")
        try await ClientTests.withSandbox { server, ghl, _ in
            await SandboxPopulation.seed(server.state, count: 1)
            let op = try #require(doc["paths"]?["/locations/{locationId}/customFields"]?["get"])
            let schema = try #require(op["responses"]?["200"]?["content"]?["application/json"]?["schema"])
            // The raw answer, through the client's own transport.
            let raw = try await ghl.http.send(
                .GET, "/locations/sandboxLocation0001/customFields", query: [("model", "contact")])
            var v = SchemaValidator(schemas: schemas)
            v.allowNull = true
            let problems = v.validate(raw.body, schema)
            #expect(problems.isEmpty, "\(problems.prefix(10))")
            #expect(raw.body["customFields"]?.arrayValue?.count == SandboxPopulation.customFields.count)
            #expect(try await ghl.customFields().definitions.count == SandboxPopulation.customFields.count)
        }
    }

    @Test func theSandboxLocationTagsMatchGHLSchema() async throws {
        let (doc, schemas) = try Self.document("locations.json")
        try await ClientTests.withSandbox { server, ghl, _ in
            await SandboxPopulation.seed(server.state, count: 30)
            let op = try #require(doc["paths"]?["/locations/{locationId}/tags"]?["get"])
            let schema = try #require(op["responses"]?["200"]?["content"]?["application/json"]?["schema"])
            let raw = try await ghl.http.send(.GET, "/locations/sandboxLocation0001/tags")
            var v = SchemaValidator(schemas: schemas)
            v.closed = true
            let problems = v.validate(raw.body, schema)
            #expect(problems.isEmpty, "\(problems.prefix(10))")
            let names = try await ghl.locationTags()
            #expect(names.contains("cold lead") && names.contains("newsletter"), "\(names)")
            #expect(Set(names).count == names.count)
        }
    }

    /// Each event the sandbox GHL emits has only the keys its page's schema lists (plus the
    /// delivery envelope, `timestamp` and `webhookId`), of the listed types.
    @Test func everySandboxWebhookMatchesItsPage() async throws {
        let state = SandboxState()
        let events = Mutex<[JSONObject]>([])
        await state.setWebhookSink { e in events.withLock { $0.append(e) } }
        await SandboxPopulation.seed(state, count: 60)
        for i in 0..<60 {
            let id = SandboxPopulation.id(i)
            if i % 2 == 0 { await state.emitTagUpdate(id) } else { await state.emitDndUpdate(id) }
        }
        let emitted = events.withLock { $0 }
        #expect(emitted.count == 60)
        var problems: [String] = []
        for e in emitted {
            let type = try #require(e["type"]?.stringValue)
            var schema = try Self.webhookSchema(type)
            // The delivery envelope: GHL adds these to every marketplace event (upstreams.md:
            // `timestamp`, `webhookId`, and the app's `appId`).
            if case .object(var o) = schema, case .object(var props)? = o["properties"] {
                props["timestamp"] = .object(JSONObject(["type": .string("string")]))
                props["webhookId"] = .object(JSONObject(["type": .string("string")]))
                props["appId"] = .object(JSONObject(["type": .string("string")]))
                o["properties"] = .object(props)
                schema = .object(o)
            }
            var v = SchemaValidator(schemas: JSONObject())
            v.closed = true
            // Channels beyond the documented six have been seen (`RCS`).
            v.deviations = ["customFields[].value", "dndSettings.RCS"]
            problems += v.validate(.object(e), schema).map { "\(type): \($0)" }
            if type != "ContactDndUpdate" { #expect(e["dndSettings"] == nil) }
        }
        #expect(problems.isEmpty, "\(problems.prefix(10))")
    }

    /// The validator itself catches what it must (a test that cannot fail is no test).
    @Test func theValidatorCatchesTypesEnumsRequiredAndUnknownKeys() throws {
        let schema = try JSONParser.parse(
            #"{"type":"object","required":["a"],"properties":{"a":{"type":"string","enum":["x"]},"n":{"type":"integer"},"l":{"type":"array","items":{"type":"string"}}}}"#
        )
        var v = SchemaValidator(schemas: JSONObject())
        v.closed = true
        #expect(v.validate(try JSONParser.parse(#"{"a":"x","n":3,"l":["s"]}"#), schema).isEmpty)
        #expect(
            v.validate(try JSONParser.parse(#"{"a":"y","n":3.5,"l":[1],"z":true}"#), schema) == [
                #"a: "y" is not one of ["x"]"#, "n: 3.5 is not an integer", "l[]: number where the schema says string",
                "z: not a property of the schema",
            ])
        #expect(v.validate(try JSONParser.parse(#"{"n":null}"#), schema) == [": required 'a' is missing", "n: null"])
    }
}
