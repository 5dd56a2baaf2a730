/// An instant, in milliseconds since 1970-01-01T00:00:00Z.
///
/// The engine never reads a clock: callers pass the evaluation time as a `Timestamp`. Parsing and
/// formatting are written here (proleptic Gregorian calendar, UTC) so the core needs no Foundation
/// and stays fast and deterministic.
public struct Timestamp: Sendable, Hashable, Comparable {
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    /// The largest distance from 1970, either way, that a timestamp from input may have: about
    /// 31,000 years, far inside Int64, so differences of two timestamps never overflow.
    public static let inputBound: Double = 1e15

    /// Epoch milliseconds from a JSON number (GHL sends some dates this way). Nil for a value that
    /// is not finite or lies past `inputBound`: `1e300` is no date, and must not become a trap.
    public init?(epochMilliseconds d: Double) {
        guard d.isFinite, abs(d) < Timestamp.inputBound else { return nil }
        self.init(milliseconds: Int64(d))  // cannot trap: |d| < 1e15
    }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.milliseconds < b.milliseconds }

    /// Parses ISO-8601 / RFC 3339 forms GHL uses: `2021-11-26`, `2021-11-26T12:41:02Z`,
    /// `2021-11-26T12:41:02.193Z`, `2021-11-26T12:41:02+05:30`, `2021-11-26 12:41:02`.
    /// A time without an offset is taken as UTC. Returns nil for anything else.
    public init?(iso8601 text: String) {
        var text = text
        guard let value = text.withUTF8({ Timestamp.parse($0) }) else { return nil }
        self = value
    }

    private static func parse(_ b: UnsafeBufferPointer<UInt8>) -> Timestamp? {
        var i = 0
        func digits(_ n: Int) -> Int? {
            guard i + n <= b.count else { return nil }
            var v = 0
            for k in 0..<n {
                let c = b[i + k]
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            i += n
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect(UInt8(ascii: "-")), let month = digits(2), expect(UInt8(ascii: "-")),
            let day = digits(2)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month) else { return nil }
        var hour = 0, minute = 0, second = 0, millis = 0, offsetMinutes = 0
        if i < b.count {
            guard b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: "t") || b[i] == UInt8(ascii: " ") else {
                return nil
            }
            i += 1
            guard let h = digits(2), expect(UInt8(ascii: ":")), let m = digits(2) else { return nil }
            hour = h
            minute = m
            if expect(UInt8(ascii: ":")) {
                guard let s = digits(2) else { return nil }
                second = s
                if expect(UInt8(ascii: ".")) || expect(UInt8(ascii: ",")) {
                    var scale = 100
                    var count = 0
                    while i < b.count, b[i] >= 48, b[i] <= 57 {
                        if scale > 0 { millis += Int(b[i] - 48) * scale }
                        scale /= 10
                        i += 1
                        count += 1
                    }
                    guard count > 0 else { return nil }
                }
            }
            guard hour < 24, minute < 60, second < 61 else { return nil }
            if i < b.count {
                if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
                    i += 1
                } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
                    let sign = b[i] == UInt8(ascii: "-") ? -1 : 1
                    i += 1
                    guard let oh = digits(2) else { return nil }
                    _ = expect(UInt8(ascii: ":"))
                    let om = digits(2) ?? 0
                    guard oh < 24, om < 60 else { return nil }
                    offsetMinutes = sign * (oh * 60 + om)
                } else {
                    return nil
                }
            }
        }
        guard i == b.count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetMinutes * 60)
        return Timestamp(milliseconds: seconds * 1000 + Int64(millis))
    }

    static func isLeap(_ y: Int) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilFromDays(_ z0: Int) -> (year: Int, month: Int, day: Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    /// Broken-down UTC components.
    public var components: (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, millisecond: Int) {
        let ms = milliseconds
        var days = ms / 86_400_000
        var rem = ms % 86_400_000
        if rem < 0 {
            rem += 86_400_000
            days -= 1
        }
        let (y, m, d) = Timestamp.civilFromDays(Int(days))
        let r = Int(rem)
        return (y, m, d, r / 3_600_000, r / 60_000 % 60, r / 1000 % 60, r % 1000)
    }

    /// `2025-08-26T11:36:43.463Z`
    public var iso8601: String {
        let c = components
        return "\(pad(c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2))T\(pad(c.hour, 2)):\(pad(c.minute, 2)):"
            + "\(pad(c.second, 2)).\(pad(c.millisecond, 3))Z"
    }
}

package func pad(_ v: Int, _ width: Int) -> String { String(v).leftPadded(to: width, with: "0") }

/// A length of time written in a rules file: `30m`, `12h`, `90d`, `2w` (also `45s`).
public struct RuleDuration: Sendable, Hashable {
    public var milliseconds: Int64
    public var text: String

    public init?(_ text: String) {
        let t = text.trimmedASCII
        guard let unit = t.last, t.count >= 2, let n = Int64(t.dropLast()), n >= 0 else { return nil }
        let factor: Int64
        switch unit {
        case "s": factor = 1000
        case "m": factor = 60_000
        case "h": factor = 3_600_000
        case "d": factor = 86_400_000
        case "w": factor = 7 * 86_400_000
        default: return nil
        }
        guard n <= Int64.max / factor else { return nil }
        milliseconds = n * factor
        self.text = t
    }
}

extension Timestamp {
    static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    /// Parses an HTTP date in RFC 9110's preferred form, IMF-fixdate
    /// (`Sun, 06 Nov 1994 08:49:37 GMT`), as a `Retry-After` may carry. Nil for anything else.
    public init?(httpDate text: String) {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 6, parts[0].hasSuffix(","), parts[5] == "GMT",
            let day = Int(parts[1]), parts[1].count == 2,
            let month = Timestamp.monthNames.firstIndex(of: parts[2].lowercased()).map({ $0 + 1 }),
            let year = Int(parts[3]), parts[3].count == 4
        else { return nil }
        let clock = parts[4].split(separator: ":")
        guard clock.count == 3, clock.allSatisfy({ $0.count == 2 }), let h = Int(clock[0]), let m = Int(clock[1]),
            let s = Int(clock[2]), h < 24, m < 60, s < 61, day >= 1,
            day <= Timestamp.daysInMonth(year: year, month: month)
        else { return nil }
        let days = Timestamp.daysFromCivil(year: year, month: month, day: day)
        self.init(milliseconds: (Int64(days) * 86_400 + Int64(h * 3600 + m * 60 + s)) * 1000)
    }
}
