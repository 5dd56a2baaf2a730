import Yams

/// A YAML file composed into nodes with positions, or the diagnostics that stopped it.
///
/// Two things libyaml/Yams do not give us directly are handled here:
/// - Duplicate keys make Yams stop with one error. To still report every other problem in the
///   same run, the duplicate is located, reported, and renamed out of the way before composing
///   again (`YAMLDocument.duplicateMarker` keys are skipped by the compiler).
/// - Aliases are shared, not copied, when composed; but walking an alias-heavy file ("billion
///   laughs") would take forever. `nodeBudget` bounds the walk: a file that expands past it is
///   refused before the compiler looks at it.
struct YAMLDocument {
    static let maxBytes = 4 << 20
    static let nodeBudget = 100_000
    static let duplicateMarker = "__leadsync_duplicate_key__"

    var root: Node?
    var diagnostics: [Diagnostic] = []
    /// The text that was finally composed (with duplicate keys renamed).
    var text: String

    init(text: String, file: String) {
        self.text = text
        guard text.utf8.count <= YAMLDocument.maxBytes else {
            diagnostics.append(
                Diagnostic(
                    .error, .fileTooLarge,
                    "file is larger than \(YAMLDocument.maxBytes >> 20) MiB; refusing to parse it",
                    file: file, line: 1, column: 1))
            return
        }
        var attempts = 0
        while true {
            attempts += 1
            do {
                root = try Yams.compose(yaml: self.text)
                break
            } catch let YamlError.duplicatedKeysInMapping(duplicates, context) {
                let key = duplicates.first ?? ""
                let location = YAMLDocument.secondOccurrence(of: key, after: context.mark, in: self.text)
                let (line, column) = location.map { ($0.line, $0.column) } ?? (context.mark.line, context.mark.column)
                diagnostics.append(
                    Diagnostic(
                        .error, .duplicateKey, "duplicate key '\(key)' (first at line \(context.mark.line))",
                        file: file, line: line, column: column))
                guard let location, attempts < 50 else { return }
                self.text = YAMLDocument.rename(
                    in: self.text, line: location.line, column: location.column, length: location.length)
            } catch let error as YamlError {
                diagnostics.append(YAMLDocument.diagnostic(for: error, file: file))
                return
            } catch {
                diagnostics.append(Diagnostic(.error, .yamlSyntax, "\(error)", file: file, line: 1, column: 1))
                return
            }
        }
        if let root {
            var budget = YAMLDocument.nodeBudget
            if let mark = YAMLDocument.exceedsBudget(root, &budget) {
                diagnostics.append(
                    Diagnostic(
                        .error, .aliasExpansion,
                        "anchors and aliases expand this file past \(YAMLDocument.nodeBudget) nodes; refusing it",
                        file: file, line: mark.line, column: mark.column))
                self.root = nil
            }
        }
    }

    /// Walks at most `budget` nodes; returns the mark where the budget ran out.
    static func exceedsBudget(_ node: Node, _ budget: inout Int) -> SourceLocation? {
        budget -= 1
        if budget < 0 { return SourceLocation(node) }
        switch node {
        case .scalar, .alias: return nil
        case .sequence(let seq):
            for child in seq {
                if let m = exceedsBudget(child, &budget) { return m }
            }
        case .mapping(let map):
            for (k, v) in map {
                if let m = exceedsBudget(k, &budget) { return m }
                if let m = exceedsBudget(v, &budget) { return m }
            }
        }
        return nil
    }

    static func diagnostic(for error: YamlError, file: String) -> Diagnostic {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            var message = "YAML: \(problem)"
            if let context { message += " (\(context.text) at line \(context.mark.line))" }
            return Diagnostic(.error, .yamlSyntax, message, file: file, line: mark.line, column: mark.column)
        case .reader(let problem, _, _, _):
            return Diagnostic(.error, .yamlSyntax, "YAML: \(problem)", file: file, line: 1, column: 1)
        default:
            return Diagnostic(.error, .yamlSyntax, "YAML: \(error)", file: file, line: 1, column: 1)
        }
    }

    /// Finds where `key` is written again after its first occurrence: in block style, the next
    /// line at the same indentation before the mapping ends; in flow style, the next `key:` on
    /// the same line.
    static func secondOccurrence(
        of key: String, after mark: Mark, in text: String
    ) -> (line: Int, column: Int, length: Int)? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard mark.line >= 1, mark.line <= lines.count else { return nil }
        let spellings = [key, "\"\(key)\"", "'\(key)'"]
        func keyAt(_ line: Substring, column: Int) -> Int? {
            let chars = Array(line.unicodeScalars)
            guard column - 1 <= chars.count else { return nil }
            let rest = String(String.UnicodeScalarView(chars[(column - 1)...]))
            for s in spellings where rest.hasPrefix(s) {
                let after = rest.dropFirst(s.count).drop { $0 == " " }
                if after.hasPrefix(":") { return s.unicodeScalars.count }
            }
            return nil
        }
        let firstLine = lines[mark.line - 1]
        // Flow style on the same line.
        let scalars = Array(firstLine.unicodeScalars)
        var c = mark.column + key.unicodeScalars.count
        while c <= scalars.count {
            if scalars[c - 1] == "," || scalars[c - 1] == "{" || scalars[c - 1] == " " {
                if let length = keyAt(firstLine, column: c + 1) { return (mark.line, c + 1, length) }
            }
            c += 1
        }
        // Block style: same column, later line, before a line indented less.
        for l in mark.line..<lines.count {
            let line = lines[l]
            let indent = line.unicodeScalars.prefix { $0 == " " }.count
            let trimmed = line.drop { $0 == " " }
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            if indent + 1 < mark.column { break }
            if indent + 1 == mark.column, let length = keyAt(line, column: mark.column) {
                return (l + 1, mark.column, length)
            }
        }
        return nil
    }

    static func rename(in text: String, line: Int, column: Int, length: Int) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var scalars = Array(lines[line - 1].unicodeScalars)
        let marker = "\"\(duplicateMarker)\(line):\(column)\"".unicodeScalars
        scalars.replaceSubrange((column - 1)..<(column - 1 + length), with: marker)
        lines[line - 1] = String(String.UnicodeScalarView(scalars))
        return lines.joined(separator: "\n")
    }
}
