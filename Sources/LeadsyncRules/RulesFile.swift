import LeadsyncCore
import LeadsyncValues

/// A rules file with its sibling `NAME.tests.yaml` when there is one, compiled together.
///
/// Pure: the caller reads files (`read` returns a file's text, nil when it does not exist, and
/// throws when it exists but cannot be read). `check`, `test`, `dry-run`, `sync` and the
/// server's reload all load rules this one way.
public struct RulesFile: Sendable {
    public var path: String
    public var document: RulesDocument
    /// Diagnostics of the rules file and of its tests file, sorted.
    public var diagnostics: [Diagnostic]
    /// Inline tests, then the sibling file's.
    public var tests: [RuleTestCase]
    /// The sibling tests file, when there is one.
    public var testsPath: String?
    /// Source lines by file, for caret snippets.
    public var sources: [String: [Substring]]

    public var rules: CompiledRules? { diagnostics.hasErrors ? nil : document.rules }

    /// Compiles `path` and its sibling tests file.
    public static func load<E: Error>(_ path: String, read: (String) throws(E) -> String?) throws(E) -> RulesFile? {
        guard let text = try read(path) else { return nil }
        let document = RulesCompiler.compile(source: text, file: path)
        var diagnostics = document.diagnostics
        var tests = document.tests
        var sources = [path: document.sourceLines]
        let sibling = testsSibling(of: path)
        let testText = try read(sibling)
        if let testText {
            let (more, testDiagnostics) = RulesCompiler.compileTests(
                source: testText, file: sibling, against: document.partial)
            tests += more
            diagnostics += testDiagnostics
            sources[sibling] = testText.split(separator: "\n", omittingEmptySubsequences: false)
        }
        diagnostics.sort()
        return RulesFile(
            path: path, document: document, diagnostics: diagnostics, tests: tests,
            testsPath: testText == nil ? nil : sibling, sources: sources)
    }

    /// `rules/x.yaml` → `rules/x.tests.yaml` (and `.yml` alike).
    public static func testsSibling(of path: String) -> String {
        for ext in [".yaml", ".yml"] where path.hasSuffix(ext) {
            return String(path.dropLast(ext.count)) + ".tests" + ext
        }
        return path + ".tests.yaml"
    }

    /// `rules/x.tests.yaml` → `rules/x.yaml`: the rules file a tests file belongs to, or nil for a
    /// name that is not a tests file's.
    public static func rulesFile(ofTests path: String) -> String? {
        for ext in [".yaml", ".yml"] where path.hasSuffix(".tests" + ext) {
            return String(path.dropLast((".tests" + ext).count)) + ext
        }
        return nil
    }
}
