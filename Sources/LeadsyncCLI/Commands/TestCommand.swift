import LeadsyncCore
import LeadsyncRules
import LeadsyncValues

/// `leadsync test RULES...`: runs inline and sibling tests; the last line is `N passed, N failed`.
public enum TestCommand {
    public static func run(files: [String], now: Timestamp, verbose: Bool = false, console: Console) -> Int32 {
        var passed = 0, failed = 0
        let (paths, problems) = RulesFile.rulesFiles(files, console: console)
        var broken = problems > 0
        for path in paths {
            let file: RulesFile
            let rules: CompiledRules
            do {
                (file, rules) = try RulesFile.loadValid(path, console: console)
            } catch {
                console.err.line("leadsync: \(error.message)")
                broken = true
                continue
            }
            if file.tests.isEmpty {
                console.err.line(
                    "\(path): warning: no tests (add a 'tests:' list or \(RulesFile.testsSibling(of: path)))")
            }
            let runner = RuleTestRunner(rules: rules, defaultNow: now) { test throws(CLIError) in
                guard case .file(let rel) = test.input else { return .null }
                let resolved = Paths.resolve(rel, relativeTo: test.file)
                let bytes = try FileInput(path: resolved).readAll()
                switch Result(catching: { () throws(JSONParser.Error) -> JSON in try JSONParser.parse(bytes) }) {
                case .success(let json): return json
                case .failure(let error): throw CLIError("\(resolved): invalid JSON: \(error.message)")
                }
            }
            for test in file.tests {
                let result = runner.run(test)
                if result.passed {
                    passed += 1
                    if verbose { console.out.line("PASS  \(test.name)") }
                    continue
                }
                failed += 1
                console.out.line("FAIL  \(test.name)  (\(test.file):\(test.line))")
                for f in result.failures { console.out.line("      \(f)") }
                if let d = result.decision {
                    for line in d.report(rules: rules).split(separator: "\n").drop(while: { !$0.hasPrefix("  trace") })
                    {
                        console.out.line("    \(line)")
                    }
                }
            }
        }
        console.out.line("\(passed) passed, \(failed) failed")
        console.out.flush()
        console.err.flush()
        return failed > 0 || broken ? 1 : 0
    }
}
