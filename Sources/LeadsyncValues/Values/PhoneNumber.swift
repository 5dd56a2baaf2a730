/// A country for numbers written without a country code (`calltools.default_region`).
public struct PhoneRegion: Sendable, Hashable {
    /// ISO 3166-1 alpha-2 code, upper case.
    public var code: String
    /// Country calling code, digits only.
    public var callingCode: String
    /// The national trunk prefix dropped when a national number is made international ("0" in
    /// most of Europe); nil where there is none.
    public var trunkPrefix: UInt8?
    /// Member of the North American Numbering Plan (+1): strict 10-digit validation.
    public var nanp: Bool

    /// The regions leadsync knows. A `default_region` outside this table is a load error rather
    /// than a silent guess.
    public static let known: [String: PhoneRegion] = {
        var table: [String: PhoneRegion] = [:]
        for code in ["US", "CA", "PR", "VI", "GU", "AS", "MP", "DO", "JM", "TT", "BS", "BB"] {
            table[code] = PhoneRegion(code: code, callingCode: "1", trunkPrefix: nil, nanp: true)
        }
        let others: [(String, String, UInt8?)] = [
            ("GB", "44", 0x30), ("IE", "353", 0x30), ("DE", "49", 0x30), ("AT", "43", 0x30), ("CH", "41", 0x30),
            ("FR", "33", 0x30), ("BE", "32", 0x30), ("NL", "31", 0x30), ("LU", "352", nil), ("ES", "34", nil),
            ("PT", "351", nil), ("IT", "39", nil), ("SE", "46", 0x30), ("NO", "47", nil), ("DK", "45", nil),
            ("FI", "358", 0x30), ("PL", "48", nil), ("AU", "61", 0x30), ("NZ", "64", 0x30), ("IN", "91", 0x30),
            ("MX", "52", nil), ("BR", "55", 0x30), ("ZA", "27", 0x30), ("IL", "972", 0x30), ("PH", "63", 0x30),
            ("SG", "65", nil), ("AE", "971", 0x30),
        ]
        for (code, cc, trunk) in others {
            table[code] = PhoneRegion(code: code, callingCode: cc, trunkPrefix: trunk, nanp: false)
        }
        return table
    }()

    public static let us = known["US"]!  // cannot trap: "US" is a key of the literal table above
}

/// Normalises phone numbers to E.164 (`+14155550132`) without a phone-number library.
///
/// What it accepts, and why (see docs/rules.md, "Phone numbers"):
/// - Formatting characters are ignored: spaces, `-`, `.`, `/`, parentheses, and a `(0)` written
///   after an international prefix (`+44 (0)20 7946 0958`).
/// - International numbers: a leading `+`, a `00` prefix, or in NANP regions `011`. They must have
///   8 to 15 digits and a country code not starting with 0; `+1` numbers get the NANP checks.
/// - National numbers in a NANP region: 10 digits, or 11 starting with `1`; the area code must
///   not start with 0 or 1. Elsewhere: the trunk prefix (usually `0`) is dropped and the region's
///   calling code is put in front; 6 to 12 national digits.
/// - An extension (`x123`, `ext. 123`, `#123`) after a complete number is dropped: a dialer
///   cannot dial it anyway.
/// - Anything with other letters (`n/a`, `tbd`, `1-800-FLOWERS`), too few or too many digits, or a
///   `+` anywhere but the start is rejected: nil, never a made-up number.
public enum PhoneNumber {
    public static func e164(_ raw: String, region: PhoneRegion = .us) -> String? {
        var raw = raw
        return raw.withUTF8 { bytes in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { buffer in
                normalise(bytes, into: buffer, region: region)
            }
        }
    }

    private static func normalise(
        _ b: UnsafeBufferPointer<UInt8>, into digits: UnsafeMutableBufferPointer<UInt8>,
        region: PhoneRegion
    ) -> String? {
        var count = 0
        var plus = false
        var seenAnything = false
        var i = 0
        while i < b.count {
            let c = b[i]
            switch c {
            case 0x30...0x39:
                guard count < digits.count else { return nil }
                digits[count] = c
                count += 1
                seenAnything = true
            case UInt8(ascii: "+"):
                guard !seenAnything, !plus else { return nil }
                plus = true
                seenAnything = true
            case UInt8(ascii: " "), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "/"), UInt8(ascii: "\t"),
                UInt8(ascii: ")"):
                break
            case 0xC2 where i + 1 < b.count && b[i + 1] == 0xA0:  // no-break space
                i += 1
            case UInt8(ascii: "("):
                // "(0)" after an international prefix is the trunk digit written for locals.
                if i + 2 < b.count, b[i + 1] == 0x30, b[i + 2] == UInt8(ascii: ")"),
                    plus || (count >= 2 && digits[0] == 0x30 && digits[1] == 0x30)
                {
                    i += 3
                    continue
                }
            case UInt8(ascii: "x"), UInt8(ascii: "X"), UInt8(ascii: "e"), UInt8(ascii: "E"), UInt8(ascii: "#"):
                // An extension ends the number: only when a full number came before it and only
                // digits follow the marker.
                guard count >= 7, isExtension(UnsafeBufferPointer(rebasing: b[i...])) else { return nil }
                i = b.count
                continue
            default:
                return nil
            }
            i += 1
        }
        let d = UnsafeBufferPointer(rebasing: digits[0..<count])
        if plus { return international(d) }
        if count > 2, d[0] == 0x30, d[1] == 0x30 { return international(UnsafeBufferPointer(rebasing: d[2...])) }
        if region.nanp, count > 3, d[0] == 0x30, d[1] == 0x31, d[2] == 0x31 {
            return international(UnsafeBufferPointer(rebasing: d[3...]))
        }
        if region.nanp {
            if count == 11, d[0] == 0x31 { return nanp(UnsafeBufferPointer(rebasing: d[1...])) }
            if count == 10 { return nanp(d) }
            return nil
        }
        var national = d[...]
        if let trunk = region.trunkPrefix, national.first == trunk { national = national.dropFirst() }
        guard national.count >= 6, national.count <= 12, national.first != 0x30 else { return nil }
        guard region.callingCode.utf8.count + national.count <= 15 else { return nil }
        return "+" + region.callingCode + String(decoding: UnsafeBufferPointer(rebasing: national), as: UTF8.self)
    }

    private static func isExtension(_ rest: UnsafeBufferPointer<UInt8>) -> Bool {
        let text = String(decoding: rest, as: UTF8.self).lowercased()
        var body = Substring(text)
        for marker in ["extension", "ext", "x", "#"] where body.hasPrefix(marker) {
            body = body.dropFirst(marker.count)
            break
        }
        body = body.drop(while: { $0 == "." || $0 == ":" || $0 == " " })
        return !body.isEmpty && body.count <= 6 && body.allSatisfy(\.isASCII) && body.allSatisfy(\.isNumber)
    }

    private static func nanp(_ ten: UnsafeBufferPointer<UInt8>) -> String? {
        guard ten.count == 10, ten[0] >= 0x32 else { return nil }
        return "+1" + String(decoding: ten, as: UTF8.self)
    }

    private static func international(_ digits: UnsafeBufferPointer<UInt8>) -> String? {
        guard digits.count >= 8, digits.count <= 15, digits[0] != 0x30 else { return nil }
        if digits[0] == 0x31 {
            guard digits.count == 11 else { return nil }
            return nanp(UnsafeBufferPointer(rebasing: digits[1...]))
        }
        return "+" + String(decoding: digits, as: UTF8.self)
    }
}
