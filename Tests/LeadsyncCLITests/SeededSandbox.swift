@testable import LeadsyncCLI
@testable import LeadsyncSandbox

/// A sandbox without rate limits, seeded with `count` GHL contacts, serving on a free port: what
/// the command-line tests run passes against.
func seededSandbox(_ count: Int) async throws -> (state: SandboxState, server: SandboxServer) {
    let state = SandboxState()
    await state.setLimits(ghl: nil, calltools: nil)
    await SandboxCommand.seed(state, count: count)
    return (state, try await SandboxServer.start(state: state))
}
