import LeadsyncValues

/// Reading dry-run input: a JSON array, one or more JSON documents, or JSON Lines streamed in
/// chunks (memory stays flat whatever the file size).
extension DryRunCommand {
    mutating func process(_ input: FileInput) async throws(CLIError) {
        var buffer: [UInt8] = []
        // Find the first significant byte to pick the mode.
        var start = 0
        while true {
            if start == buffer.count, try input.read(into: &buffer, count: options.chunkSize) == 0 { return }
            while start < buffer.count, isSpace(buffer[start]) { start += 1 }
            if start < buffer.count { break }
        }
        if buffer[start] == UInt8(ascii: "[") {
            while try input.read(into: &buffer, count: options.chunkSize) > 0 {}
            await processDocument(buffer, name: input.name, arrayMode: true)
            return
        }
        // JSON Lines, streamed. If the first record does not end on its line, the input is one
        // pretty-printed document (or several): read it whole instead.
        var lineNumber = 0
        var lineStart = 0
        var eof = false
        while true {
            guard let newline = findNewline(buffer, from: lineStart) else {
                if eof {
                    if lineStart < buffer.count {
                        lineNumber += 1
                        if await !handleLine(buffer, lineStart, buffer.count, lineNumber, input.name) { return }
                    }
                    return
                }
                buffer.removeSubrange(0..<lineStart)
                lineStart = 0
                if try input.read(into: &buffer, count: options.chunkSize) == 0 { eof = true }
                continue
            }
            lineNumber += 1
            if lineNumber == 1 && !lineIsComplete(buffer, lineStart, newline) {
                while try input.read(into: &buffer, count: options.chunkSize) > 0 {}
                await processDocument(Array(buffer[lineStart...]), name: input.name, arrayMode: false)
                return
            }
            if await !handleLine(buffer, lineStart, newline, lineNumber, input.name) { return }
            lineStart = newline + 1
        }
    }

    @inline(__always) func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }

    func findNewline(_ buffer: [UInt8], from: Int) -> Int? {
        buffer.withUnsafeBufferPointer { p in
            guard from < p.count, let base = p.baseAddress else { return nil }
            guard let hit = memchr(base + from, 0x0A, p.count - from) else { return nil }
            return base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
        }
    }

    /// A first line that fails only because the value continues on the next line.
    func lineIsComplete(_ buffer: [UInt8], _ start: Int, _ end: Int) -> Bool {
        buffer.withUnsafeBufferPointer { p in
            do {
                _ = try JSONParser.parse(UnsafeBufferPointer(rebasing: p[start..<end]))
                return true
            } catch let error as JSONParser.Error {
                return error.offset < end - start
            } catch {
                return true
            }
        }
    }

    /// Returns false to stop (never: errors are reported per line).
    mutating func handleLine(_ buffer: [UInt8], _ start: Int, _ end: Int, _ line: Int, _ name: String) async -> Bool {
        var s = start, e = end
        while s < e, isSpace(buffer[s]) { s += 1 }
        while e > s, isSpace(buffer[e - 1]) { e -= 1 }
        if s == e { return true }
        let parsed: Result<JSON, JSONParser.Error> = buffer.withUnsafeBufferPointer { p in
            Result { () throws(JSONParser.Error) -> JSON in
                try JSONParser.parse(UnsafeBufferPointer(rebasing: p[s..<e]))
            }
        }
        switch parsed {
        case .success(let json): await evaluate(json, location: .line(line), name: name)
        case .failure(let error):
            report(
                error: "invalid JSON at column \(error.offset + 1 + (s - start)): \(error.message)",
                location: .line(line),
                name: name)
        }
        return true
    }

    indirect enum Location {
        case line(Int)
        case index(Int)
        case document
        /// Item `Int` of a `{"contacts": [...]}` list found at a location.
        case item(Location, Int)

        func item(_ i: Int) -> Location {
            if case .document = self { return .index(i) }
            return .item(self, i)
        }
    }

    mutating func processDocument(_ bytes: [UInt8], name: String, arrayMode: Bool) async {
        // One or more concatenated values, or an array whose elements are items.
        var values: [JSON] = []
        var failure: JSONParser.Error?
        var failureOffset = 0
        bytes.withUnsafeBufferPointer { p in
            var offset = 0
            while offset < p.count {
                while offset < p.count, isSpace(p[offset]) { offset += 1 }
                if offset == p.count { break }
                do {
                    let (value, used) = try JSONParser.parsePrefix(UnsafeBufferPointer(rebasing: p[offset...]))
                    values.append(value)
                    offset += used
                } catch let error as JSONParser.Error {
                    failure = error
                    failureOffset = offset + error.offset
                    break
                } catch {
                    break
                }
            }
        }
        if arrayMode, values.count == 1, case .array(let items) = values[0] {
            for (i, item) in items.enumerated() { await evaluate(item, location: .index(i), name: name) }
        } else {
            for v in values { await evaluate(v, location: .document, name: name) }
        }
        if let failure {
            let (line, column) = lineAndColumn(bytes, failureOffset)
            report(
                error: "invalid JSON at line \(line), column \(column): \(failure.message)", location: .document,
                name: name)
        }
    }

    func lineAndColumn(_ bytes: [UInt8], _ offset: Int) -> (Int, Int) {
        var line = 1, column = 1
        for b in bytes.prefix(offset) {
            if b == 0x0A {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return (line, column)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
