import Foundation
import LeadsyncCore
import LeadsyncTestSupport
import LeadsyncValues
import Testing

@testable import LeadsyncRules

/// GHL's own documents, not our picture of them: every contact-bearing response example of
/// `apps/contacts.json` (built from the schema's `example` values, as GHL's reference pages show
/// them) and the example of each contact webhook page decode and evaluate under the project's
/// rules. A contact's own `type` ("read" in GHL's example) must never be taken for an event.
@Suite struct GoldenFixtureTests {
    static let root: String = {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
        return path
    }()
    static let apps = root + "/Tests/Fixtures/ghl-openapi/apps"

    static func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: path])
        }
        return [UInt8](data)
    }

    static let rules: CompiledRules = {
        let text = (try? String(contentsOfFile: root + "/rules/cold-leads.yaml", encoding: .utf8)) ?? ""
        return RulesCompiler.compile(source: text, file: "cold-leads.yaml").rules!
    }()

    /// A JSON value for `schema` from its `example`s, resolving local `$ref`s (depth-bounded).
    static func example(_ schema: JSON, _ schemas: JSONObject, depth: Int = 0) -> JSON? {
        guard depth < 12 else { return nil }
        if let ref = schema["$ref"]?.stringValue {
            guard ref.hasPrefix("#/components/schemas/"),
                let target = schemas[String(ref.dropFirst("#/components/schemas/".count))]
            else { return nil }
            return example(target, schemas, depth: depth + 1)
        }
        if let e = schema["example"] { return e }
        if let all = schema["allOf"]?.arrayValue {
            var merged = JSONObject()
            for part in all {
                if case .object(let o)? = example(part, schemas, depth: depth + 1) {
                    for e in o.entries { merged[e.key] = e.value }
                }
            }
            return .object(merged)
        }
        switch schema["type"]?.stringValue {
        case "array":
            return schema["items"].flatMap { example($0, schemas, depth: depth + 1) }.map { .array([$0]) }
        case "object", nil:
            guard case .object(let props)? = schema["properties"] else { return nil }
            var o = JSONObject()
            for p in props.entries {
                if let v = example(p.value, schemas, depth: depth + 1) { o[p.key] = v }
            }
            return .object(o)
        default: return nil
        }
    }

    /// (operation, contact JSON) for every 2xx response example that carries contacts.
    static let responseContacts: [(String, JSON)] = {
        guard let doc = try? JSONParser.parse(try read(apps + "/contacts.json")),
            case .object(let paths)? = doc["paths"]
        else { return [] }
        let schemas = doc["components"]?["schemas"]?.objectValue ?? JSONObject()
        var out: [(String, JSON)] = []
        for path in paths.entries {
            guard case .object(let ops) = path.value else { continue }
            for op in ops.entries {
                guard case .object(let responses)? = op.value["responses"] else { continue }
                for r in responses.entries where r.key.hasPrefix("2") {
                    guard let schema = r.value["content"]?["application/json"]?["schema"],
                        let body = example(schema, schemas)
                    else { continue }
                    let name = "\(op.key.uppercased()) \(path.key) \(r.key)"
                    if case .object(let c)? = body["contact"], c["id"] != nil { out.append((name, .object(c))) }
                    for c in body["contacts"]?.arrayValue ?? [] where c["id"] != nil { out.append((name, c)) }
                }
            }
        }
        return out
    }()

    @Test func theDocumentsHoldContactResponses() {
        let operations = Set(Self.responseContacts.map(\.0))
        #expect(operations.contains("GET /contacts/{contactId} 200"))
        // GHL documents no response schema for POST /contacts/search; its list schema
        // (`ContactsSearchSuccessfulResponseDto`, `{"contacts": [...], "count"}`) answers GET /contacts/.
        #expect(operations.contains("GET /contacts/ 200"), "\(operations.sorted())")
        #expect(Self.responseContacts.count >= 4, "\(operations.sorted())")
    }

    @Test func everyResponseExampleDecodesAsAContactAndEvaluates() throws {
        let engine = Engine(rules: Self.rules)
        for (operation, json) in Self.responseContacts {
            // As the CLI's dry-run reads it (no hint), and as a pass or re-read does (`.api`).
            for expecting in [nil, InboundContact.Shape.api] {
                let inbound = try InboundContact.decode(json, expecting: expecting)
                #expect(inbound.shape == .api, "\(operation)")
                #expect(inbound.contact.eventType == "manual", "\(operation)")
                let decision = engine.evaluate(inbound.contact, now: Timestamp(milliseconds: 1_800_000_000_000))
                #expect(decision.eventType == "manual", "\(operation)")
            }
        }
    }

    @Test(arguments: GHLDocuments.webhookTypes)
    func everyWebhookPageExampleDecodesAndEvaluates(type: String) throws {
        let json = try GHLDocuments.webhookExample(type)
        let inbound = try InboundContact.decode(json)
        #expect(inbound.shape == .marketplace)
        #expect(inbound.contact.eventType == type)
        #expect(inbound.deleted == (type == "ContactDelete"))
        #expect(!inbound.contact.id.isEmpty)
        let decision = Engine(rules: Self.rules).evaluate(
            inbound.contact, now: Timestamp(milliseconds: 1_800_000_000_000), deleted: inbound.deleted)
        #expect(decision.eventType == type)
        if type == "ContactDndUpdate" {
            #expect(inbound.contact.field("dndSettings") != nil)
        } else {
            // By GHL's schemas only ContactDndUpdate carries the per-channel settings.
            #expect(inbound.contact.field("dndSettings") == nil)
        }
    }
}
