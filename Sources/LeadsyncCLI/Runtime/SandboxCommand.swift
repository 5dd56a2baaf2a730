import Dispatch
import LeadsyncCore
import LeadsyncSandbox
import Synchronization

/// `leadsync sandbox`: the emulated GHL and CallTools on a local port, seeded with contacts,
/// until interrupted. Prints the environment that points leadsync at it.
public enum SandboxCommand {
    /// Deterministic GHL contacts: every third a cold lead, every tenth an active client, every
    /// seventeenth without a phone.
    public static func seed(_ state: SandboxState, count: Int) async {
        for i in 0..<count {
            var c = JSONObject()
            c["id"] = .string("sbx" + String(i).leftPadded(to: 7, with: "0"))
            c["firstName"] = .string(["Ana", "Ben", "Cleo", "Dev", "Eve", "Fay"][i % 6])
            c["lastName"] = .string("Sandbox\(i)")
            if i % 17 != 0 { c["phone"] = .string("+1415" + String(2_000_000 + i).leftPadded(to: 7, with: "0")) }
            var tags: [JSON] = []
            if i % 3 == 0 { tags.append(.string("cold lead")) }
            if i % 10 == 0 { tags.append(.string("ACA Active 2026")) }
            if i % 5 == 1 { tags.append(.string("newsletter")) }
            c["tags"] = .array(tags)
            c["dateAdded"] = .string(Timestamp(milliseconds: 1_700_000_000_000 + Int64(i) * 60_000).iso8601)
            await state.putGHLContact(c)
        }
    }

    public static func run(host: String, port: Int, contacts: Int, liftLimits: Bool, console: Console) async -> Int32 {
        let state = SandboxState()
        if liftLimits { await state.setLimits(ghl: nil, calltools: nil) }
        await seed(state, count: contacts)
        let server: SandboxServer
        do {
            server = try await SandboxServer.start(state: state, host: host, port: port)
        } catch {
            console.err.line("leadsync: \(error)")
            return 1
        }
        console.out.line("sandbox GHL and CallTools on \(server.baseURL) with \(contacts) GHL contacts. Use:")
        console.out.line(
            "  export GHL_BASE_URL=\(server.baseURL) GHL_API_KEY=\(state.ghlToken) GHL_LOCATION_ID=\(state.locationId)")
        console.out.line("  export CALLTOOLS_BASE_URL=\(server.baseURL) CALLTOOLS_API_KEY=\(state.calltoolsKey)")
        console.out.line("Stop with Ctrl-C.")
        console.out.flush()
        await waitForTermination()
        await server.stop()
        return 0
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Returns when SIGINT or SIGTERM arrives (Dispatch signal sources; the default handlers are
/// ignored so the process is not killed first).
func waitForTermination() async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        let once = ResumeOnce(continuation)
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { once.resume() }
            source.resume()
            sources.append(source)
        }
        once.keep(sources)
    }
}

/// Resumes a continuation at most once, and keeps the signal sources alive until then.
final class ResumeOnce: Sendable {
    private let state: Mutex<(continuation: CheckedContinuation<Void, Never>?, sources: [any DispatchSourceSignal])>
    init(_ c: CheckedContinuation<Void, Never>) { state = Mutex((c, [])) }
    func keep(_ s: [any DispatchSourceSignal]) { state.withLock { $0.sources = s } }
    func resume() {
        let c = state.withLock { s -> CheckedContinuation<Void, Never>? in
            defer { s.continuation = nil }
            return s.continuation
        }
        c?.resume()
    }
}
