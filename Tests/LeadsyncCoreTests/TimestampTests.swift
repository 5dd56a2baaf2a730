import Testing

@testable import LeadsyncCore
@testable import LeadsyncValues

@Suite struct TimestampTests {
    @Test(arguments: [
        ("1970-01-01T00:00:00Z", Int64(0)),
        ("2021-11-26T12:41:02.193Z", Int64(1_637_930_462_193)),
        ("2021-11-26T12:41:02Z", Int64(1_637_930_462_000)),
        ("2021-11-26T18:11:02+05:30", Int64(1_637_930_462_000)),
        ("2021-11-26T07:41:02-0500", Int64(1_637_930_462_000)),
        ("2021-11-26 12:41:02", Int64(1_637_930_462_000)),
        ("2021-11-26", Int64(1_637_884_800_000)),
        ("2024-02-29T00:00:00Z", Int64(1_709_164_800_000)),
        ("1969-12-31T23:59:59Z", Int64(-1000)),
    ])
    func parses(text: String, millis: Int64) {
        #expect(Timestamp(iso8601: text)?.milliseconds == millis)
    }

    @Test(arguments: [
        "", "2021", "2021-13-01", "2023-02-29", "2021-11-26T25:00:00Z", "yesterday",
        "2021-11-26T12:41:02.Z", "2021-11-26T12:41:02 UTC", "26/11/2021",
    ])
    func rejects(text: String) {
        #expect(Timestamp(iso8601: text) == nil)
    }

    @Test func formatsBack() {
        let t = Timestamp(iso8601: "2021-11-26T12:41:02.193Z")!
        #expect(t.iso8601 == "2021-11-26T12:41:02.193Z")
        #expect(Timestamp(milliseconds: -1000).iso8601 == "1969-12-31T23:59:59.000Z")
    }

    @Test(arguments: [
        ("30m", Int64(1_800_000)), ("12h", Int64(43_200_000)), ("90d", Int64(7_776_000_000)),
        ("2w", Int64(1_209_600_000)), ("45s", Int64(45_000)),
    ])
    func durations(text: String, millis: Int64) {
        #expect(RuleDuration(text)?.milliseconds == millis)
    }

    @Test(arguments: ["", "d", "10", "1y", "-1d", "1.5h", "ten days", "99999999999999999999d"])
    func badDurations(text: String) {
        #expect(RuleDuration(text) == nil)
    }
}
