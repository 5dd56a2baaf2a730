/// `application/x-www-form-urlencoded` bodies (HTML forms, OAuth token requests).
public enum FormEncoding {
    /// Every `name=value` pair in order, repeated names kept (a list of checkboxes).
    public static func pairs(_ bytes: [UInt8]) -> [(name: String, value: String)] {
        var out: [(String, String)] = []
        for pair in bytes.split(separator: UInt8(ascii: "&")) {
            let kv = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            out.append((decode(kv[0]), kv.count == 2 ? decode(kv[1]) : ""))
        }
        return out
    }

    /// The pairs as a dictionary: the last value of a repeated name wins.
    public static func fields(_ bytes: [UInt8]) -> [String: String] {
        var out: [String: String] = [:]
        for (name, value) in pairs(bytes) { out[name] = value }
        return out
    }

    /// `+` is a space, `%XX` a byte; anything else (a stray `%`) is kept as it is. Bytes that
    /// are not UTF-8 come out as U+FFFD.
    public static func decode(_ text: some Collection<UInt8>) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count)
        var it = text[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else if b == UInt8(ascii: "%"), it.count >= 2, let hi = hex(it[it.startIndex]),
                let lo = hex(it[it.index(after: it.startIndex)])
            {
                bytes.append(hi << 4 | lo)
                it = it.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Percent-encodes everything but unreserved characters (RFC 3986).
    public static func encode(_ text: String) -> String {
        var out = ""
        for b in text.utf8 {
            switch b {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D, 0x2E, 0x5F, 0x7E: out.append(Character(Unicode.Scalar(b)))
            default: out += "%" + String(b, radix: 16, uppercase: true).leftPadded(to: 2, with: "0")
            }
        }
        return out
    }

    static func hex(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
