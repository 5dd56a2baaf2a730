import Foundation
import LeadsyncCore
import LeadsyncRules
import LeadsyncStore
import LeadsyncTestSupport
import LeadsyncValues
import Testing

@testable import LeadsyncCLI
@testable import LeadsyncSandbox

/// `leadsync sync` killed with SIGKILL at random moments, then run to the end: every contact the
/// rules route is in CallTools exactly once, nothing is left pending, the pass is finished.
@Suite(.serialized) struct KillResumeTests {
    @Test func syncSurvivesKillNine() async throws {
        let binary = ExecutableTests.binary
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build with swift build --build-tests")
        let state = SandboxState()
        await state.setLimits(ghl: nil, calltools: nil)
        await SandboxCommand.seed(state, count: 1500)
        var faults = Faults()
        faults.latency = .milliseconds(3)  // slow enough that the kills land mid-pass
        await state.setFaults(faults)
        let server = try await SandboxServer.start(state: state)
        try await withCleanup {
            let dir = try TempDir()
            let db = dir.path + "/leadsync.sqlite"
            var env = Fixtures.cliEnvironment(sandbox: server.baseURL)
            // A create cut off by a kill is waited out at the end of the next pass (2 s here, 30 s by
            // default), which then finishes it: the last run exits 0.
            env["LEADSYNC_CREATE_SETTLE_SECONDS"] = "2"

            func launch(stderr: Pipe? = nil) throws -> Process {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: binary)
                p.arguments = ["sync", "--full", "--rules", coldLeads, "--db", db]
                p.environment = env
                p.standardOutput = FileHandle.nullDevice
                p.standardError = stderr ?? FileHandle.nullDevice
                try p.run()
                return p
            }
            // Each run is killed once it has created 150 more CallTools contacts than the last one
            // left: mid-pass by state, not after a fixed time.
            var kills = 0
            for _ in 0..<2 {
                let before = await state.calltoolsContacts().count
                let p = try launch()
                let deadline = ContinuousClock.now + .seconds(120)
                while p.isRunning, ContinuousClock.now < deadline {
                    if await state.calltoolsContacts().count >= before + 150 {
                        kill(p.processIdentifier, SIGKILL)
                        kills += 1
                        break
                    }
                    try await Task.sleep(for: .milliseconds(2))  // polling the sandbox, not a delay
                }
                p.waitUntilExit()
            }
            let errors = Pipe()
            let last = try launch(stderr: errors)
            let said = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            last.waitUntilExit()
            #expect(last.terminationStatus == 0, "\(said.suffix(2000))")
            #expect(kills == 2, "a pass finished before it created 150 contacts; raise the latency")

            // Expected: the contacts the rules route, computed with the engine itself.
            let rules = try #require(
                RulesCompiler.compile(source: try String(contentsOfFile: coldLeads, encoding: .utf8), file: "c").rules)
            var expected = Set<String>()
            for i in 0..<1500 {
                let id = "sbx" + String(i).leftPadded(to: 7, with: "0")
                guard let o = await state.ghlContact(id) else { continue }
                let c = try InboundContact.decode(.object(o)).contact
                // One phone with a Call-DND contact's: that number said no.
                if let other = SandboxPopulation.sharesPhoneWith(i), SandboxPopulation.hasCallDND(other) { continue }
                if !Engine(rules: rules).evaluate(c, now: fixedNow).buckets.isEmpty { expected.insert(id) }
            }
            let held = await state.calltoolsContacts().values
            let crmIds = held.compactMap { $0["crm_id"]?.stringValue }
            #expect(crmIds.count == Set(crmIds).count, "a CallTools contact exists twice")
            // In a bucket: exactly the routed ones. (A contact created before the Call-DND
            // contact with its phone was seen stays in CallTools, in no bucket.)
            let dialled = held.filter { !($0["buckets"]?.arrayValue?.isEmpty ?? true) }
            #expect(Set(dialled.compactMap { $0["crm_id"]?.stringValue }) == expected)
            let store = try LeadsyncDatabase.open(path: db)
            #expect(try store.stats().createPending == 0)
            #expect(try store.interruptedRun(mode: "full") == nil)
        } cleanup: {
            await server.stop()
        }
    }
}
