import LeadsyncCore
import LeadsyncValues
import Testing

@testable import LeadsyncRules

/// A minimal valid rules file around one condition, for operator tests.
func rulesFile(condition: String, extra: String = "") -> String {
    """
    version: 1
    buckets:
      b: 1
    rules:
      - name: r
        when: \(condition)
        bucket: b
    \(extra)
    """
}

func compileOK(_ source: String, file: String = "t.yaml") throws -> CompiledRules {
    let doc = RulesCompiler.compile(source: source, file: file)
    let errors = doc.diagnostics.filter { $0.severity == .error }
    #expect(errors.isEmpty, "unexpected diagnostics: \(errors.map(\.headline))")
    return try #require(doc.rules)
}

func contact(_ json: String, eventType: String = "manual") throws -> Contact {
    try InboundContact.decode(try JSONParser.parse(json), defaultEventType: eventType).contact
}

let testNow = Timestamp(iso8601: "2026-11-29T12:00:00Z")!

/// Diagnostics as `code line:col` strings: the golden form the tests compare.
func golden(_ source: String) -> [String] {
    RulesCompiler.compile(source: source, file: "t.yaml").diagnostics.map {
        "\($0.severity == .warning ? "warning " : "")\($0.code.rawValue) \($0.line):\($0.column)"
    }
}
