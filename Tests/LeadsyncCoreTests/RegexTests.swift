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
        #"(?<name>a)b"#, #"\Acold"#, #"lead\z"#,
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

    /// What no linear-time engine matches is refused when the rules load, with the reason.
    @Test(arguments: [
        #"a(?=b)"#, #"a(?!b)"#, #"(?<=a)b"#, #"(a)\1"#, #"\p{L}"#, #"a++"#, #"[[:alpha:]]"#, #"[à-ÿ]"#, #"[^é]"#,
    ])
    func whatCannotBeLinearIsRefused(pattern: String) throws {
        // Swift's parser refuses some itself (look-behind); the automaton the rest.
        #expect(throws: (any Error).self) { try CompiledRegex(pattern) }
    }

    /// Non-ASCII values go through the same automaton, and agree with Swift's `Regex` on letters
    /// of any script (one code point each).
    static let letterInputs = [
        "José", "JOSÉ", "Zoë", "Мария", "李小龍", "müller", "Müller", "ÉCOLE", "cold é", "é cold", "caféé", "Søren",
        "Nguyễn Văn", "cold—lead", "prospect ✓", "ıi", "straße", "日本 lead", "cold🔥", "🔥 hot", "«cold»",
        "cold\u{00A0}lead", "“cold”", "Zoë…", "αβγ cold",
    ]
    static let letterPatterns = [
        #"^.{4}$"#, #"^....$"#, #"[^a-z]"#, #"^[^ ]+$"#, #"\bcold\b"#, #"\w+"#, #"^\w+$"#, #"\W"#, #"é"#,
        #"(?i)josé"#, #"(?i)müller"#, #"(?i)мария"#, #"[éè]"#, #"^\S+$"#, #"\D"#, #"^(.*a){12}$"#, #"l.a"#,
        #"\b(cold|new lead|prospects?)\b"#, #"ü"#, #"(?i)É"#, #"cold\slead"#, #"[\s]"#, #"[^\s]+$"#, #"[\w\s]+"#,
    ]

    @Test func nonASCIIInputAgreesWithSwiftRegex() throws {
        for pattern in Self.letterPatterns {
            let regex = try CompiledRegex(pattern)
            for input in Self.letterInputs + Self.inputs {
                #expect(
                    regex.matches(input) == regex.matchesWithRegex(input),
                    "/\(pattern)/ on \"\(input)\": DFA \(regex.matches(input)), Regex \(regex.matchesWithRegex(input))")
            }
        }
    }

    /// The pattern that kept `dry-run` busy past 20 s on Swift's backtracking `Regex`, on a
    /// 20,000-character value starting with "é": now one pass over the bytes.
    @Test func theCatastrophicPatternIsLinear() throws {
        let regex = try CompiledRegex(#"^(.*a){12}$"#)
        let hostile = "é" + String(repeating: "a", count: 11) + String(repeating: "b", count: 20_000)
        let start = ContinuousClock.now
        #expect(!regex.matches(hostile))
        #expect(regex.matches("é" + String(repeating: "xa", count: 12)))
        #expect(ContinuousClock.now - start < .seconds(1))
    }

    @Test func nonASCIIInputFallsBackAndStillMatches() throws {
        let regex = try CompiledRegex(#"\bcafe\b"#)
        #expect(regex.usesAutomaton)
        #expect(regex.matches("café cafe"))
        #expect(!regex.matches("cafés"))
        let dot = try CompiledRegex(#"^.$"#)
        #expect(dot.matches("é"))
    }

    @Test func patternsPastTheAutomatonBoundAreRefused() throws {
        #expect(throws: CompiledRegex.Unsupported.self) { try CompiledRegex(#"(a|b|c|d|e){1,400}z"#) }
    }
}
