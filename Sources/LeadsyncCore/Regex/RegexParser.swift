import LeadsyncValues

/// Parses the supported subset; nil for anything else.
struct RegexParser {
    let p: [UInt8]
    var i = 0
    var caseInsensitive = false

    init(_ p: [UInt8]) { self.p = p }

    mutating func parse() -> RegexNode? {
        if p.starts(with: Array("(?i)".utf8)) {
            caseInsensitive = true
            i = 4
        }
        guard let node = alternation(), i == p.count else { return nil }
        return node
    }

    mutating func alternation() -> RegexNode? {
        var branches: [RegexNode] = []
        while true {
            guard let c = concat() else { return nil }
            branches.append(c)
            if i < p.count, p[i] == UInt8(ascii: "|") {
                i += 1
                continue
            }
            return branches.count == 1 ? branches[0] : .alternation(branches)
        }
    }

    mutating func concat() -> RegexNode? {
        var items: [RegexNode] = []
        while i < p.count, p[i] != UInt8(ascii: "|"), p[i] != UInt8(ascii: ")") {
            guard var atom = atom() else { return nil }
            while i < p.count, let (min, max) = quantifier() {
                if case .lineStart = atom { return nil }
                atom = .repetition(atom, min: min, max: max)
            }
            items.append(atom)
        }
        return .concat(items)
    }

    /// `*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}` with an optional lazy `?`; possessive is unsupported.
    mutating func quantifier() -> (Int, Int?)? {
        let result: (Int, Int?)
        switch p[i] {
        case UInt8(ascii: "*"): result = (0, nil); i += 1
        case UInt8(ascii: "+"): result = (1, nil); i += 1
        case UInt8(ascii: "?"): result = (0, 1); i += 1
        case UInt8(ascii: "{"):
            var j = i + 1
            func number() -> Int? {
                var n = 0, digits = 0
                while j < p.count, p[j] >= 0x30, p[j] <= 0x39, digits < 4 {
                    n = n * 10 + Int(p[j] - 0x30)
                    j += 1
                    digits += 1
                }
                return digits > 0 ? n : nil
            }
            guard let lo = number() else { return nil }  // a literal '{' then; handled by atom()
            var hi: Int? = lo
            if j < p.count, p[j] == UInt8(ascii: ",") {
                j += 1
                hi = number()
            }
            guard j < p.count, p[j] == UInt8(ascii: "}"), hi.map({ $0 >= lo }) ?? true else { return nil }
            i = j + 1
            result = (lo, hi)
        default: return nil
        }
        if i < p.count, p[i] == UInt8(ascii: "?") { i += 1 }
        if i < p.count, p[i] == UInt8(ascii: "+") { i = p.count + 1 }  // possessive: unsupported
        return result
    }

    mutating func atom() -> RegexNode? {
        let c = p[i]
        i += 1
        switch c {
        case UInt8(ascii: "("):
            if i < p.count, p[i] == UInt8(ascii: "?") {
                // `(?:...)`, and named groups `(?<name>...)` / `(?P<name>...)`: a yes/no match
                // captures nothing, so a name is only skipped. (`(?<=` and `(?<!` are look-behind.)
                guard i + 1 < p.count else { return nil }
                if p[i + 1] == UInt8(ascii: ":") {
                    i += 2
                } else {
                    var j = i + 1
                    if p[j] == UInt8(ascii: "P") { j += 1 }
                    guard j < p.count, p[j] == UInt8(ascii: "<"), j + 1 < p.count,
                        p[j + 1] != UInt8(ascii: "="), p[j + 1] != UInt8(ascii: "!"),
                        let close = p[(j + 1)...].firstIndex(of: UInt8(ascii: ">"))
                    else { return nil }
                    i = close + 1
                }
            }
            guard let inner = alternation(), i < p.count, p[i] == UInt8(ascii: ")") else { return nil }
            i += 1
            return inner
        case UInt8(ascii: "["): return bracket()
        case UInt8(ascii: "."): return Self.charClass(ByteSet.dot, [.all])
        case UInt8(ascii: "^"): return .lineStart
        case UInt8(ascii: "$"): return .lineEnd
        case UInt8(ascii: "\\"):
            guard i < p.count else { return nil }
            switch p[i] {
            case UInt8(ascii: "b"):
                i += 1
                return .wordBoundary
            case UInt8(ascii: "B"):
                i += 1
                return .notWordBoundary
            case UInt8(ascii: "A"):
                i += 1
                return .lineStart
            case UInt8(ascii: "z"):
                i += 1
                return .lineEnd
            default:
                return escape().map { Self.charClass($0.ascii, $0.nonASCII) }
            }
        case UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "?"), UInt8(ascii: ")"): return nil
        case UInt8(ascii: "{"):
            return nil  // Swift's Regex rejects a bare '{'; let it say so.
        default:
            if c >= 0x80 {
                guard let char = multibyte(at: i - 1) else { return nil }
                i += char.count - 1
                return literal(char)
            }
            return literal(c)
        }
    }

    func literal(_ c: UInt8) -> RegexNode {
        var s = ByteSet()
        s.insert(c)
        return .set(caseInsensitive ? s.caseFolded : s)
    }

    /// A non-ASCII character of the pattern, as its UTF-8 bytes; case-insensitive, any of its
    /// lower-, upper- and original-case forms.
    func literal(_ bytes: [UInt8]) -> RegexNode {
        func sequence(_ b: [UInt8]) -> RegexNode { .concat(b.map { ByteSet.of($0...$0) }.map(RegexNode.set)) }
        guard caseInsensitive else { return sequence(bytes) }
        let text = String(decoding: bytes, as: UTF8.self)
        var forms: [[UInt8]] = []
        for form in [bytes, Array(text.lowercased().utf8), Array(text.uppercased().utf8)] where !forms.contains(form) {
            forms.append(form)
        }
        return forms.count == 1 ? sequence(forms[0]) : .alternation(forms.map(sequence))
    }

    /// The UTF-8 bytes of the character starting at `at` (nil for a stray byte).
    func multibyte(at j: Int) -> [UInt8]? {
        let lead = p[j]
        let n = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 0
        guard n > 0, j + n <= p.count else { return nil }
        return Array(p[j..<(j + n)])
    }

    /// Which non-ASCII characters a class takes, as a union of pieces: all of them, the word or
    /// non-word ones (by lead byte: see `ByteSet.kinds`), or the spaces (no-break space, the
    /// U+2000 spaces, ideographic space...) or all but the spaces. Empty: none.
    enum Piece: Hashable { case all, word, nonWord, space, nonSpace }
    typealias NonASCII = Set<Piece>

    /// The complement of a class's non-ASCII part; nil for a mix of pieces (not built here).
    static func complement(_ n: NonASCII) -> NonASCII? {
        if n.isEmpty { return [.all] }
        guard n.count == 1, let only = n.first else { return n.contains(.all) ? [] : nil }
        switch only {
        case .all: return []
        case .word: return [.nonWord]
        case .nonWord: return [.word]
        case .space: return [.nonSpace]
        case .nonSpace: return [.space]
        }
    }

    /// One non-ASCII character of `piece`, as UTF-8 (the input is a valid string, so the lead
    /// byte says how many continuation bytes follow).
    static func multibyteChar(_ piece: Piece) -> RegexNode {
        let cont = ByteSet.of(0x80...0xBF)
        func seq(_ sets: [ByteSet]) -> RegexNode { .concat(sets.map(RegexNode.set)) }
        func one(_ b: UInt8) -> ByteSet { ByteSet.of(b...b) }
        func but(_ xs: UInt8...) -> ByteSet { cont.filtered { !xs.contains($0) } }
        switch piece {
        case .all, .word, .nonWord:
            var lead2 = ByteSet.of(0xC2...0xDF), lead3 = ByteSet.of(0xE0...0xEF), lead4 = ByteSet.of(0xF0...0xF4)
            if piece != .all {
                let keep: UInt8 = piece == .word ? 1 : 0
                lead2 = lead2.filtered { ByteSet.kind($0) == keep }
                lead3 = lead3.filtered { ByteSet.kind($0) == keep }
                lead4 = lead4.filtered { ByteSet.kind($0) == keep }
            }
            var branches: [RegexNode] = []
            if !lead2.isEmpty { branches.append(seq([lead2, cont])) }
            if !lead3.isEmpty { branches.append(seq([lead3, cont, cont])) }
            if !lead4.isEmpty { branches.append(seq([lead4, cont, cont, cont])) }
            return .alternation(branches)
        case .space:
            // U+0085, U+00A0, U+1680, U+2000-200A, U+2028, U+2029, U+202F, U+205F, U+3000.
            return .alternation([
                seq([one(0xC2), one(0x85)]), seq([one(0xC2), one(0xA0)]), seq([one(0xE1), one(0x9A), one(0x80)]),
                seq([one(0xE2), one(0x80), ByteSet.of(0x80...0x8A)]), seq([one(0xE2), one(0x80), one(0xA8)]),
                seq([one(0xE2), one(0x80), one(0xA9)]), seq([one(0xE2), one(0x80), one(0xAF)]),
                seq([one(0xE2), one(0x81), one(0x9F)]), seq([one(0xE3), one(0x80), one(0x80)]),
            ])
        case .nonSpace:
            var e2third = cont.filtered { !(0x80...0x8A).contains($0) }
            e2third = e2third.filtered { ![0xA8, 0xA9, 0xAF].contains($0) }
            return .alternation([
                seq([one(0xC2), but(0x85, 0xA0)]), seq([ByteSet.of(0xC3...0xDF), cont]),
                seq([one(0xE0), cont, cont]),
                seq([one(0xE1), one(0x9A), but(0x80)]), seq([one(0xE1), but(0x9A), cont]),
                seq([one(0xE2), one(0x80), e2third]), seq([one(0xE2), one(0x81), but(0x9F)]),
                seq([one(0xE2), but(0x80, 0x81), cont]),
                seq([one(0xE3), one(0x80), but(0x80)]), seq([one(0xE3), but(0x80), cont]),
                seq([ByteSet.of(0xE4...0xEF), cont, cont]), seq([ByteSet.of(0xF0...0xF4), cont, cont, cont]),
            ])
        }
    }

    /// A class: some ASCII bytes, and the non-ASCII characters `nonASCII` says.
    static func charClass(_ ascii: ByteSet, _ nonASCII: NonASCII) -> RegexNode {
        if nonASCII.isEmpty { return .set(ascii) }
        let pieces: [Piece] = nonASCII.contains(.all) ? [.all] : nonASCII.sorted { "\($0)" < "\($1)" }
        return .alternation([.set(ascii)] + pieces.map(multibyteChar))
    }

    /// A class escape or an escaped character: its ASCII bytes, and which non-ASCII characters
    /// it also takes. `\w` takes the word ones and `\W` the others (by lead byte: letters of
    /// every script are words; dashes, quotes, symbols, emoji are not); `\D` and `\S` take
    /// them all; `\d` and `\s` none.
    mutating func escape() -> (ascii: ByteSet, nonASCII: NonASCII)? {
        guard i < p.count else { return nil }
        let c = p[i]
        i += 1
        func one(_ b: UInt8) -> (ByteSet, NonASCII) {
            var s = ByteSet()
            s.insert(b)
            return (caseInsensitive ? s.caseFolded : s, [])
        }
        switch c {
        case UInt8(ascii: "d"): return (ByteSet.digit, [])
        case UInt8(ascii: "D"): return (ByteSet.digit.inverted, [.all])
        case UInt8(ascii: "w"): return (ByteSet.word, [.word])
        case UInt8(ascii: "W"): return (ByteSet.word.inverted, [.nonWord])
        case UInt8(ascii: "s"): return (ByteSet.space, [.space])
        case UInt8(ascii: "S"): return (ByteSet.space.inverted, [.nonSpace])
        case UInt8(ascii: "t"): return one(0x09)
        case UInt8(ascii: "n"): return one(0x0A)
        case UInt8(ascii: "r"): return one(0x0D)
        default:
            // An escaped punctuation character is itself; letters and digits name features
            // (\p, \1, \A, \z, ...) this engine does not have.
            let isPunct =
                (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60)
                || (c >= 0x7B && c <= 0x7E) || c == 0x20
            return isPunct ? one(c) : nil
        }
    }

    mutating func bracket() -> RegexNode? {
        var set = ByteSet()
        var nonASCII: NonASCII = []
        var extras: [[UInt8]] = []
        var negate = false
        if i < p.count, p[i] == UInt8(ascii: "^") {
            negate = true
            i += 1
        }
        var first = true
        while i < p.count {
            var c = p[i]
            if c == UInt8(ascii: "]") && !first { break }
            if c == UInt8(ascii: "[") { return nil }  // POSIX classes and nested sets: unsupported
            first = false
            i += 1
            var lo: UInt8
            if c == UInt8(ascii: "\\") {
                guard let (s, more) = escape() else { return nil }
                // A one-byte escape can start a range; a class escape cannot.
                if more.isEmpty, s.bits.0.nonzeroBitCount + s.bits.1.nonzeroBitCount == 1,
                    let only = (0..<128).map(UInt8.init).first(where: { s.contains($0) })
                {
                    lo = only
                } else {
                    set.formUnion(s)
                    nonASCII.formUnion(more)
                    continue
                }
            } else if c >= 0x80 {
                // A non-ASCII member: itself (not a range end: unsupported, refused).
                guard let char = multibyte(at: i - 1) else { return nil }
                i += char.count - 1
                if i < p.count, p[i] == UInt8(ascii: "-"), i + 1 < p.count, p[i + 1] != UInt8(ascii: "]") {
                    return nil
                }
                extras.append(char)
                continue
            } else {
                lo = c
            }
            if i + 1 < p.count, p[i] == UInt8(ascii: "-"), p[i + 1] != UInt8(ascii: "]") {
                i += 1
                c = p[i]
                i += 1
                var hi = c
                if c >= 0x80 { return nil }  // a range to a non-ASCII character: unsupported
                if c == UInt8(ascii: "\\") {
                    guard let (s, more) = escape(), more.isEmpty,
                        s.bits.0.nonzeroBitCount + s.bits.1.nonzeroBitCount == 1,
                        let only = (0..<128).map(UInt8.init).first(where: { s.contains($0) })
                    else { return nil }
                    hi = only
                }
                guard lo <= hi else { return nil }
                set.insert(lo...hi)
            } else {
                set.insert(lo)
            }
        }
        guard i < p.count, p[i] == UInt8(ascii: "]") else { return nil }
        i += 1
        if caseInsensitive { set = set.caseFolded }
        if negate {
            // Every character but those listed: non-ASCII ones listed would need a complement
            // of UTF-8 sequences, which this engine does not build.
            guard extras.isEmpty, let complement = Self.complement(nonASCII) else { return nil }
            return Self.charClass(set.inverted, complement)
        }
        let base = Self.charClass(set, nonASCII)
        return extras.isEmpty ? base : .alternation([base] + extras.map(literal))
    }
}
