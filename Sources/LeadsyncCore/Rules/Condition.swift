import LeadsyncValues

/// A compiled condition. Every node carries an id into `CompiledRules.conditions`, which holds
/// its description and source location for traces.
public indirect enum Condition: Sendable {
    case all([Condition], id: Int32)
    case any([Condition], id: Int32)
    case not(Condition, id: Int32)
    case tags(TagTest, id: Int32)
    case field(FieldPath, FieldTest, id: Int32)
    case markedCustomer(id: Int32)

    public var id: Int32 {
        switch self {
        case .all(_, let id), .any(_, let id), .not(_, let id), .tags(_, let id), .field(_, _, let id),
            .markedCustomer(let id):
            return id
        }
    }

    /// The top-level contact keys this condition reads (`dndSettings` for
    /// `dndSettings.Call.status`), each once, in the order they first appear.
    public var keysRead: [String] {
        var out: [String] = []
        func walk(_ c: Condition) {
            switch c {
            case .all(let list, _), .any(let list, _): list.forEach(walk)
            case .not(let x, _): walk(x)
            case .field(.field(let key, _), _, _): if !out.contains(key) { out.append(key) }
            case .field, .tags, .markedCustomer: break
            }
        }
        walk(self)
        return out
    }
}

/// Where a condition came from and how to say it in a trace.
public struct ConditionInfo: Sendable, Equatable {
    public var description: String
    public var line: Int
    public var column: Int
    public init(description: String, line: Int, column: Int) {
        self.description = description
        self.line = line
        self.column = column
    }
}

public enum Comparison: String, Sendable {
    case gt, gte, lt, lte, eq

    @inlinable
    public func holds<T: Comparable>(_ a: T, _ b: T) -> Bool {
        switch self {
        case .gt: return a > b
        case .gte: return a >= b
        case .lt: return a < b
        case .lte: return a <= b
        case .eq: return a == b
        }
    }
}

/// A tag predicate. Arguments are folded (trimmed, lower-cased) and hashed at compile time.
public enum TagTest: Sendable {
    case has(TagSet)
    case anyOf(TagSet)
    case allOf(TagSet)
    case noneOf(TagSet)
    case anyContains([String])
    case anyMatches(CompiledRegex)
    case count(Comparison, Int)
}

/// Folded tag names with their hashes.
public struct TagSet: Sendable, Equatable {
    public let names: [String]
    public let hashes: [UInt64]

    public init(_ names: [String]) {
        self.names = names.map(\.foldedForComparison)
        self.hashes = self.names.map(TagHash.of)
    }

    /// The contact tag at `i` (given as its hash and folded name) is one of these.
    @inline(__always)
    func contains(hash: UInt64, name: String) -> Bool {
        var k = 0
        while k < hashes.count {
            if hashes[k] == hash && names[k] == name { return true }
            k += 1
        }
        return false
    }
}

/// A literal a field is compared with, pre-folded for case-insensitive comparison.
public struct Literal: Sendable, Equatable {
    /// The canonical text (`true`, `42`, `active`), or nil for null.
    public var text: String?
    public var folded: String?
    public init(_ json: JSON) {
        text = json.scalarText
        folded = text?.foldedForComparison
    }
}

/// An ordered comparand: a number or an instant.
public enum Comparand: Sendable, Equatable {
    case number(Double)
    case date(Timestamp)
}

/// A field predicate.
public enum FieldTest: Sendable {
    case equals(Literal, caseSensitive: Bool)
    case notEquals(Literal, caseSensitive: Bool)
    case isIn([Literal], caseSensitive: Bool)
    case notIn([Literal], caseSensitive: Bool)
    case contains(Literal, caseSensitive: Bool)
    case startsWith(Literal, caseSensitive: Bool)
    case endsWith(Literal, caseSensitive: Bool)
    case matches(CompiledRegex)
    case isMissing
    case isPresent
    case isEmpty
    case compare(Comparison, Comparand)
    case olderThan(RuleDuration)
    case newerThan(RuleDuration)
}

/// A regular expression compiled once when the rules load, to a `ByteDFA` over UTF-8: every
/// match takes time linear in the input (a few nanoseconds per byte), on any input, as RE2's
/// do. There is no backtracking path: a pattern the automaton cannot take (back-references,
/// look-around and the like, which no linear-time engine matches) is refused when the rules
/// load, with the reason.
///
/// Swift's `Regex` still parses each pattern first: its errors say best what is wrong with a
/// malformed one, and differential tests compare the two. It is never used to match in
/// production. It is not `Sendable` for type-erased output; the instance is never mutated after
/// compilation, which is what makes sharing it across tasks safe.
public final class CompiledRegex: @unchecked Sendable {
    public let pattern: String
    private let regex: Regex<AnyRegexOutput>
    private let dfa: ByteDFA

    public struct Unsupported: Error, CustomStringConvertible {
        public var description: String
    }

    /// - Throws: the regex parser's error, whose description says what is wrong, or
    ///   `Unsupported` for a valid pattern that cannot be matched in linear time here.
    public init(_ pattern: String) throws {
        self.pattern = pattern
        self.regex = try Regex(pattern).wordBoundaryKind(.simple)
        guard let dfa = ByteDFA(pattern: pattern) else {
            throw Unsupported(description: CompiledRegex.unsupportedReason)
        }
        self.dfa = dfa
    }

    public static let unsupportedReason =
        "not supported: patterns must match in linear time, so back-references, look-around, "
        + "Unicode properties (\\p), POSIX classes, nested sets, possessive quantifiers, ranges or "
        + "negated classes with non-ASCII characters, and patterns needing over \(ByteDFA.maxDFAStates) "
        + "automaton states are refused"

    /// Always true now (kept for `check` and older tests): every accepted pattern is an automaton.
    public var usesAutomaton: Bool { true }

    /// True when the pattern matches anywhere in `text` (anchors in the pattern still apply).
    @inline(__always)
    public func matches(_ text: String) -> Bool {
        dfa.matches(text)
    }

    /// The `Regex` path, always (differential tests).
    public func matchesWithRegex(_ text: String) -> Bool {
        (try? regex.firstMatch(in: text)) != nil
    }
}
