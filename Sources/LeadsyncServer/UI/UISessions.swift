import LeadsyncValues
import LeadsyncWebhooks
import Synchronization

/// Operator page sessions: a random id in an HttpOnly cookie, a CSRF token per session, an idle
/// expiry. In memory: a restart logs everyone out, which is the safe default for an appliance.
public final class UISessions: Sendable {
    public struct Session: Sendable, Equatable {
        public var id: String
        public var csrf: String
        public var lastSeen: Timestamp
    }

    /// A session unused this long is gone.
    public static let idleLimit: Int64 = 12 * 3_600_000
    /// At most this many at once (the oldest is dropped): logins cannot grow memory without bound.
    static let maxSessions = 64
    private let sessions = Mutex<[String: Session]>([:])

    public init() {}

    public func create(at t: Timestamp) -> Session {
        let session = Session(id: Self.randomToken(), csrf: Self.randomToken(), lastSeen: t)
        sessions.withLock { all in
            all = all.filter { t.milliseconds - $0.value.lastSeen.milliseconds < Self.idleLimit }
            if all.count >= Self.maxSessions, let oldest = all.min(by: { $0.value.lastSeen < $1.value.lastSeen }) {
                all[oldest.key] = nil
            }
            all[session.id] = session
        }
        return session
    }

    /// The live session with this id, its idle clock restarted.
    public func find(_ id: String?, at t: Timestamp) -> Session? {
        guard let id, !id.isEmpty else { return nil }
        return sessions.withLock { all in
            guard var s = all[id] else { return nil }
            guard t.milliseconds - s.lastSeen.milliseconds < Self.idleLimit else {
                all[id] = nil
                return nil
            }
            s.lastSeen = t
            all[id] = s
            return s
        }
    }

    public func end(_ id: String) { sessions.withLock { $0[id] = nil } }

    /// Whether a form's CSRF field is this session's (constant time).
    public static func csrfMatches(_ presented: String?, _ session: Session) -> Bool {
        SharedSecret.matches(presented, session.csrf)
    }

    /// 32 random bytes, hex.
    static func randomToken() -> String {
        var g = SystemRandomNumberGenerator()
        var out = ""
        for _ in 0..<4 { out += String(g.next() as UInt64, radix: 16).leftPadded(to: 16, with: "0") }
        return out
    }
}

/// A location of the appliance, as the operator page's switcher shows it.
public struct UILocation: Sendable, Equatable {
    public var id: String
    public var name: String?
    public init(id: String, name: String?) {
        self.id = id
        self.name = name
    }
}
