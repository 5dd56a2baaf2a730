#if canImport(Glibc)
import CDispatch  // where Linux Swift finds `struct stat` members (MemberImportVisibility)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A user-facing failure with a one-line message (`leadsync: <message>`, non-zero exit).
public struct CLIError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Reads files and stdin with POSIX calls, in chunks, so large JSON Lines inputs stream.
public final class FileInput {
    let fd: Int32
    let ownsDescriptor: Bool
    public let name: String

    /// Opens `path`; `-` is standard input.
    public init(path: String) throws(CLIError) {
        if path == "-" {
            fd = 0
            ownsDescriptor = false
            name = "<stdin>"
            return
        }
        let d = open(path, O_RDONLY)
        guard d >= 0 else { throw CLIError("cannot read '\(path)': \(String(cString: strerror(errno)))") }
        var st = stat()
        if fstat(d, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            close(d)
            throw CLIError("cannot read '\(path)': it is a directory")
        }
        fd = d
        ownsDescriptor = true
        name = path
    }

    deinit { if ownsDescriptor { close(fd) } }

    /// Reused between reads so each call costs one `read(2)` and one copy.
    private var scratch: [UInt8] = []

    /// Appends up to `count` bytes to `buffer`; returns how many were read (0 at end of file).
    public func read(into buffer: inout [UInt8], count: Int = 1 << 20) throws(CLIError) -> Int {
        guard count > 0 else { return 0 }
        if scratch.count < count { scratch = [UInt8](repeating: 0, count: count) }
        var n = 0
        var failure: Int32 = 0
        scratch.withUnsafeMutableBytes { p in
            while true {
                n = Glibc.read(fd, p.baseAddress!, count)  // cannot trap: scratch holds count > 0 bytes
                if n < 0 && errno == EINTR { continue }
                if n < 0 { failure = errno }
                break
            }
        }
        if failure != 0 { throw CLIError("cannot read '\(name)': \(String(cString: strerror(failure)))") }
        if n > 0 { buffer.append(contentsOf: scratch[0..<n]) }
        return n
    }

    /// The whole input.
    public func readAll() throws(CLIError) -> [UInt8] {
        var bytes: [UInt8] = []
        while try read(into: &bytes) > 0 {}
        return bytes
    }

    public static func readText(_ path: String) throws(CLIError) -> String {
        let bytes = try FileInput(path: path).readAll()
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }
}

/// Path helpers without Foundation.
enum Paths {
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func resolve(_ path: String, relativeTo file: String) -> String {
        path.hasPrefix("/") ? path : directory(of: file) + "/" + path
    }

    /// `rules/cold-leads.yaml` → `rules/cold-leads.tests.yaml`
}
