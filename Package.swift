// swift-tools-version:6.0
import PackageDescription

// Module boundaries (see docs/architecture.md):
//   LeadsyncCore  pure: JSON, Contact, phone/time helpers, compiled rules, Engine, Decision. No deps.
//   LeadsyncRules pure: YAML -> CompiledRules with compiler-style diagnostics, rule tests. Yams only.
//   LeadsyncSync  pure: the planner (decision - applied state -> the fewest calls).
//   LeadsyncStore the SQLite file (GRDB): applied state, intents, marks, ids, audit, sync runs.
//   LeadsyncCLI   the imperative shell for check / test / dry-run (files, stdin, stdout).
//   leadsync      the executable: argument parsing only.
let package = Package(
    name: "leadsync",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "leadsync", targets: ["leadsync"]),
        .executable(name: "leadsync-bench", targets: ["leadsync-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
    ],
    targets: [
        .target(name: "LeadsyncCore"),
        .target(name: "LeadsyncRules", dependencies: ["LeadsyncCore", "Yams"]),
        .target(name: "LeadsyncSync", dependencies: ["LeadsyncCore"]),
        .target(
            name: "LeadsyncStore",
            dependencies: ["LeadsyncCore", "LeadsyncSync", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .target(name: "LeadsyncCLI", dependencies: ["LeadsyncCore", "LeadsyncRules"]),
        .executableTarget(
            name: "leadsync",
            dependencies: ["LeadsyncCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(name: "leadsync-bench", dependencies: ["LeadsyncCore", "LeadsyncRules", "LeadsyncCLI"]),
        .testTarget(name: "LeadsyncCoreTests", dependencies: ["LeadsyncCore"]),
        .testTarget(name: "LeadsyncRulesTests", dependencies: ["LeadsyncRules", "LeadsyncCore"]),
        .testTarget(name: "LeadsyncCLITests", dependencies: ["LeadsyncCLI", "LeadsyncRules", "LeadsyncCore"]),
        .testTarget(name: "LeadsyncSyncTests", dependencies: ["LeadsyncSync", "LeadsyncRules", "LeadsyncCore"]),
        .testTarget(name: "LeadsyncStoreTests", dependencies: ["LeadsyncStore", "LeadsyncSync", "LeadsyncCore"]),
    ]
)
