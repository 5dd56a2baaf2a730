extension String {
    /// Padded on the left to `width` characters (`"7".leftPadded(to: 3, with: "0")` is `"007"`).
    public func leftPadded(to width: Int, with pad: Character = " ") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }

    /// Padded on the right with spaces to `width` characters (table columns).
    public func rightPadded(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }

    /// The string without leading and trailing white space (Unicode white space and newlines).
    public var trimmedASCII: String {
        // Fast path: nothing to trim when both ends are printable ASCII (almost every value).
        if let f = utf8.first, let l = utf8.last, f > 0x20, f < 0x80, l > 0x20, l < 0x80 { return self }
        if utf8.isEmpty { return self }
        guard let first = firstIndex(where: { !$0.isWhitespace }) else { return "" }
        let last = lastIndex(where: { !$0.isWhitespace }) ?? first
        if first == startIndex && last == index(before: endIndex) { return self }
        return String(self[first...last])
    }

    /// How tags and case-insensitive values compare: trimmed, then lower-cased.
    ///
    /// ASCII-only strings (nearly every tag) take a byte loop that allocates nothing when the
    /// value is already normal; others go through Unicode lower-casing.
    public var foldedForComparison: String {
        var ascii = true
        var needsWork = false
        let utf8 = self.utf8
        if let first = utf8.first, let last = utf8.last, first == 0x20 || last == 0x20 || first == 0x09 || last == 0x09
        {
            needsWork = true
        }
        for b in utf8 {
            if b >= 0x80 {
                ascii = false
                break
            }
            if b >= 0x41 && b <= 0x5A { needsWork = true }
            if b < 0x20 { needsWork = true }
        }
        if ascii && !needsWork { return self }
        return trimmedASCII.lowercasedQuickly
    }

    /// `lowercased()`, the same text, without its cost on the common cases: a string with no
    /// upper-case letter comes back as is (no allocation), and ASCII text is lowered by a byte
    /// loop. Anything else goes through Unicode lower-casing.
    public var lowercasedQuickly: String {
        var copy = self
        var ascii = true
        var upper = false
        copy.withUTF8 { bytes in
            for b in bytes {
                if b >= 0x80 {
                    ascii = false
                    return
                }
                if b &- 0x41 < 26 { upper = true }
            }
        }
        guard ascii else { return lowercased() }
        guard upper else { return self }
        return copy.withUTF8 { bytes in
            String(unsafeUninitializedCapacity: bytes.count) { out in
                for i in 0..<bytes.count {
                    let b = bytes[i]
                    out[i] = b &- 0x41 < 26 ? b | 0x20 : b
                }
                return bytes.count
            }
        }
    }

    /// Byte-wise substring test; both sides are expected to be folded already.
    @inlinable
    public func utf8Contains(_ needle: String) -> Bool {
        let n = needle.utf8.count
        if n == 0 { return true }
        let h = self.utf8.count
        if n > h { return false }
        var haystack = self
        var needle = needle
        return haystack.withUTF8 { hb in
            needle.withUTF8 { nb in
                let first = nb[0]
                var i = 0
                let end = h - n
                while i <= end {
                    if hb[i] == first {
                        var k = 1
                        while k < n && hb[i + k] == nb[k] { k += 1 }
                        if k == n { return true }
                    }
                    i += 1
                }
                return false
            }
        }
    }

    /// Title Case: the first letter of every word upper-cased, the rest lower-cased.
    public var titleCased: String {
        var result = ""
        result.reserveCapacity(utf8.count)
        var atWordStart = true
        for ch in self {
            if ch.isLetter || ch.isNumber || ch == "'" {
                result += atWordStart ? ch.uppercased() : ch.lowercased()
                atWordStart = false
            } else {
                result.append(ch)
                atWordStart = true
            }
        }
        return result
    }
}

/// Edit distance, used for "did you mean" suggestions.
public func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.lowercased()), b = Array(b.lowercased())
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}

/// The closest candidate to `word`, if one is close enough to be a likely typo.
public func suggestion(for word: String, among candidates: some Sequence<String>) -> String? {
    var best: (String, Int)?
    for candidate in candidates {
        let d = editDistance(word, candidate)
        let limit = Swift.max(1, Swift.min(3, candidate.count / 3))
        if d <= limit, best.map({ d < $0.1 }) ?? true { best = (candidate, d) }
        if best == nil, candidate.count >= 4,
            word.lowercased().hasPrefix(candidate.lowercased()) || candidate.lowercased().hasPrefix(word.lowercased())
        {
            best = (candidate, 99)
        }
    }
    return best?.0
}
