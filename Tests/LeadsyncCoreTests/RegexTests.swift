import Testing

@testable import LeadsyncCore
@testable import LeadsyncValues

/// The DFA must agree with Swift's `Regex` (simple word boundaries) on every pattern it accepts.
@Suite struct RegexTests {
    static let patterns = [
        #"\b(customers?|clients?|won|purchased)\b"#, #"\b(cold|new lead|prospects?)\b"#, #"^\D*(\d\D*){7,}$"#,
        #"^cold"#, #"lead$"#, #"^$"#, #"a|b|"#, #"colou?r"#, #"x{2}"#, #"x{2,}"#, #"x{1,3}y"#, #"[a-c]+\d"#,
        #"[^a-z]"#, #"[-a]"#, #"[a-]"#, #"[\d.]+"#, #"[\]]"#, #"\."#, #"a.c"#, #"(?i)COLD"#, #"(?i)[A-C]x"#,
        #"\Bold"#, #"\bold"#, #"\w+@\w+\.com"#, #"\s"#, #"\S+"#, #"(ab)*c"#, #"(a|ab)(c|bcd)"#, #"a*?b"#,
        #"a+?"#, #"(?:new|old) lead"#, #"^(\+1)?\d{10}$"#, #"\d{3}-\d{4}"#, #"^\W"#, #"vip$|^vip"#, #"\t"#,
        #"((a|b)c)+"#, #"^\+\d{8,15}$"#, #"^(?:[a-z]+ )+lead$"#, #"()"#, #"(a*)*"#, #"\bwon\b"#,
    ]
    static let inputs = [
        "", "cold", "cold lead", "Cold Lead", "coldplay fan", "new lead", "old lead", "prospects 2026", "customer",
        "customers", "clientele", "client - vip", "won", "won't", "wonderful", "purchased", "(415) 555-0132",
        "415.555.0132", "n/a", "123", "+14155550132", "+1415555", "x", "xx", "xxx", "xxxxy", "abc1", "aa-", "]",
        "a.c", "abc", "COLD", "bx", "cx", "fold", "old", "me@site.com", "a b", "abababc", "abcd", "abbcd", "aab",
        "vip", "a vip", "vip b", "tab\there", "acbc", "the new lead", "hot_lead", "lead", "4155550132",
        "lead_cold", "_cold_", "cold!", "!cold", "ColD", "9cold", "cold lead\n", "\nvip", "a\nb",
    ]

    @Test func agreesWithSwiftRegex() throws {
        var checked = 0
        for pattern in Self.patterns {
            let regex = try CompiledRegex(pattern)
            #expect(regex.usesAutomaton, "expected \(pattern) to compile to a DFA")
            for input in Self.inputs {
                let fast = regex.matches(input)
                let slow = regex.matchesWithRegex(input)
                #expect(fast == slow, "/\(pattern)/ on \"\(input)\": DFA \(fast), Regex \(slow)")
                checked += 1
            }
        }
        #expect(checked == Self.patterns.count * Self.inputs.count)
    }

    @Test(arguments: [#"(?<name>a)"#, #"a(?=b)"#, #"(a)\1"#, #"\p{L}"#, #"é"#, #"a++"#, #"[[:alpha:]]"#, #"\A"#])
    func unsupportedSyntaxFallsBackToRegex(pattern: String) throws {
        let regex = try CompiledRegex(pattern)
        #expect(!regex.usesAutomaton)
    }

    @Test func nonASCIIInputFallsBackAndStillMatches() throws {
        let regex = try CompiledRegex(#"\bcafe\b"#)
        #expect(regex.usesAutomaton)
        #expect(regex.matches("café cafe"))
        #expect(!regex.matches("cafés"))
        let dot = try CompiledRegex(#"^.$"#)
        #expect(dot.matches("é"))
    }

    @Test func hugePatternsFallBack() throws {
        let regex = try CompiledRegex(#"(a|b|c|d|e){1,400}z"#)
        #expect(!regex.usesAutomaton)
        #expect(regex.matches("abcz"))
        #expect(!regex.matches("abc"))
    }
}
