import Foundation
import LeadsyncStore
import LeadsyncSync
import LeadsyncValues
import Testing

/// `--location` with a locations file: the real binary sees only the chosen location's rows,
/// and says in one line what is missing.
@Suite struct LocationCommandTests {
    static var binary: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path + "/leadsync"
    }

    func exec(_ args: [String], env: [String: String] = [:]) throws -> (code: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = args
        var environment = ProcessInfo.processInfo.environment
        environment["LEADSYNC_CONFIG"] = nil
        for (k, v) in env { environment[k] = v }
        p.environment = environment
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    @Test func statsOfOneLocation() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build with: swift build --build-tests")
        let dir = NSTemporaryDirectory() + "leadsync-loccli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let yaml = """
            locations:
              - id: east
                rules: r.yaml
                ghl: { token_env: T1 }
                calltools: { key_env: K1 }
              - id: west
                rules: r.yaml
                ghl: { token_env: T2 }
                calltools: { key_env: K2 }
            """
        try yaml.write(toFile: dir + "/leadsync.yaml", atomically: true, encoding: .utf8)
        let env = ["T1": "t1", "T2": "t2", "K1": "k1", "K2": "k2"]
        let db = dir + "/d.sqlite"
        let t0 = Timestamp(iso8601: "2026-12-01T12:00:00Z")!
        do {
            let file = try LeadsyncDatabase.open(path: db)
            defer { file.close() }
            for (location, n) in [("east", 3), ("west", 1)] {
                let scoped = file.scoped(location: location, account: location)
                for i in 0..<n {
                    try scoped.recordOutcome(
                        "\(location)-\(i)", state: AppliedState(calltoolsId: i + 1, fields: [:], buckets: [7]),
                        audit: [], completing: [], at: t0)
                }
            }
        }
        let east = try exec(
            ["stats", "--json", "--config", dir + "/leadsync.yaml", "--location", "east", "--db", db], env: env)
        #expect(east.code == 0)
        #expect(east.out.contains(#""contacts":3"#))
        let west = try exec(
            ["stats", "--json", "--location", "west", "--db", db],
            env: env.merging(["LEADSYNC_CONFIG": dir + "/leadsync.yaml"]) { a, _ in a })
        #expect(west.code == 0)
        #expect(west.out.contains(#""contacts":1"#))
        let which = try exec(["stats", "--config", dir + "/leadsync.yaml", "--db", db], env: env)
        #expect(which.code == 64)
        #expect(which.err.contains("configures 2 locations; say which with --location (one of: east, west)"))
        let unset = try exec(["stats", "--config", dir + "/leadsync.yaml", "--location", "east", "--db", db])
        #expect(unset.code == 64)
        #expect(unset.err.contains("the variable T1 (the GHL Private Integration token) is not set"))
        let noFile = try exec(["stats", "--location", "east", "--db", db])
        #expect(noFile.code == 64)
        #expect(noFile.err.contains("--location needs a locations file"))
        // Without a file, the single-location view: rows of no location (none here).
        let plain = try exec(["stats", "--json", "--db", db])
        #expect(plain.out.contains(#""contacts":0"#))
    }
}
