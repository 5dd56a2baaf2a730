import LeadsyncCore
import LeadsyncRules
import LeadsyncValues

extension RulesFile {
    /// Reads and compiles `path` and its sibling tests file. An unreadable or missing file is a
    /// `CLIError`; problems inside the file are diagnostics.
    public static func load(_ path: String) throws(CLIError) -> RulesFile {
        let file = try load(path) { (p: String) throws(CLIError) -> String? in
            p == path || FileInput.exists(p) ? try FileInput.readText(p) : nil
        }
        guard let file else { throw CLIError("cannot read '\(path)'") }
        return file
    }

    /// The rules files `paths` name, each once, in order. A tests file (`x.tests.yaml`, given
    /// alone or by a glob such as `rules/*.yaml`) stands for its rules file `x.yaml`, which is
    /// loaded with it anyway; a line says which file it belongs to. A tests file with no rules
    /// file beside it is a problem (counted, reported on stderr).
    static func rulesFiles(_ paths: [String], console: Console) -> (paths: [String], problems: Int) {
        var out: [String] = []
        var problems = 0
        for path in paths {
            var target = path
            if let rules = rulesFile(ofTests: path) {
                guard FileInput.exists(rules) else {
                    console.err.line(
                        "leadsync: \(path) is a tests file, but there is no \(rules) beside it for it to test")
                    problems += 1
                    continue
                }
                console.out.line("\(path): the tests of \(rules) (loaded with it)")
                target = rules
            }
            if !out.contains(target) { out.append(target) }
        }
        return (out, problems)
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
