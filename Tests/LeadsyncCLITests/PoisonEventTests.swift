import Foundation
import LeadsyncCore
import LeadsyncStore
import LeadsyncTestSupport
import LeadsyncValues
import Synchronization
import Testing

@testable import LeadsyncCLI
@testable import LeadsyncSandbox

/// A poison event cannot crash-loop the server: the real `leadsync serve` is SIGKILLed every time
/// it starts applying one chosen contact's event. After three deaths that event is a dead letter
/// ("the process died while applying this event"), the server goes on, and every other event,
/// including those in flight at each death, is applied.
@Suite(.serialized) struct PoisonEventServerTests {
    @Test func aServerKilledByOneEventDeadLettersItAndAppliesTheRest() async throws {
        let binary = ExecutableTests.binary
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build with swift build --build-tests")
        let state = SandboxState()
        await state.setLimits(ghl: nil, calltools: nil)
        var ids = ["poison"]
        for i in 0..<20 { ids.append("ok\(i)") }
        for (i, id) in ids.enumerated() {
            var c = JSONObject()
            c["id"] = .string(id)
            c["firstName"] = .string("Ana")
            c["phone"] = .string("+1415556" + String(i).leftPadded(to: 4, with: "0"))
            c["tags"] = .array([.string("cold lead")])
            c["dnd"] = .bool(false)
            c["dndSettings"] = .object(JSONObject(["Call": .object(JSONObject(["status": .string("inactive")]))]))
            await state.putGHLContact(c)
        }
        // The "poison": whenever the server reads this contact (before dialing it), it dies.
        let victim = Atomic<Int32>(0)
        let kills = Atomic<Int>(0)
        await state.setObserver { r in
            guard r.path == "/contacts/poison" else { return }
            let pid = victim.exchange(0, ordering: .sequentiallyConsistent)
            if pid > 0 {
                kill(pid, SIGKILL)
                kills.add(1, ordering: .sequentiallyConsistent)
            }
        }
        let server = try await SandboxServer.start(state: state)
        try await withCleanup {
            let dir = try TempDir()
            let db = dir.path + "/leadsync.sqlite"
            do {
                // The events, as intake would have committed them (poison first, so it is in
                // flight together with others on the first start).
                let store = try LeadsyncDatabase.open(path: db)
                let now = Fixtures.wallClock()
                for id in ids {
                    let body =
                        #"{"type":"ContactTagUpdate","locationId":"sandboxLocation0001","id":"\#(id)","phone":"+14155560000","tags":["cold lead"],"timestamp":"\#(now.iso8601)","webhookId":"w-\#(id)"}"#
                    _ = try await store.enqueue(
                        [
                            NewInboxEvent(
                                webhookId: "w-\(id)", contactId: id, eventType: "ContactTagUpdate",
                                source: "marketplace", body: body)
                        ], at: now)
                }
            }
            var env = Fixtures.cliEnvironment(sandbox: server.baseURL)
            env["LEADSYNC_DB"] = db
            env["LEADSYNC_PORT"] = "0"
            env["LEADSYNC_SYNC_INTERVAL_MINUTES"] = "0"
            env["LEADSYNC_FULL_SYNC_HOUR"] = "off"
            env["LEADSYNC_CREATE_SETTLE_SECONDS"] = "0"

            var starts = 0
            var last: Process?
            while starts < 6 {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: binary)
                p.arguments = ["serve", "--rules", coldLeads, "--log-level", "error"]
                p.environment = env
                p.standardOutput = FileHandle.nullDevice
                p.standardError = FileHandle.nullDevice
                try p.run()
                starts += 1
                victim.store(p.processIdentifier, ordering: .sequentiallyConsistent)
                last = p
                // Until it dies, or everything is applied.
                let deadline = ContinuousClock.now + .seconds(60)
                var drained = false
                while p.isRunning, ContinuousClock.now < deadline {
                    let store = try LeadsyncDatabase.openReadOnly(path: db)
                    let counts = try store.inboxCounts()
                    if counts.pending == 0 && counts.held == 0 {
                        drained = true
                        break
                    }
                    try await Task.sleep(for: .milliseconds(50))
                }
                if drained { break }
                p.waitUntilExit()
            }
            if let last, last.isRunning {
                last.terminate()
                last.waitUntilExit()
            }
            #expect(kills.load(ordering: .sequentiallyConsistent) == 3)
            #expect(starts == 4)
            let store = try LeadsyncDatabase.openReadOnly(path: db)
            let dead = try store.deadLetters()
            #expect(dead.map(\.contactId) == ["poison"])
            #expect(dead.first?.lastError == "the process died while applying this event (3 times)")
            #expect(try store.inboxCounts().done == 20)
            let buckets = await state.calltoolsContacts().values.compactMap { c -> String? in
                (c["buckets"]?.arrayValue?.isEmpty ?? true) ? nil : c["crm_id"]?.stringValue
            }
            #expect(Set(buckets) == Set(ids.dropFirst()))
        } cleanup: {
            await server.stop()
        }
    }
}
