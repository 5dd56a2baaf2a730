import Foundation
import LeadsyncRuntime
import LeadsyncStore
import LeadsyncSync
import LeadsyncTestSupport
import LeadsyncValues
import Testing

@testable import LeadsyncCLI
@testable import LeadsyncSandbox

/// A pass killed while writing a page resumes at that page; a write there may have reached
/// CallTools unrecorded, so the resumed pass reads those contacts back before planning.
@Suite struct ResumeVerifyTests {
    @Test func aResumedPassReadsItsFirstPageBackFromCallTools() async throws {
        let (state, server) = try await seededSandbox(60)
        let dir = try TempDir()
        let db = dir.path + "/leadsync.sqlite"
        let env = Fixtures.cliEnvironment(sandbox: server.baseURL)
        func sync() async -> Int32 {
            let o = SyncCommand.Options(rulesPath: coldLeads, dbPath: db, mode: .full, dryRun: false, concurrency: 4)
            return await SyncCommand.run(
                o, environment: env, console: Console(out: BufferOutput(), err: BufferOutput()),
                now: { Fixtures.wallClock() })
        }
        #expect(await sync() == 0)

        // The killed process: its PATCH took a routed contact out of its buckets in CallTools,
        // and it died before recording it, leaving its run running.
        let store = try LeadsyncDatabase.open(path: db)
        let routed = try #require(try store.recentContacts(limit: 60).first { !$0.buckets.isEmpty })
        let calltoolsId = try #require(try store.contact(routed.ghlId).applied.calltoolsId)
        var held = try #require(await state.calltoolsContacts()[calltoolsId])
        held["buckets"] = .array([])
        await state.setCallToolsContact(calltoolsId, held)
        _ = try store.startRun(mode: "full", at: Fixtures.wallClock())
        store.close()

        #expect(await sync() == 0)
        let after = await PlanTests.buckets(state)
        #expect(after[routed.ghlId] == Set(routed.buckets), "\(routed.ghlId) is in \(after[routed.ghlId] ?? [])")
        let check = try LeadsyncDatabase.openReadOnly(path: db)
        let trail = try check.auditTrail(routed.ghlId).map(\.summary)
        check.close()
        #expect(trail.contains { $0.contains("held a write whose answer was never recorded") }, "\(trail)")
        await server.stop()
    }
}
