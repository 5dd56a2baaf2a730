import Foundation
import LeadsyncCore

/// `leadsync-bench regex`: match time on hostile inputs of 1 KB, 10 KB and 100 KB, for patterns
/// that make a backtracking engine go exponential or quadratic, next to Swift's `Regex` (the
/// engine leadsync used before for non-ASCII input) in the same run, with a time cap on it.
enum RegexBench {
    static func run() {
        let cases: [(String, (Int) -> String)] = [
            (#"^(.*a){12}$"#, { n in "é" + String(repeating: "a", count: 11) + String(repeating: "b", count: n - 13) }),
            (#"^(a|aa)+$"#, { n in String(repeating: "a", count: n - 2) + "é" }),
            (#"(\w+\s?)+$"#, { n in String(repeating: "José ", count: n / 6) + "!" }),
            (#"\b(cold|new lead|prospects?)\b"#, { n in String(repeating: "Nguyễn ", count: n / 10) }),
        ]
        print("regex: one match per input, time per match (best of 5); Swift's Regex given at most 2 s a match")
        print(
            "pattern".padding(toLength: 34, withPad: " ", startingAt: 0)
                + "     1 KB      10 KB     100 KB   |  Regex 1 KB   Regex 10 KB")
        for (pattern, make) in cases {
            guard let regex = try? CompiledRegex(pattern) else {
                print("\(pattern): refused")
                continue
            }
            var line = pattern.padding(toLength: 34, withPad: " ", startingAt: 0)
            for size in [1_000, 10_000, 100_000] {
                let input = make(size)
                var best = Double.infinity
                for _ in 0..<5 {
                    let start = ContinuousClock.now
                    _ = regex.matches(input)
                    best = min(best, seconds(ContinuousClock.now - start))
                }
                line += String(format: " %8.1f µs", best * 1e6)
            }
            line += "   |"
            for size in [1_000, 10_000] {
                let input = make(size)
                let start = ContinuousClock.now
                let done = DispatchSemaphore(value: 0)
                let box = RegexBox(regex: regex, input: input)
                Thread.detachNewThread {
                    box.run()
                    done.signal()
                }
                if done.wait(timeout: .now() + 2) == .timedOut {
                    line += "      > 2 s  "
                } else {
                    line += String(format: " %9.1f ms", seconds(ContinuousClock.now - start) * 1e3)
                }
            }
            print(line)
        }
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// Runs Swift's `Regex` on a thread of its own, which the benchmark abandons past the cap.
    final class RegexBox: @unchecked Sendable {
        let regex: CompiledRegex
        let input: String
        init(regex: CompiledRegex, input: String) {
            self.regex = regex
            self.input = input
        }
        func run() { _ = regex.matchesWithRegex(input) }
    }
}
