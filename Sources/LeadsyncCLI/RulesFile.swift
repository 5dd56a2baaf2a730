import LeadsyncCore
import LeadsyncRules
import LeadsyncValues

/// A rules file read from disk, with its sibling `NAME.tests.yaml` when there is one.
public struct RulesFile {
    public var document: RulesDocument
    /// Diagnostics of the rules file and of its tests file, sorted.
    public var diagnostics: [Diagnostic]
    /// Inline tests, then the sibling file's.
    public var tests: [RuleTestCase]
    /// Source lines by file, for caret snippets.
    var sources: [String: [Substring]]

    public var rules: CompiledRules? { diagnostics.hasErrors ? nil : document.rules }

    /// Reads and compiles `path`. An unreadable file is a `CLIError`; problems inside the file
    /// are diagnostics.
    public static func load(_ path: String) throws(CLIError) -> RulesFile {
        let text = try FileInput.readText(path)
        let document = RulesCompiler.compile(source: text, file: path)
        var diagnostics = document.diagnostics
        var tests = document.tests
        var sources = [path: document.sourceLines]
        let sibling = Paths.testsSibling(of: path)
        if FileInput.exists(sibling) {
            let testText = try FileInput.readText(sibling)
            let (more, testDiagnostics) = RulesCompiler.compileTests(
                source: testText, file: sibling, against: document.partial)
            tests += more
            diagnostics += testDiagnostics
            sources[sibling] = testText.split(separator: "\n", omittingEmptySubsequences: false)
        }
        diagnostics.sort()
        return RulesFile(document: document, diagnostics: diagnostics, tests: tests, sources: sources)
    }

    /// Writes every diagnostic with its caret snippet.
    /// Errors and warnings; notes too when `notes` (only `check` shows them).
    public func printDiagnostics(to sink: OutputSink, notes: Bool = false) {
        for d in diagnostics where notes || d.severity != .note {
            sink.line(d.rendered(sourceLines: sources[d.file] ?? []))
        }
    }

    /// Loads and insists on a usable file: diagnostics go to `err`, errors become a `CLIError`.
    public static func loadValid(_ path: String, console: Console) throws(CLIError) -> (RulesFile, CompiledRules) {
        let file = try load(path)
        file.printDiagnostics(to: console.err)
        guard let rules = file.rules else {
            throw CLIError("\(path): \(file.diagnostics.errorCount) error(s); fix them first (leadsync check \(path))")
        }
        return (file, rules)
    }
}
