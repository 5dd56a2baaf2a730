import LeadsyncValues
import Synchronization

/// Webhooks per minute over the last hour, by outcome class, for the operator page's chart.
/// Kept in memory (since the server started): accepted events are also in the inbox, but
/// ignored and refused ones are stored nowhere, by design.
public final class WebhookActivity: Sendable {
    public enum Kind: Int, Sendable, CaseIterable {
        case accepted, ignored, refused

        /// The class of a `leadsync_webhooks_total{outcome}` label.
        init(outcome: String) {
            switch outcome {
            case "accepted", "duplicate", "app_event": self = .accepted
            case "ignored": self = .ignored
            default: self = .refused
            }
        }
    }

    /// One minute's counts.
    public struct Minute: Sendable, Equatable {
        public var minute: Int64
        public var counts: [Int]
    }

    static let minutes = 60
    private let ring = Mutex<[Minute]>(
        (0..<WebhookActivity.minutes).map { _ in Minute(minute: -1, counts: [0, 0, 0]) })

    public init() {}

    public func record(_ outcome: String, at t: Timestamp) {
        let minute = t.milliseconds / 60_000
        let slot = Int(minute % Int64(Self.minutes))
        let kind = Kind(outcome: outcome).rawValue
        ring.withLock { ring in
            // A slot holds one minute; an outcome older than the hour it now shows is dropped.
            guard ring[slot].minute <= minute else { return }
            if ring[slot].minute != minute { ring[slot] = Minute(minute: minute, counts: [0, 0, 0]) }
            ring[slot].counts[kind] += 1
        }
    }

    /// The last 60 minutes up to `t`'s, oldest first, empty minutes included.
    public func lastHour(at t: Timestamp) -> [Minute] {
        let current = t.milliseconds / 60_000
        return ring.withLock { ring in
            (0..<Int64(Self.minutes)).reversed().map { back in
                let minute = current - back
                let slot = ring[Int(minute % Int64(Self.minutes))]
                return slot.minute == minute ? slot : Minute(minute: minute, counts: [0, 0, 0])
            }
        }
    }
}
