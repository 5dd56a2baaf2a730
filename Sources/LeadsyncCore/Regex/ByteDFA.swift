import LeadsyncValues

/// A regular expression compiled to a deterministic automaton over UTF-8 bytes.
///
/// Rules run regexes on every tag of every contact: one table lookup per byte keeps that cheap,
/// and linear in the input whatever the pattern and the value (RE2's guarantee).
///
/// Supported: literals (non-ASCII ones too) and escapes, `.`, classes `[a-z]` `[^...]`,
/// `\d \D \w \W \s \S`, anchors `^ $`, word boundaries `\b \B` (simple: between `\w` and `\W`),
/// groups `(...)` and `(?:...)`, alternation, quantifiers `* + ? {n} {n,} {n,m}` (lazy forms
/// too: for a yes/no match they mean the same), and a leading `(?i)`. Anything else —
/// back-references, look-around, Unicode properties, ranges or negated classes with non-ASCII
/// characters — makes `init` return nil, and the rules compiler refuses the pattern.
///
/// Non-ASCII input: `.` and negated classes match a whole character (its UTF-8 bytes); every
/// non-ASCII character is a word character for `\w` and `\b` (as letters of every script are;
/// Swift's `Regex` differs for symbols and emoji, which it counts as non-word); `\d` and `\s`
/// are ASCII only. Under `(?i)`, a non-ASCII literal matches its lower- and upper-case forms.
///
/// Matching is unanchored ("a match anywhere counts") and answers only yes or no.
final class ByteDFA: @unchecked Sendable {
    // Raw storage, read-only after init, so that a match retains nothing. `table` has 256
    // entries per state: the next state, or -1 when the pattern has matched before that byte
    // (what matched depends only on the state and the kind of byte that follows, so it is
    // decided here, once, not per byte). `ends`: whether the pattern matches at the end.
    private let table: UnsafeMutablePointer<Int32>
    private let ends: UnsafeMutablePointer<Bool>
    private let start: Int

    static let maxNFAStates = 1000
    static let maxDFAStates = 1000

    init?(pattern: String) {
        var parser = RegexParser(Array(pattern.utf8))
        guard let ast = parser.parse() else { return nil }
        var nfa = NFA()
        // Unanchored search: a self-loop on every byte in front of the pattern.
        let matchState = nfa.add(.match)
        guard let body = nfa.build(ast, next: matchState), nfa.states.count <= ByteDFA.maxNFAStates else { return nil }
        let loop = nfa.add(.split(body, -1))
        nfa.states[loop] = .split(body, nfa.add(.byte(ByteSet.all, loop)))
        guard let built = DFABuilder(nfa: nfa, start: loop).build() else { return nil }
        table = .allocate(capacity: built.table.count)
        table.initialize(from: built.table, count: built.table.count)
        ends = .allocate(capacity: built.end.count)
        ends.initialize(from: built.end, count: built.end.count)
        for s in built.word.indices {
            for b in 0..<256 {
                let kind = ByteSet.kind(UInt8(b))
                // Before a continuation byte the next character is the one already begun.
                let nextWord = kind == 2 ? built.prevWord[s] : kind == 1
                if nextWord ? built.word[s] : built.other[s] { table[s &* 256 &+ b] = -1 }
            }
        }
        start = Int(built.start)
    }

    deinit {
        table.deallocate()
        ends.deallocate()
    }

    /// Whether the pattern matches anywhere in `text`: one table step per UTF-8 byte.
    @inline(__always)
    func matches(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes -> Bool in
            var s = start
            for b in bytes {
                let next = table[s &* 256 &+ Int(b)]
                if next < 0 { return true }
                s = Int(next)
            }
            return ends[s]
        }
    }
}

/// 256 bits.
struct ByteSet: Hashable, Sendable {
    var bits: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    static func == (a: ByteSet, b: ByteSet) -> Bool { a.bits == b.bits }
    func hash(into h: inout Hasher) {
        h.combine(bits.0)
        h.combine(bits.1)
        h.combine(bits.2)
        h.combine(bits.3)
    }

    func contains(_ b: UInt8) -> Bool {
        let word: UInt64
        switch b >> 6 {
        case 0: word = bits.0
        case 1: word = bits.1
        case 2: word = bits.2
        default: word = bits.3
        }
        return word & (1 << UInt64(b & 63)) != 0
    }

    mutating func insert(_ b: UInt8) {
        let m: UInt64 = 1 << UInt64(b & 63)
        switch b >> 6 {
        case 0: bits.0 |= m
        case 1: bits.1 |= m
        case 2: bits.2 |= m
        default: bits.3 |= m
        }
    }

    mutating func insert(_ r: ClosedRange<UInt8>) { for b in r { insert(b) } }
    mutating func formUnion(_ o: ByteSet) {
        bits = (bits.0 | o.bits.0, bits.1 | o.bits.1, bits.2 | o.bits.2, bits.3 | o.bits.3)
    }

    /// The complement within ASCII (non-ASCII input never reaches the DFA).
    var inverted: ByteSet {
        ByteSet(bits: (~bits.0, ~bits.1, 0, 0))
    }

    static func of(_ bytes: ClosedRange<UInt8>...) -> ByteSet {
        var s = ByteSet()
        for r in bytes { s.insert(r) }
        return s
    }

    static let all = ByteSet(bits: (~0, ~0, ~0, ~0))
    static let digit = of(0x30...0x39)
    static let word = of(0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x5F...0x5F)
    static let space = of(0x09...0x0D, 0x20...0x20)
    /// Every ASCII byte but newline.
    static let dot = ByteSet(bits: (~(UInt64(1) << 0x0A), ~0, 0, 0))

    /// What a byte says of the character it starts, for `\w` and `\b`: 1 word, 0 not, 2 a
    /// continuation byte (the character's kind was said by its lead byte, and no boundary falls
    /// inside it). ASCII: letters, digits and `_` are words. Non-ASCII, by lead byte: letters of
    /// every script are words (U+00C0 to U+1FFF, U+3000 to U+DFFF, U+F000 to U+FFFF); U+0080 to
    /// U+00BF (no-break space, «», ©, °), U+2000 to U+2FFF (dashes, quotes, arrows, symbols,
    /// dingbats), private use, and everything past U+FFFF (emoji above all) are not. A few
    /// characters land on the other side of Swift's `Regex` (× and ÷ count as word characters,
    /// CJK punctuation too, rare historic scripts do not): the price of deciding by one byte.
    static let kinds: [UInt8] = (0..<256).map { i -> UInt8 in
        let b = UInt8(i)
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x5F: return 1
        case 0x80...0xBF: return 2
        case 0xC3...0xDF, 0xE0...0xE1, 0xE3...0xED, 0xEF: return 1
        default: return 0
        }
    }

    @inline(__always)
    static func kind(_ b: UInt8) -> UInt8 { kinds[Int(b)] }

    @inline(__always)
    static func isWord(_ b: UInt8) -> Bool { kinds[Int(b)] == 1 }

    func filtered(_ keep: (UInt8) -> Bool) -> ByteSet {
        var out = ByteSet()
        for i in 0..<256 where contains(UInt8(i)) && keep(UInt8(i)) { out.insert(UInt8(i)) }
        return out
    }

    var isEmpty: Bool { bits == (0, 0, 0, 0) }

    /// Adds the other case of every ASCII letter.
    var caseFolded: ByteSet {
        var s = self
        for b in UInt8(0x41)...UInt8(0x5A) where contains(b) || contains(b + 0x20) {
            s.insert(b)
            s.insert(b + 0x20)
        }
        return s
    }
}

indirect enum RegexNode {
    case set(ByteSet)
    case concat([RegexNode])
    case alternation([RegexNode])
    case repetition(RegexNode, min: Int, max: Int?)
    case lineStart, lineEnd, wordBoundary, notWordBoundary
}

/// A Thompson NFA.
struct NFA {
    enum State {
        case byte(ByteSet, Int)
        case split(Int, Int)
        case assert(Assertion, Int)
        case match
    }
    enum Assertion { case start, end, boundary, notBoundary }

    var states: [State] = []

    mutating func add(_ s: State) -> Int {
        states.append(s)
        return states.count - 1
    }

    /// Builds `node` so that it continues to `next`; returns its entry, or nil past the size cap.
    mutating func build(_ node: RegexNode, next: Int) -> Int? {
        if states.count > ByteDFA.maxNFAStates { return nil }
        switch node {
        case .set(let s): return add(.byte(s, next))
        case .lineStart: return add(.assert(.start, next))
        case .lineEnd: return add(.assert(.end, next))
        case .wordBoundary: return add(.assert(.boundary, next))
        case .notWordBoundary: return add(.assert(.notBoundary, next))
        case .concat(let items):
            var entry = next
            for item in items.reversed() {
                guard let e = build(item, next: entry) else { return nil }
                entry = e
            }
            return entry
        case .alternation(let branches):
            var entries: [Int] = []
            for b in branches {
                guard let e = build(b, next: next) else { return nil }
                entries.append(e)
            }
            guard var entry = entries.last else { return nil }
            for e in entries.dropLast().reversed() { entry = add(.split(e, entry)) }
            return entry
        case .repetition(let inner, let min, let max):
            // x{2,4} = x x (x (x)?)?  and  x{2,} = x x x*
            var entry = next
            if let max {
                for _ in 0..<(max - min) {
                    guard let e = build(inner, next: entry) else { return nil }
                    entry = add(.split(e, next))
                }
            } else {
                let loop = add(.split(-1, next))
                guard let body = build(inner, next: loop) else { return nil }
                states[loop] = .split(body, next)
                entry = loop
            }
            for _ in 0..<min {
                guard let e = build(inner, next: entry) else { return nil }
                entry = e
            }
            return entry
        }
    }
}

/// Subset construction with one byte of look-behind (start / word / other) for `^` and `\b`.
struct DFABuilder {
    let nfa: NFA
    let start: Int

    enum Kind: Int { case start = 0, word, other, end }

    struct Key: Hashable {
        var kernel: [Int32]
        var prev: Int8
    }

    /// The states reachable from `set` through splits and assertions that hold between `prev`
    /// and `next`.
    func closure(_ set: [Int32], prev: Kind, next: Kind) -> (states: [Int32], accepts: Bool) {
        var seen = Set<Int32>()
        var stack = set
        var out: [Int32] = []
        var accepts = false
        let prevWord = prev == .word, nextWord = next == .word
        while let s = stack.popLast() {
            guard s >= 0, seen.insert(s).inserted else { continue }
            switch nfa.states[Int(s)] {
            case .byte: out.append(s)
            case .match: accepts = true
            case .split(let a, let b):
                stack.append(Int32(b))
                stack.append(Int32(a))
            case .assert(let a, let n):
                let holds: Bool
                switch a {
                case .start: holds = prev == .start
                case .end: holds = next == .end
                case .boundary: holds = prevWord != nextWord
                case .notBoundary: holds = prevWord == nextWord
                }
                if holds { stack.append(Int32(n)) }
            }
        }
        return (out.sorted(), accepts)
    }

    func build() -> (table: [Int32], word: [Bool], other: [Bool], end: [Bool], prevWord: [Bool], start: Int32)? {
        var index: [Key: Int32] = [:]
        var keys: [Key] = []
        var table: [Int32] = []
        var acceptWord: [Bool] = [], acceptOther: [Bool] = [], acceptEnd: [Bool] = [], prevWord: [Bool] = []
        func intern(_ key: Key) -> Int32? {
            if let i = index[key] { return i }
            guard keys.count < ByteDFA.maxDFAStates else { return nil }
            let i = Int32(keys.count)
            index[key] = i
            keys.append(key)
            return i
        }
        guard let first = intern(Key(kernel: [Int32(start)], prev: Int8(Kind.start.rawValue))) else { return nil }
        var work = 0
        while work < keys.count {
            let key = keys[work]
            let prev = Kind(rawValue: Int(key.prev))!  // cannot trap: keys are interned from Kind values only
            let beforeWord = closure(key.kernel, prev: prev, next: .word)
            let beforeOther = closure(key.kernel, prev: prev, next: .other)
            acceptWord.append(beforeWord.accepts)
            acceptOther.append(beforeOther.accepts)
            acceptEnd.append(closure(key.kernel, prev: prev, next: .end).accepts)
            prevWord.append(prev == .word)
            var row = [Int32](repeating: 0, count: 256)
            for b in 0..<256 {
                let byte = UInt8(b)
                // A continuation byte goes on with the character begun: its kind is that of the
                // lead byte, already the state's look-behind.
                let kind = ByteSet.kind(byte)
                let isWord = kind == 2 ? prev == .word : kind == 1
                let from = isWord ? beforeWord.states : beforeOther.states
                var nextKernel: [Int32] = []
                for s in from {
                    if case .byte(let set, let n) = nfa.states[Int(s)], set.contains(byte) {
                        nextKernel.append(Int32(n))
                    }
                }
                nextKernel = Array(Set(nextKernel)).sorted()
                guard
                    let target = intern(Key(kernel: nextKernel, prev: Int8((isWord ? Kind.word : Kind.other).rawValue)))
                else { return nil }
                row[b] = target
            }
            table += row
            work += 1
        }
        return (table, acceptWord, acceptOther, acceptEnd, prevWord, first)
    }
}
