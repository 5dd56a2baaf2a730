import LeadsyncCore
import LeadsyncRules
import LeadsyncRuntime
import LeadsyncStore
import LeadsyncUpstream
import LeadsyncValues
import Synchronization

/// The rules a server runs now, and the executor built on them; swapped whole on reload.
///
/// A reload compiles the file first: any error leaves the live rules (and executor) untouched.
/// Work already inside the old executor finishes on the old rules; the next contact uses the
/// new ones. Every executor shares the store and one `ContactLocks`, so a contact is never in
/// two executors at once, and a running pass takes the live executor again at each page.
public final class LiveRules: Sendable {
    public struct Loaded: Sendable {
        public var rules: CompiledRules
        public var diagnostics: [Diagnostic]
        public init(rules: CompiledRules, diagnostics: [Diagnostic]) {
            self.rules = rules
            self.diagnostics = diagnostics
        }
    }

    /// Why a file could not go live.
    public struct Rejected: Error, Sendable {
        /// Unreadable file: one line.
        public var message: String
        /// Compiler diagnostics (errors and warnings), sorted.
        public var diagnostics: [Diagnostic]
        public init(message: String, diagnostics: [Diagnostic]) {
            self.message = message
            self.diagnostics = diagnostics
        }
    }

    public struct Current: Sendable {
        public var rules: CompiledRules
        public var executor: Executor
        public var hash: String { rules.sourceHash }
    }

    public let path: String
    let load: @Sendable () throws(Rejected) -> Loaded
    let makeExecutor: @Sendable (CompiledRules) throws -> Executor
    private let state: Mutex<Current>

    /// Loads the file once; a file that does not compile is the error.
    public init(
        path: String, load: @escaping @Sendable () throws(Rejected) -> Loaded,
        makeExecutor: @escaping @Sendable (CompiledRules) throws -> Executor
    ) throws {
        self.path = path
        self.load = load
        self.makeExecutor = makeExecutor
        let first = try load()
        state = Mutex(Current(rules: first.rules, executor: try makeExecutor(first.rules)))
    }

    public var current: Current { state.withLock { $0 } }

    /// Compiles the file again; on success the new rules are live and their hash returned.
    public func reload() throws(Rejected) -> (hash: String, changed: Bool) {
        let loaded = try load()
        let live = current
        // The same file: nothing to build or swap.
        if live.rules.sourceHash == loaded.rules.sourceHash { return (live.hash, false) }
        let executor: Executor
        do {
            executor = try makeExecutor(loaded.rules)
        } catch {
            throw Rejected(message: "cannot start the executor: \(error)", diagnostics: [])
        }
        state.withLock { $0 = Current(rules: loaded.rules, executor: executor) }
        return (loaded.rules.sourceHash, true)
    }
}
