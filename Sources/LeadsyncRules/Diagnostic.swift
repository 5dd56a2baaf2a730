import Yams

/// One problem found in a rules file: a value with a code, a message and a source location.
public struct Diagnostic: Sendable, Equatable, Comparable {
    public enum Severity: String, Sendable {
        case error
        case warning
        /// How the file will be run, worth knowing but not a problem (`check` shows notes; the
        /// commands that only load the file do not).
        case note
    }

    /// Stable identifiers, documented in docs/rules.md; tests assert on them.
    public enum Code: String, Sendable {
        case yamlSyntax = "yaml-syntax"
        case duplicateKey = "duplicate-key"
        case aliasExpansion = "alias-expansion"
        case fileTooLarge = "file-too-large"
        case unreadable = "unreadable"
        case unknownKey = "unknown-key"
        case unknownOperator = "unknown-operator"
        case unknownField = "unknown-field"
        case wrongType = "wrong-type"
        case missingKey = "missing-key"
        case badValue = "bad-value"
        case unsupportedVersion = "unsupported-version"
        case duplicateName = "duplicate-name"
        case badName = "bad-name"
        case unknownBucket = "unknown-bucket"
        case unknownExclusion = "unknown-exclusion"
        case unknownRule = "unknown-rule"
        case badRegex = "bad-regex"
        case badTemplate = "bad-template"
        case unknownFilter = "unknown-filter"
        case badDuration = "bad-duration"
        case typeMismatch = "type-mismatch"
        case badTest = "bad-test"
        case unreachableRule = "unreachable-rule"
        case unusedBucket = "unused-bucket"
        case incompleteSource = "incomplete-source"
        case doNotCall = "do-not-call"
        // `check --online`: the rules against the accounts.
        case accountBucket = "account-bucket"
        case accountTag = "account-tag"
        case accountField = "account-field"
        case accountCustomField = "account-custom-field"
        case tagNotCarried = "tag-not-carried"
    }

    public var severity: Severity
    public var code: Code
    public var message: String
    public var file: String
    public var line: Int
    public var column: Int

    public init(_ severity: Severity, _ code: Code, _ message: String, file: String, line: Int, column: Int) {
        self.severity = severity
        self.code = code
        self.message = message
        self.file = file
        self.line = line
        self.column = column
    }

    public static func < (a: Diagnostic, b: Diagnostic) -> Bool {
        (a.file, a.line, a.column, a.message) < (b.file, b.line, b.column, b.message)
    }

    /// `path:line:col: error: message`
    public var headline: String { "\(file):\(line):\(column): \(severity.rawValue): \(message)" }

    /// The headline, the source line and a caret under the column.
    public func rendered(sourceLines: [Substring]) -> String {
        guard line >= 1, line <= sourceLines.count else { return headline }
        let text = String(sourceLines[line - 1])
        // Columns count Unicode scalars (libyaml's convention); pad with the same tabs as the
        // source so the caret lines up.
        let prefix = text.unicodeScalars.prefix(max(0, column - 1))
        let padding = String(prefix.map { $0 == "\t" ? "\t" : " " })
        return "\(headline)\n\(text)\n\(padding)^"
    }
}

extension Array where Element == Diagnostic {
    public var hasErrors: Bool { contains { $0.severity == .error } }
    public var errorCount: Int { count { $0.severity == .error } }
    public var warningCount: Int { count { $0.severity == .warning } }
    public var noteCount: Int { count { $0.severity == .note } }
}

/// A 1-based line and column (Unicode scalars), as libyaml reports them.
struct SourceLocation {
    var line: Int
    var column: Int

    init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    init(_ node: Node) {
        let mark = node.mark
        self.init(line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    init(_ mark: Mark) { self.init(line: mark.line, column: mark.column) }
}
