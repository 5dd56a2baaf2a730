import LeadsyncCore
import LeadsyncSandbox
import LeadsyncValues
import Logging
import ServiceLifecycle
import UnixSignals

/// `leadsync sandbox`: the emulated GHL and CallTools on a local port, seeded with contacts,
/// until interrupted. Prints the environment that points leadsync at it.
public enum SandboxCommand {
    /// Deterministic GHL contacts, shaped as GHL's API returns them (`SandboxPopulation`): every
    /// third a cold lead, every tenth an active client, every seventeenth without a phone, every
    /// eleventh with Call DND set per channel.
    public static func seed(_ state: SandboxState, count: Int) async {
        await SandboxPopulation.seed(state, count: count)
    }

    /// `--calltools-faults 0.3,0.05,0.05`: shares of CallTools requests answered 500, answered
    /// 429 with `Retry-After: 1`, and reset without an answer.
    public static func faults(_ text: String) -> Faults? {
        let parts = text.split(separator: ",").map { Double(String($0).trimmedASCII) }
        guard parts.count == 3, let e = parts[0], let t = parts[1], let r = parts[2],
            [e, t, r].allSatisfy({ $0 >= 0 && $0 <= 1 }), e + t + r <= 1
        else { return nil }
        var f = Faults()
        f.errorRate = e
        f.throttleRate = t
        f.resetRate = r
        f.retryAfterSeconds = 1
        f.pathPrefix = "/api/"
        return f
    }

    public static func run(
        host: String, port: Int, contacts: Int, liftLimits: Bool, searchOmitsDnd: Bool = false,
        searchLagMs: Int64 = 0, calltoolsFaults: Faults? = nil, calltoolsLatency: Duration = .zero,
        calltoolsOutage: (after: Duration, lasting: Duration)? = nil, locationId: String = "sandboxLocation0001",
        console: Console
    ) async -> Int32 {
        let state = SandboxState(locationId: locationId)
        await state.setSearchOmitsDndSettings(searchOmitsDnd)
        var faults = calltoolsFaults ?? Faults()
        faults.pathPrefix = "/api/"
        faults.latencyAfterHandling = calltoolsLatency
        if calltoolsFaults != nil || calltoolsLatency > .zero { await state.setFaults(faults) }
        // GHL's 100 per 10 s and CallTools' reported 1,000 per hour, unless lifted.
        await state.setLimits(ghl: liftLimits ? nil : (100, 10_000), calltools: liftLimits ? nil : (1000, 3_600_000))
        await seed(state, count: contacts)
        // After seeding: the seeded contacts were indexed long ago; later writes lag.
        await state.setSearchLag(milliseconds: searchLagMs)
        // The sandbox is a service: SIGINT or SIGTERM stops it gracefully.
        let server = SandboxServer(state: state, host: host, port: port)
        let group = ServiceGroup(
            configuration: .init(
                services: [server], gracefulShutdownSignals: [.sigterm, .sigint],
                logger: Logger(label: "leadsync.sandbox", factory: { _ in SwiftLogNoOpLogHandler() })))
        return await withTaskGroup(of: String?.self) { tasks -> Int32 in
            tasks.addTask {
                do {
                    try await group.run()
                    return nil
                } catch {
                    return "\(error)"
                }
            }
            guard (try? await server.listening()) != nil else {
                console.err.line("leadsync: sandbox: could not listen on \(host):\(port)")
                await group.triggerGracefulShutdown()
                _ = await tasks.next()
                return 1
            }
            console.out.line("sandbox GHL and CallTools on \(server.baseURL) with \(contacts) GHL contacts. Use:")
            console.out.line(
                "  export GHL_BASE_URL=\(server.baseURL) GHL_API_KEY=\(state.ghlToken) GHL_LOCATION_ID=\(state.locationId)"
            )
            console.out.line("  export CALLTOOLS_BASE_URL=\(server.baseURL) CALLTOOLS_API_KEY=\(state.calltoolsKey)")
            console.out.line("Stop with Ctrl-C.")
            console.out.flush()
            if let outage = calltoolsOutage {
                // A scripted outage (the outage benchmark): every CallTools request answered 503.
                tasks.addTask {
                    try? await Task.sleep(for: outage.after)
                    await state.setCallToolsDown(true)
                    try? await Task.sleep(for: outage.lasting)
                    await state.setCallToolsDown(false)
                    return nil
                }
            }
            guard case .some(.some(let failure)) = await tasks.next() else { return 0 }
            console.err.line("leadsync: \(failure)")
            return 1
        }
    }
}
