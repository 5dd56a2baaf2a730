import LeadsyncCore
import LeadsyncValues
import Testing

@testable import LeadsyncServer

@Suite struct ReconcileScheduleTests {
    static func at(_ s: String) -> Timestamp { Timestamp(iso8601: s)! }

    @Test func incrementalEveryIntervalAndFullDailyAtTheHour() {
        var config = ServerConfiguration()
        config.syncInterval = .seconds(15 * 60)
        config.fullSyncHour = 3
        var s = ReconcileSchedule(configuration: config, startedAt: Self.at("2026-11-29T02:00:00Z"))
        let expected: [(String, Bool?)] = [
            ("2026-11-29T02:14:30Z", nil), ("2026-11-29T02:15:00Z", false), ("2026-11-29T02:20:00Z", nil),
            ("2026-11-29T03:00:00Z", true),  // today's full pass: the server started before 03:00
            ("2026-11-29T03:10:00Z", nil),  // the full pass restarted the interval
            ("2026-11-29T03:15:00Z", false), ("2026-11-29T03:30:00Z", false), ("2026-11-30T02:59:30Z", false),
            ("2026-11-30T03:00:00Z", true), ("2026-11-30T03:00:30Z", nil),
        ]
        for (t, want) in expected { #expect(s.due(at: Self.at(t)) == want, "\(t)") }
    }

    @Test func startedAfterTheHourWaitsForTomorrowAndOffMeansOff() {
        var config = ServerConfiguration()
        config.syncInterval = nil
        config.fullSyncHour = 3
        var s = ReconcileSchedule(configuration: config, startedAt: Self.at("2026-11-29T10:00:00Z"))
        #expect(s.due(at: Self.at("2026-11-29T23:59:00Z")) == nil)
        #expect(s.due(at: Self.at("2026-11-30T02:59:00Z")) == nil)
        #expect(s.due(at: Self.at("2026-11-30T03:00:30Z")) == true)
        config.fullSyncHour = nil
        var off = ReconcileSchedule(configuration: config, startedAt: Self.at("2026-11-29T10:00:00Z"))
        #expect(off.due(at: Self.at("2026-12-05T03:00:00Z")) == nil)
    }
}
