import LeadsyncCore
import LeadsyncRules
import LeadsyncValues

/// `leadsync check RULES...`: every diagnostic of every file; exit 1 when any has an error.
public enum CheckCommand {
    public static func run(files: [String], console: Console) -> Int32 {
        let (paths, problems) = RulesFile.rulesFiles(files, console: console)
        var failed = problems > 0
        for path in paths {
            let file: RulesFile
            do {
                file = try RulesFile.load(path)
            } catch {
                console.err.line("leadsync: \(error.message)")
                failed = true
                continue
            }
            file.printDiagnostics(to: console.err, notes: true)
            let errors = file.diagnostics.errorCount, warnings = file.diagnostics.warningCount
            if errors > 0 {
                failed = true
                console.out.line(
                    "\(path): \(errors) error\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s")")
            } else if let rules = file.rules {
                let userExclusions = rules.exclusions.count - 1
                var summary =
                    "\(path): ok (\(rules.rules.count) rules, \(userExclusions) exclusions, "
                    + "\(rules.buckets.count) buckets, \(file.tests.count) tests"
                if warnings > 0 { summary += ", \(warnings) warning\(warnings == 1 ? "" : "s")" }
                let notes = file.diagnostics.noteCount
                if notes > 0 { summary += ", \(notes) note\(notes == 1 ? "" : "s")" }
                console.out.line(summary + ")")
            }
        }
        console.out.flush()
        console.err.flush()
        return failed ? 1 : 0
    }
}
