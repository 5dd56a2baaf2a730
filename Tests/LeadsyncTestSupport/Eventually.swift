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

/// Runs a program to its end on a thread of its own, never on Swift's cooperative pool: a test
/// that waits for a child synchronously holds one of the pool's few threads (two on two cores),
/// and the in-process sandbox the child talks to then cannot answer it. With `killAfter`, a
/// program still running then is killed with SIGKILL. Returns how it ended and what it printed.
public func runProgram(
    _ path: String, _ arguments: [String], environment: [String: String], killAfter: Duration? = nil
) async throws -> (status: Int32, reason: Process.TerminationReason, output: String) {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: path)
            p.arguments = arguments
            p.environment = environment
            let out = Pipe()
            p.standardOutput = out
            p.standardError = out
            do {
                try p.run()
            } catch {
                continuation.resume(throwing: error)
                return
            }
            if let killAfter {
                let pid = p.processIdentifier
                Thread {
                    let ms =
                        killAfter.components.seconds * 1000 + killAfter.components.attoseconds / 1_000_000_000_000_000
                    usleep(useconds_t(max(0, ms) * 1000))
                    if p.isRunning { kill(pid, SIGKILL) }
                }.start()
            }
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            continuation.resume(
                returning: (p.terminationStatus, p.terminationReason, String(decoding: data, as: UTF8.self)))
        }
        thread.start()
    }
}
