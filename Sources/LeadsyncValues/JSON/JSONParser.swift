/// A byte-level JSON parser (RFC 8259) producing `JSON` values.
///
/// Written for throughput on JSON Lines input: one pass over UTF-8 bytes, no Foundation, and an
/// error that names the byte offset so callers can report line and column.
public struct JSONParser {
    public struct Error: Swift.Error, Sendable, Equatable, CustomStringConvertible {
        public var message: String
        /// Offset of the offending byte in the input.
        public var offset: Int
        public var description: String { message }
    }

    /// Parses exactly one JSON value; anything but whitespace after it is an error.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(Error) -> JSON {
        var parser = JSONParser(bytes)
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        if parser.index < bytes.count {
            throw Error(message: "unexpected \(parser.describeCurrent()) after the JSON value", offset: parser.index)
        }
        return value
    }

    public static func parse(_ text: String) throws(Error) -> JSON {
        try parse(Array(text.utf8))
    }

    public static func parse(_ bytes: [UInt8]) throws(Error) -> JSON {
        var result: Result<JSON, Error> = .failure(Error(message: "", offset: 0))
        bytes.withUnsafeBufferPointer { buffer in
            result = Result { () throws(Error) -> JSON in try parse(buffer) }
        }
        return try result.get()
    }

    /// Parses the first JSON value of `bytes` and returns it with the offset just past it.
    public static func parsePrefix(_ bytes: UnsafeBufferPointer<UInt8>) throws(Error) -> (JSON, Int) {
        var parser = JSONParser(bytes)
        let value = try parser.parseValue(depth: 0)
        return (value, parser.index)
    }

    static let maxDepth = 512

    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    private func describeCurrent() -> String {
        guard index < bytes.count else { return "end of input" }
        let b = bytes[index]
        if b >= 0x21 && b < 0x7F { return "character '\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x\(String(b, radix: 16))"
    }

    private mutating func parseValue(depth: Int) throws(Error) -> JSON {
        skipWhitespace()
        guard index < bytes.count else { throw Error(message: "unexpected end of input", offset: index) }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw Error(message: "unexpected \(describeCurrent())", offset: index)
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(Error) {
        let start = index
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else {
            throw Error(message: "invalid literal (expected true, false or null)", offset: start)
        }
        let p = literal.utf8Start
        for i in 0..<count where bytes[index + i] != p[i] {
            throw Error(message: "invalid literal (expected true, false or null)", offset: start)
        }
        index += count
    }

    private mutating func parseObject(depth: Int) throws(Error) -> JSON {
        if depth > JSONParser.maxDepth {
            throw Error(message: "nesting deeper than \(JSONParser.maxDepth)", offset: index)
        }
        index += 1
        var entries: [JSONObject.Entry] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(JSONObject(entries))
        }
        entries.reserveCapacity(16)
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                throw Error(message: "expected a string key, found \(describeCurrent())", offset: index)
            }
            let key = try parseString()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                throw Error(message: "expected ':' after key, found \(describeCurrent())", offset: index)
            }
            index += 1
            let value = try parseValue(depth: depth)
            entries.append(.init(key: key, value: value))
            skipWhitespace()
            guard index < bytes.count else { throw Error(message: "unexpected end of input in object", offset: index) }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            if bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(JSONObject(entries))
            }
            throw Error(message: "expected ',' or '}' in object, found \(describeCurrent())", offset: index)
        }
    }

    private mutating func parseArray(depth: Int) throws(Error) -> JSON {
        if depth > JSONParser.maxDepth {
            throw Error(message: "nesting deeper than \(JSONParser.maxDepth)", offset: index)
        }
        index += 1
        var items: [JSON] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(items)
        }
        while true {
            items.append(try parseValue(depth: depth))
            skipWhitespace()
            guard index < bytes.count else { throw Error(message: "unexpected end of input in array", offset: index) }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            if bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(items)
            }
            throw Error(message: "expected ',' or ']' in array, found \(describeCurrent())", offset: index)
        }
    }

    private mutating func parseString() throws(Error) -> String {
        let start = index
        index += 1
        let contentStart = index
        // Fast path: no escapes.
        while index < bytes.count {
            let b = bytes[index]
            if b == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[contentStart..<index]), as: UTF8.self)
                index += 1
                return s
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw Error(message: "control character in string", offset: index) }
            index += 1
        }
        guard index < bytes.count else { throw Error(message: "unterminated string", offset: start) }
        var buffer = Array(UnsafeBufferPointer(rebasing: bytes[contentStart..<index]))
        while index < bytes.count {
            let b = bytes[index]
            switch b {
            case UInt8(ascii: "\""):
                index += 1
                return String(decoding: buffer, as: UTF8.self)
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { throw Error(message: "unterminated string", offset: start) }
                let e = bytes[index]
                index += 1
                switch e {
                case UInt8(ascii: "\""): buffer.append(0x22)
                case UInt8(ascii: "\\"): buffer.append(0x5C)
                case UInt8(ascii: "/"): buffer.append(0x2F)
                case UInt8(ascii: "b"): buffer.append(0x08)
                case UInt8(ascii: "f"): buffer.append(0x0C)
                case UInt8(ascii: "n"): buffer.append(0x0A)
                case UInt8(ascii: "r"): buffer.append(0x0D)
                case UInt8(ascii: "t"): buffer.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try parseHex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                            bytes[index + 1] == UInt8(ascii: "u")
                        else { throw Error(message: "unpaired surrogate in \\u escape", offset: index) }
                        index += 2
                        let low = try parseHex4()
                        guard (0xDC00...0xDFFF).contains(low) else {
                            throw Error(message: "unpaired surrogate in \\u escape", offset: index)
                        }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw Error(message: "unpaired surrogate in \\u escape", offset: index)
                    }
                    guard let u = Unicode.Scalar(scalar) else {
                        throw Error(message: "invalid \\u escape", offset: index)
                    }
                    buffer.append(contentsOf: String(Character(u)).utf8)
                default:
                    throw Error(message: "invalid escape '\\\(Character(Unicode.Scalar(e)))'", offset: index - 2)
                }
            default:
                if b < 0x20 { throw Error(message: "control character in string", offset: index) }
                buffer.append(b)
                index += 1
            }
        }
        throw Error(message: "unterminated string", offset: start)
    }

    private mutating func parseHex4() throws(Error) -> UInt32 {
        guard index + 4 <= bytes.count else { throw Error(message: "truncated \\u escape", offset: index) }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[index]
            let digit: UInt32
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(b - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(b - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(b - UInt8(ascii: "A") + 10)
            default: throw Error(message: "invalid hex digit in \\u escape", offset: index)
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    private mutating func parseNumber() throws(Error) -> Double {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        var integer: Int64 = 0
        var digits = 0
        var simple = true
        if index < bytes.count, bytes[index] == UInt8(ascii: "0") {
            index += 1
            digits = 1
        } else {
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                if digits < 18 {
                    integer = integer * 10 + Int64(bytes[index] - UInt8(ascii: "0"))
                } else {
                    simple = false
                }
                digits += 1
                index += 1
            }
        }
        guard digits > 0 else { throw Error(message: "invalid number", offset: start) }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            simple = false
            index += 1
            var fraction = 0
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                index += 1
                fraction += 1
            }
            guard fraction > 0 else { throw Error(message: "invalid number", offset: start) }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            simple = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            var exponent = 0
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                index += 1
                exponent += 1
            }
            guard exponent > 0 else { throw Error(message: "invalid number", offset: start) }
        }
        if simple {
            return bytes[start] == UInt8(ascii: "-") ? -Double(integer) : Double(integer)
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        guard let value = Double(text) else { throw Error(message: "invalid number", offset: start) }
        return value
    }
}
