import Foundation

/// Waits, with a deadline and never a fixed sleep, until `condition` holds; throws `Timeout`
/// naming what was awaited when it does not.
public func eventually(
    _ what: String, timeout: Duration = .seconds(15), _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    throw Timeout(what: what)
}

public struct Timeout: Error, CustomStringConvertible {
    public var what: String
    public init(what: String) { self.what = what }
    public var description: String { "timed out waiting for \(what)" }
}

/// A thread-safe count, for `onCall` hooks.
public final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    public init() {}
    public func add() { lock.withLock { value += 1 } }
    public var count: Int { lock.withLock { value } }
}

/// Runs `body`, then `cleanup` whether `body` threw or not, and awaits it: what `defer` cannot
/// do for async cleanup.
public func withCleanup<T>(
    _ body: () async throws -> T, cleanup: () async -> Void
) async throws -> T {
    let result: T
    do {
        result = try await body()
    } catch {
        await cleanup()
        throw error
    }
    await cleanup()
    return result
}
