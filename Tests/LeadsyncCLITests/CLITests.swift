import Foundation
import LeadsyncCore
import LeadsyncValues
import Testing

@testable import LeadsyncCLI

/// The package root, found from this file's path.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path
let coldLeads = root + "/rules/cold-leads.yaml"
let fixedNow = Timestamp(iso8601: "2026-11-29T12:00:00Z")!

/// Runs a command in-process; returns exit code, stdout and stderr.
func capture(_ body: (Console) -> Int32) -> (code: Int32, out: String, err: String) {
    let out = BufferOutput(), err = BufferOutput()
    let code = body(Console(out: out, err: err))
    return (code, out.text, err.text)
}

/// Runs an async command in-process; returns exit code, stdout and stderr.
func capture(_ body: (Console) async -> Int32) async -> (code: Int32, out: String, err: String) {
    let out = BufferOutput(), err = BufferOutput()
    let code = await body(Console(out: out, err: err))
    return (code, out.text, err.text)
}

/// A temporary directory removed when the test ends.
final class TempDir {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "leadsync-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func write(_ name: String, _ text: String) throws -> String {
        let p = path + "/" + name
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

@Suite struct CheckCommandTests {
    /// `check rules/*.yaml` and `test rules/*.yaml` on the project's own directory: the tests
    /// file is recognised as the tests of its rules file, not checked as rules.
    @Test func aSiblingTestsFileInAGlobBelongsToItsRulesFile() {
        let files = [coldLeads, root + "/rules/cold-leads.tests.yaml"]
        let check = capture { CheckCommand.run(files: files, console: $0) }
        #expect(check.code == 0, "\(check.err)")
        #expect(check.out.contains("rules/cold-leads.tests.yaml: the tests of \(coldLeads) (loaded with it)"))
        #expect(check.out.components(separatedBy: ": ok (").count == 2, "checked once: \(check.out)")
        let alone = capture {
            TestCommand.run(files: [root + "/rules/cold-leads.tests.yaml"], now: fixedNow, console: $0)
        }
        #expect(alone.code == 0)
        #expect(alone.out.hasSuffix("21 passed, 0 failed\n"), "\(alone.out)")
    }

    @Test func aTestsFileWithoutItsRulesFileIsAnError() throws {
        let dir = try TempDir()
        let orphan = try dir.write("lost.tests.yaml", "tests: []\n")
        let r = capture { CheckCommand.run(files: [orphan], console: $0) }
        #expect(r.code == 1)
        #expect(
            r.err
                == "leadsync: \(orphan) is a tests file, but there is no \(dir.path)/lost.yaml beside it for it to test\n"
        )
    }

    @Test func theShippedRulesAreClean() {
        let r = capture { CheckCommand.run(files: [coldLeads], console: $0) }
        #expect(r.code == 0)
        // No error, no warning; one note: how the do-not-call exclusion is completed.
        #expect(
            r.err == """
                \(coldLeads):48:13: note: exclusion 'do-not-call' reads dndSettings, which GHL search, a ContactTagUpdate webhook may leave out: a contact without it is re-read with GET /contacts/{id} before it is put in a bucket
                        - { field: dndSettings.Call.status, in: [active, permanent] }
                            ^

                """)
        #expect(r.out == "\(coldLeads): ok (3 rules, 3 exclusions, 2 buckets, 21 tests, 1 note)\n")
    }

    /// Trusting an omitted field is a risk: a warning that says which.
    @Test func trustingAnOmittedFieldIsAWarning() throws {
        let dir = try TempDir()
        let text = try String(contentsOfFile: coldLeads, encoding: .utf8)
        let file = try dir.write("trust.yaml", text + "\ncompleteness: { trust_when_absent: [dndSettings] }\n")
        let r = capture { CheckCommand.run(files: [file], console: $0) }
        #expect(r.code == 0)
        #expect(
            r.err.contains(
                "warning: exclusion 'do-not-call' reads dndSettings, which GHL search, a ContactTagUpdate webhook may leave out, and completeness.trust_when_absent trusts it"
            ))
        #expect(r.out.hasSuffix("tests, 1 warning)\n"))
        let bad = try dir.write("bad.yaml", text + "\ncompleteness: { trust_when_absent: [phone] }\n")
        let b = capture { CheckCommand.run(files: [bad], console: $0) }
        #expect(b.code == 1)
        #expect(
            b.err.contains(
                "error: trust_when_absent: no source leaves out 'phone'; the keys a source may omit are dnd, dndSettings, inboundDndSettings"
            ))
    }

    @Test func errorsPrintCompilerStyleAndExitOne() throws {
        let dir = try TempDir()
        let file = try dir.write(
            "bad.yaml",
            """
            version: 1
            buckets: { cold: 1 }
            rules:
              - name: r
                when: { tags: { hass: x } }
                bucket: colt
            """)
        let r = capture { CheckCommand.run(files: [file], console: $0) }
        #expect(r.code == 1)
        #expect(
            r.err == """
                \(file):2:12: warning: bucket 'cold' is declared but no rule routes to it
                buckets: { cold: 1 }
                           ^
                \(file):5:21: error: unknown tag operator 'hass'; did you mean 'has'?
                    when: { tags: { hass: x } }
                                    ^
                \(file):6:13: error: rule 'r' routes to unknown bucket 'colt'; did you mean 'cold'?
                    bucket: colt
                            ^

                """)
        #expect(r.out == "\(file): 2 errors, 1 warning\n")
    }

    @Test func warningsAloneExitZero() throws {
        let dir = try TempDir()
        let file = try dir.write(
            "w.yaml",
            "version: 1\nbuckets: { a: 1, b: 2 }\nrules: [{ name: r, when: { tags: { has: x } }, bucket: a }]\n")
        let r = capture { CheckCommand.run(files: [file], console: $0) }
        #expect(r.code == 0)
        #expect(r.err.hasPrefix("\(file):2:18: warning: bucket 'b' is declared but no rule routes to it"))
        #expect(
            r.err.contains(
                "\(file):3:1: warning: no exclusion reads dnd or dndSettings: rule 'r' can route contacts who asked "
                    + "not to be called to a bucket"))
        #expect(r.out == "\(file): ok (1 rules, 0 exclusions, 2 buckets, 0 tests, 2 warnings)\n")
    }

    @Test func anUnreadableFileIsOneLine() {
        let r = capture { CheckCommand.run(files: ["/nonexistent/rules.yaml"], console: $0) }
        #expect(r.code == 1)
        #expect(r.err == "leadsync: cannot read '/nonexistent/rules.yaml': No such file or directory\n")
    }

    @Test func aDirectoryIsOneLine() {
        let r = capture { CheckCommand.run(files: [root + "/rules"], console: $0) }
        #expect(r.code == 1)
        #expect(r.err == "leadsync: cannot read '\(root)/rules': it is a directory\n")
    }
}

@Suite struct TestCommandTests {
    @Test func theShippedTestsPass() {
        let r = capture { TestCommand.run(files: [coldLeads], now: fixedNow, console: $0) }
        #expect(r.code == 0)
        #expect(r.out == "21 passed, 0 failed\n")
    }

    @Test func aFailureShowsNameLineExpectedActualAndTrace() throws {
        let dir = try TempDir()
        let file = try dir.write(
            "r.yaml",
            """
            version: 1
            buckets: { cold: 1 }
            rules:
              - name: cold
                when: { tags: { has: cold } }
                bucket: cold
            tests:
              - name: right
                contact: { id: a, tags: [cold] }
                expect: { buckets: [cold] }
            """)
        _ = try dir.write(
            "r.tests.yaml",
            """
            tests:
              - name: wrong on purpose
                contact: { id: b, tags: [warm] }
                expect: { buckets: [cold], rules: [cold] }
            """)
        let r = capture { TestCommand.run(files: [file], now: fixedNow, verbose: true, console: $0) }
        #expect(r.code == 1)
        #expect(
            r.out == """
                PASS  right
                FAIL  wrong on purpose  (\(dir.path)/r.tests.yaml:2)
                      buckets: expected [cold], got []
                      rules: expected [cold], got []
                      trace
                        exclusion marked-customer  no
                        rule cold                  not matched: tags has "cold" does not hold (line 5:13)
                1 passed, 1 failed

                """)
    }

    @Test func brokenRulesFailWithTheDiagnostics() throws {
        let dir = try TempDir()
        let file = try dir.write("r.yaml", "version: 3\n")
        let r = capture { TestCommand.run(files: [file], now: fixedNow, console: $0) }
        #expect(r.code == 1)
        #expect(r.err.contains("\(file):1:10: error: unsupported version '3'; supported versions: 1"))
        #expect(r.err.hasSuffix("leadsync: \(file): 3 error(s); fix them first (leadsync check \(file))\n"))
        #expect(r.out == "0 passed, 0 failed\n")
    }
}

@Suite struct SpecExampleTests {
    @Test func theSpecsOwnExampleChecksAndPasses() {
        let file = root + "/Tests/Fixtures/spec-example.yaml"
        let check = capture { CheckCommand.run(files: [file], console: $0) }
        #expect(check.code == 0)
        #expect(check.out == "\(file): ok (3 rules, 3 exclusions, 3 buckets, 2 tests, 1 note)\n")
        let test = capture { TestCommand.run(files: [file], now: fixedNow, console: $0) }
        #expect(test.code == 0)
        #expect(test.out == "2 passed, 0 failed\n")
    }
}
