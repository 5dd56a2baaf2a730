import LeadsyncCore
import LeadsyncRules
import LeadsyncValues

/// `leadsync test RULES...`: runs inline and sibling tests; the last line is `N passed, N failed`.
public enum TestCommand {
    /// `coverage`: print which rules and exclusions the tests reach; `minCoverage` (percent):
    /// fail a file whose tests reach fewer.
    public static func run(
        files: [String], now: Timestamp, verbose: Bool = false, coverage: Bool = false, minCoverage: Double? = nil,
        console: Console
    ) -> Int32 {
        var passed = 0, failed = 0
        var belowMinimum = false
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
            var cover = RuleCoverage(rules: rules)
            for test in file.tests {
                let result = runner.run(test)
                if let d = result.decision { cover.add(d, test: test.name) }
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
            if coverage || minCoverage != nil {
                printCoverage(cover, path: path, console: console)
                if let minCoverage, cover.percent < minCoverage {
                    console.err.line(
                        "\(path): coverage \(Self.percent(cover.percent)) is below --min-coverage \(Self.percent(minCoverage))"
                    )
                    belowMinimum = true
                }
            }
        }
        console.out.line("\(passed) passed, \(failed) failed")
        console.out.flush()
        console.err.flush()
        return failed > 0 || broken || belowMinimum ? 1 : 0
    }

    static func percent(_ p: Double) -> String {
        // cannot trap: a share from 0 to 100, or a --min-coverage the parser bounded
        "\(Int(min(max(p, 0), 100).rounded(.down)))%"
    }

    /// Per rule and exclusion: the tests that reach it; then those none reaches.
    static func printCoverage(_ c: RuleCoverage, path: String, console: Console) {
        console.out.line("coverage of \(path) by \(c.tests) tests:")
        for item in c.items {
            let what = "\(item.kind.rawValue) \(item.name)".rightPadded(to: 30)
            var line = "  \(what) "
            switch item.kind {
            case .rule:
                line += "applied in \(item.hits), blocked in \(item.blocked), not matched in \(item.misses)"
            case .exclusion:
                line += "matched in \(item.hits), not in \(item.misses)"
            }
            if !item.tests.isEmpty { line += "   e.g. \"\(item.tests[0])\"" }
            console.out.line(line)
        }
        for item in c.unreached {
            let place = item.line > 0 ? "\(path):\(item.line): " : "\(path): "
            console.out.line(
                "\(place)not reached: no test makes \(item.kind.rawValue) '\(item.name)' "
                    + (item.kind == .rule ? "apply" : "match"))
        }
        console.out.line(
            "\(c.items.count - c.unreached.count) of \(c.items.count) rules and exclusions reached (\(percent(c.percent)))"
        )
    }
}
