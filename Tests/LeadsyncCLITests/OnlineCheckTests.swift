import Foundation
import LeadsyncRuntime
import LeadsyncTestSupport
import Testing

@testable import LeadsyncCLI
@testable import LeadsyncSandbox

/// `check --online` against the sandbox: a misspelt bucket, a field slug CallTools does not
/// define, a custom field GHL does not have and a tag no contact carries, each at its line and
/// column; a clean file passes.
@Suite struct OnlineCheckTests {
    static let broken = """
        version: 1
        buckets:
          cold: { name: "cold leads" }
          active: 11252
        calltools:
          phone_field: mobile_phone
        fields:
          first_name: "{{ firstName }}"
          mobile_phone: "{{ phone | e164 }}"
          crm_id: "{{ id }}"
        exclusions:
          - name: low-score
            when: { field: customFields.lead_scor, lt: 10 }
        rules:
          - name: cold
            when: { tags: { has: cold leed } }
            bucket: cold
          - name: active
            when: { tags: { has: newsletter } }
            bucket: active
        """

    @Test func eachMistakeAtItsPlace() async throws {
        let (state, server) = try await seededSandbox(300)
        let dir = try TempDir()
        let env = Fixtures.cliEnvironment(sandbox: server.baseURL)
        // CallTools contacts to read the account's fields from.
        let sync = SyncCommand.Options(
            rulesPath: coldLeads, dbPath: dir.path + "/db.sqlite", mode: .full, dryRun: false, concurrency: 4)
        #expect(
            await SyncCommand.run(
                sync, environment: env, console: Console(out: BufferOutput(), err: BufferOutput()),
                now: { Fixtures.wallClock() }) == 0)
        let file = try dir.write("broken.yaml", Self.broken)
        await state.clearRequests()
        let out = BufferOutput(), err = BufferOutput()
        let code = await CheckCommand.online(
            files: [file], environment: env, dbPath: dir.path + "/db.sqlite", console: Console(out: out, err: err))
        #expect(code == 1)
        let said = err.text
        #expect(
            said.contains(
                "\(file):3:9: error: bucket 'cold': CallTools has no bucket named 'cold leads'; did you mean 'Cold Leads'?"
            ),
            "\(said)")
        #expect(
            said.contains("\(file):9:3: error: field 'mobile_phone': not a field of this CallTools account"), "\(said)")
        #expect(
            said.contains(
                "\(file):13:13: error: custom field 'lead_scor': GHL has no such custom field in this location; did you mean 'lead_score'?"
            ), "\(said)")
        #expect(
            said.contains(
                "\(file):16:13: warning: no GHL contact carries the tag 'cold leed'; did you mean 'cold lead'?"),
            "\(said)")
        #expect(out.text.contains("online: 3 errors, 1 warning"), "\(out.text)")
        // Reads only: no CallTools or GHL write.
        let requests = await state.requests
        #expect(!requests.isEmpty)
        #expect(requests.allSatisfy { $0.method == "GET" || $0.path == "/contacts/search" })
        let clean = await CheckCommand.online(
            files: [coldLeads], environment: env, dbPath: dir.path + "/db.sqlite",
            console: Console(out: BufferOutput(), err: BufferOutput()))
        #expect(clean == 0)
        await server.stop()
    }
}
