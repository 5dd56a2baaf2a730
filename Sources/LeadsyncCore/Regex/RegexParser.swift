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
                guard i + 1 < p.count, p[i + 1] == UInt8(ascii: ":") else { return nil }
                i += 2
            }
            guard let inner = alternation(), i < p.count, p[i] == UInt8(ascii: ")") else { return nil }
            i += 1
            return inner
        case UInt8(ascii: "["): return bracket()
        case UInt8(ascii: "."): return .set(ByteSet.dot)
        case UInt8(ascii: "^"): return .lineStart
        case UInt8(ascii: "$"): return .lineEnd
        case UInt8(ascii: "\\"): return escape(inClass: false).map { $0 }
        case UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "?"), UInt8(ascii: ")"): return nil
        case UInt8(ascii: "{"):
            return nil  // Swift's Regex rejects a bare '{'; let it say so.
        default:
            return literal(c)
        }
    }

    func literal(_ c: UInt8) -> RegexNode {
        var s = ByteSet()
        s.insert(c)
        return .set(caseInsensitive ? s.caseFolded : s)
    }

    mutating func escape(inClass: Bool) -> RegexNode? {
        guard i < p.count else { return nil }
        let c = p[i]
        i += 1
        switch c {
        case UInt8(ascii: "d"): return .set(ByteSet.digit)
        case UInt8(ascii: "D"): return .set(ByteSet.digit.inverted)
        case UInt8(ascii: "w"): return .set(ByteSet.word)
        case UInt8(ascii: "W"): return .set(ByteSet.word.inverted)
        case UInt8(ascii: "s"): return .set(ByteSet.space)
        case UInt8(ascii: "S"): return .set(ByteSet.space.inverted)
        case UInt8(ascii: "t"): return literal(0x09)
        case UInt8(ascii: "n"): return literal(0x0A)
        case UInt8(ascii: "r"): return literal(0x0D)
        case UInt8(ascii: "b") where !inClass: return .wordBoundary
        case UInt8(ascii: "B") where !inClass: return .notWordBoundary
        default:
            // An escaped punctuation character is itself; letters and digits name features
            // (\p, \1, \A, \z, ...) this engine does not have.
            let isPunct =
                (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60)
                || (c >= 0x7B && c <= 0x7E) || c == 0x20
            return isPunct ? literal(c) : nil
        }
    }

    mutating func bracket() -> RegexNode? {
        var set = ByteSet()
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
                guard let e = escape(inClass: true), case .set(let s) = e else { return nil }
                // A one-byte escape can start a range; a class escape cannot.
                if s.bits.0.nonzeroBitCount + s.bits.1.nonzeroBitCount == 1,
                    let only = (0..<128).map(UInt8.init).first(where: { s.contains($0) })
                {
                    lo = only
                } else {
                    set.formUnion(s)
                    continue
                }
            } else {
                lo = c
            }
            if i + 1 < p.count, p[i] == UInt8(ascii: "-"), p[i + 1] != UInt8(ascii: "]") {
                i += 1
                c = p[i]
                i += 1
                var hi = c
                if c == UInt8(ascii: "\\") {
                    guard let e = escape(inClass: true), case .set(let s) = e,
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
        return .set(negate ? set.inverted : set)
    }
}
