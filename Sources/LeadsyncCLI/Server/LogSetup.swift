import Foundation
import LeadsyncCore
import LeadsyncValues
import Logging
import Synchronization

/// Log output for the long-running commands (`serve`, `demo`): JSON lines or text, on stderr.
/// Only the executable bootstraps logging (swift-log's rule); libraries take a `Logger`.
public enum LogSetup {
    public enum Format: String, Sendable, CaseIterable {
        case json, text
    }

    /// Installs the handler once per process.
    public static func bootstrap(format: Format, level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            switch format {
            case .json:
                var h = JSONLogHandler(label: label)
                h.logLevel = level
                return h
            case .text:
                var h = StreamLogHandler.standardError(label: label)
                h.logLevel = level
                return h
            }
        }
    }
}

/// One JSON object per line: `ts`, `level`, `logger`, `msg`, then metadata (the request id as
/// `request_id`). Secrets never reach here: nothing logs headers, tokens or keys.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String
    let write: @Sendable (String) -> Void
    static let lock = Mutex(())

    /// `write` receives each line (with its newline); standard error by default.
    public init(label: String, write: @escaping @Sendable (String) -> Void = JSONLogHandler.standardError) {
        self.label = label
        self.write = write
    }

    public static let standardError: @Sendable (String) -> Void = { line in
        lock.withLock { _ in FileHandle.standardError.write(Data(line.utf8)) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var o = JSONObject()
        o["ts"] = .string(Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000)).iso8601)
        o["level"] = .string(event.level.rawValue)
        o["logger"] = .string(label)
        o["msg"] = .string(event.message.description)
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let named = merged.map { (key: $0.key == "hb.request.id" ? "request_id" : $0.key, value: $0.value) }
        for (k, v) in named.sorted(by: { $0.key < $1.key }) { o[k] = Self.json(v) }
        write(JSONWriter.encode(.object(o)) + "\n")
    }

    static func json(_ v: Logger.MetadataValue) -> JSON {
        switch v {
        case .string(let s): return .string(s)
        case .stringConvertible(let c): return .string(c.description)
        case .array(let a): return .array(a.map(json))
        case .dictionary(let d):
            return .object(JSONObject(d.sorted { $0.key < $1.key }.map { .init(key: $0.key, value: json($0.value)) }))
        }
    }
}
