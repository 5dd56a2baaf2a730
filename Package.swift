// swift-tools-version:6.0
import PackageDescription

// Module boundaries (see docs/architecture.md):
//   LeadsyncCore  pure: JSON, Contact, phone/time helpers, compiled rules, Engine, Decision. No deps.
//   LeadsyncRules pure: YAML -> CompiledRules with compiler-style diagnostics, rule tests. Yams only.
//   LeadsyncSync  pure: the planner (decision - applied state -> the fewest calls).
//   LeadsyncStore the SQLite file (GRDB): applied state, intents, marks, ids, audit, sync runs.
//   LeadsyncUpstream  GHL and CallTools clients (AsyncHTTPClient), pacing and retries.
//   LeadsyncSandbox   in-process emulators of both APIs (Hummingbird), with fault injection.
//   LeadsyncRuntime   the executor (planner + store + clients) and the sync pass.
//   LeadsyncWebhooks  webhook signature verification (swift-crypto) and constant-time secrets.
//   LeadsyncServer    `serve`: Hummingbird routes, durable inbox intake, workers, reconcile schedule,
//                     hot reload, metrics; the sandbox's webhook emitter.
//   LeadsyncCLI   the imperative shell for check / test / dry-run (files, stdin, stdout).
//   leadsync      the executable: argument parsing only.
let package = Package(
    name: "leadsync",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "leadsync", targets: ["leadsync"]),
        .executable(name: "leadsync-bench", targets: ["leadsync-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        .target(name: "LeadsyncCore"),
        .target(name: "LeadsyncRules", dependencies: ["LeadsyncCore", "Yams"]),
        .target(name: "LeadsyncSync", dependencies: ["LeadsyncCore"]),
        .target(
            name: "LeadsyncStore",
            dependencies: ["LeadsyncCore", "LeadsyncSync", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .target(
            name: "LeadsyncUpstream",
            dependencies: ["LeadsyncCore", .product(name: "AsyncHTTPClient", package: "async-http-client")]
        ),
        .target(
            name: "LeadsyncSandbox",
            dependencies: [
                "LeadsyncCore", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        .target(
            name: "LeadsyncWebhooks",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "LeadsyncRuntime",
            dependencies: ["LeadsyncCore", "LeadsyncSync", "LeadsyncStore", "LeadsyncUpstream"]
        ),
        .target(
            name: "LeadsyncServer",
            dependencies: [
                "LeadsyncCore", "LeadsyncRules", "LeadsyncRuntime", "LeadsyncStore", "LeadsyncUpstream",
                "LeadsyncWebhooks", "LeadsyncSandbox",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .target(
            name: "LeadsyncCLI",
            dependencies: [
                "LeadsyncCore", "LeadsyncRules", "LeadsyncRuntime", "LeadsyncStore", "LeadsyncUpstream",
                "LeadsyncSandbox", "LeadsyncServer", "LeadsyncWebhooks",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .executableTarget(
            name: "leadsync",
            dependencies: [
                "LeadsyncCLI", "LeadsyncRuntime", "LeadsyncStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "leadsync-bench",
            dependencies: [
                "LeadsyncCore", "LeadsyncRules", "LeadsyncCLI", "LeadsyncServer", "LeadsyncSandbox", "LeadsyncWebhooks",
                "LeadsyncRuntime", "LeadsyncStore", "LeadsyncUpstream",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "LeadsyncCoreTests", dependencies: ["LeadsyncCore"]),
        .testTarget(name: "LeadsyncRulesTests", dependencies: ["LeadsyncRules", "LeadsyncCore"]),
        .testTarget(
            name: "LeadsyncCLITests",
            dependencies: [
                "LeadsyncCLI", "LeadsyncRules", "LeadsyncCore", "LeadsyncSandbox", "LeadsyncStore", "LeadsyncSync",
            ]
        ),
        .testTarget(name: "LeadsyncSyncTests", dependencies: ["LeadsyncSync", "LeadsyncRules", "LeadsyncCore"]),
        .testTarget(name: "LeadsyncStoreTests", dependencies: ["LeadsyncStore", "LeadsyncSync", "LeadsyncCore"]),
        .testTarget(
            name: "LeadsyncRuntimeTests",
            dependencies: [
                "LeadsyncRuntime", "LeadsyncSandbox", "LeadsyncUpstream", "LeadsyncStore", "LeadsyncSync",
                "LeadsyncRules",
                "LeadsyncCore",
            ]
        ),
        .testTarget(
            name: "LeadsyncWebhooksTests",
            dependencies: [
                "LeadsyncWebhooks", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "LeadsyncServerTests",
            dependencies: [
                "LeadsyncServer", "LeadsyncRuntime", "LeadsyncSandbox", "LeadsyncStore", "LeadsyncRules",
                "LeadsyncUpstream", "LeadsyncWebhooks", "LeadsyncCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "LeadsyncUpstreamTests",
            dependencies: ["LeadsyncUpstream", "LeadsyncSandbox", "LeadsyncCore"]
        ),
    ]
)
