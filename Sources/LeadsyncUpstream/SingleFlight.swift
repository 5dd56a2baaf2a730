/// Values computed once per key, with one computation in flight per key: callers that ask while
/// it runs wait for its answer instead of starting their own. Successes are kept; a failure is
/// handed to every waiter and forgotten, so the next caller tries again.
///
/// Used for CallTools tag ids: two workers that need the same new tag at once must not both
/// create it.
public actor SingleFlight<Value: Sendable> {
    private var values: [String: Value] = [:]
    private var inFlight: [String: Task<Value, any Error>] = [:]

    public init() {}

    public func value(
        for key: String, _ make: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        if let known = values[key] { return known }
        if let running = inFlight[key] { return try await running.value }
        let task = Task { () async throws -> Value in try await make() }
        inFlight[key] = task
        do {
            let value = try await task.value
            values[key] = value
            inFlight[key] = nil
            return value
        } catch {
            inFlight[key] = nil
            throw error
        }
    }

    public func forget(_ key: String) { values[key] = nil }
}

extension UpstreamError {
    /// A DRF 400 saying a unique value is taken (`{"name": ["contact tag with this name already
    /// exists."]}`): another writer created it first.
    public var isAlreadyExists: Bool {
        if case .status(400, let message) = kind { return message.lowercased().contains("already exists") }
        return false
    }
}
