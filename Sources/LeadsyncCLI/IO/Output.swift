#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a command writes. The executable passes stdout and stderr; tests pass buffers.
public protocol OutputSink: AnyObject {
    func write(bytes: UnsafeBufferPointer<UInt8>)
    func flush()
}

extension OutputSink {
    public func write(_ text: String) {
        var text = text
        text.withUTF8 { write(bytes: $0) }
    }

    public func line(_ text: String) { write(text + "\n") }

    public func write(_ bytes: [UInt8]) { bytes.withUnsafeBufferPointer { write(bytes: $0) } }
}

/// A buffered file descriptor (stdout, stderr). Buffers 256 KiB so dry-run over large inputs
/// makes few system calls.
public final class FileDescriptorOutput: OutputSink {
    let fd: Int32
    var buffer: [UInt8] = []
    let capacity: Int

    public init(fd: Int32, capacity: Int = 256 << 10) {
        self.fd = fd
        self.capacity = capacity
        buffer.reserveCapacity(capacity)
    }

    // Process-wide streams, used from the main thread of a command only.
    nonisolated(unsafe) public static let stdout = FileDescriptorOutput(fd: 1)
    nonisolated(unsafe) public static let stderr = FileDescriptorOutput(fd: 2, capacity: 0)

    public func write(bytes: UnsafeBufferPointer<UInt8>) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= capacity { flush() }
    }

    public func flush() {
        var offset = 0
        buffer.withUnsafeBufferPointer { p in
            while offset < p.count {
                // cannot trap: inside the loop p.count > 0, so the buffer has a base address
                let n = Glibc.write(fd, p.baseAddress! + offset, p.count - offset)
                if n <= 0 {
                    if n < 0 && errno == EINTR { continue }
                    break  // EPIPE and the like: the reader went away; drop output.
                }
                offset += n
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    deinit { flush() }
}

/// Collects output in memory (tests).
public final class BufferOutput: OutputSink {
    public private(set) var bytes: [UInt8] = []
    public init() {}
    public func write(bytes: UnsafeBufferPointer<UInt8>) { self.bytes.append(contentsOf: bytes) }
    public func flush() {}
    public var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// The standard streams a command uses.
public struct Console {
    public var out: OutputSink
    public var err: OutputSink
    public init(out: OutputSink, err: OutputSink) {
        self.out = out
        self.err = err
    }
    public static var standard: Console { Console(out: FileDescriptorOutput.stdout, err: FileDescriptorOutput.stderr) }
}
