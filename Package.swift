// swift-tools-version:6.0
import PackageDescription

// Module boundaries (see docs/architecture.md):
//   LeadsyncValues pure plain values: JSON, Contact, Timestamp, PhoneNumber. No deps.
//   LeadsyncCore  pure: compiled rules, the byte DFA, Engine, Decision. Values only.
//   LeadsyncRules pure: YAML -> CompiledRules with compiler-style diagnostics, rule tests. Yams only.
//   LeadsyncSync  pure: the planner (decision - applied state -> the fewest calls).
//   LeadsyncStore the SQLite file (GRDB): applied state, intents, marks, ids, audit, sync runs.
//   LeadsyncUpstream  GHL and CallTools clients (AsyncHTTPClient), pacing and retries.
//   LeadsyncAuth      GHL OAuth: sealed tokens in the store, refresh, installs (swift-crypto).
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
        // For the fuzz targets (Fuzz/Package.swift), which build apart with libFuzzer.
        .library(name: "LeadsyncValues", targets: ["LeadsyncValues"]),
        .library(name: "LeadsyncCore", targets: ["LeadsyncCore"]),
        .library(name: "LeadsyncRules", targets: ["LeadsyncRules"]),
        .library(name: "LeadsyncIntake", targets: ["LeadsyncIntake"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
    ],
    targets: [
        .target(name: "LeadsyncValues"),
        .target(name: "LeadsyncCore", dependencies: ["LeadsyncValues"]),
        .target(name: "LeadsyncIntake", dependencies: ["LeadsyncValues"]),
        .target(name: "LeadsyncRules", dependencies: ["LeadsyncCore", "LeadsyncValues", "Yams"]),
        .target(name: "LeadsyncSync", dependencies: ["LeadsyncCore", "LeadsyncValues"]),
        .target(
            name: "LeadsyncStore",
            dependencies: [
                "LeadsyncCore", "LeadsyncValues", "LeadsyncSync", .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .target(
            name: "LeadsyncUpstream",
            dependencies: [
                "LeadsyncValues", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .target(
            name: "LeadsyncAuth",
            dependencies: [
                "LeadsyncStore", "LeadsyncUpstream", "LeadsyncValues",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "LeadsyncSandbox",
            dependencies: [
                "LeadsyncValues", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
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
            dependencies: ["LeadsyncCore", "LeadsyncValues", "LeadsyncSync", "LeadsyncStore", "LeadsyncUpstream"]
        ),
        .target(
            name: "LeadsyncServer",
            dependencies: [
                "LeadsyncCore", "LeadsyncValues", "LeadsyncRules", "LeadsyncRuntime", "LeadsyncStore",
                "LeadsyncUpstream", "LeadsyncWebhooks", "LeadsyncIntake", "LeadsyncAuth", "LeadsyncSync",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "NIOCore", package: "swift-nio"),
                "Yams",
            ]
        ),
        .target(
            name: "LeadsyncCLI",
            dependencies: [
                "LeadsyncCore", "LeadsyncValues", "LeadsyncRules", "LeadsyncRuntime", "LeadsyncStore",
                "LeadsyncUpstream", "LeadsyncSandbox", "LeadsyncServer", "LeadsyncWebhooks", "LeadsyncSync",
                "LeadsyncAuth", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .executableTarget(
            name: "leadsync",
            dependencies: [
                "LeadsyncCLI", "LeadsyncCore", "LeadsyncValues", "LeadsyncRuntime", "LeadsyncStore", "LeadsyncServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "leadsync-bench",
            dependencies: [
                "LeadsyncCore", "LeadsyncValues", "LeadsyncRules", "LeadsyncCLI", "LeadsyncServer", "LeadsyncSandbox",
                "LeadsyncWebhooks", "LeadsyncRuntime", "LeadsyncStore", "LeadsyncUpstream", "LeadsyncSync",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // What the suites share: the sandbox, executor and server harnesses, the rules fixtures,
        // and scoped helpers that await their cleanup.
        .target(
            name: "LeadsyncTestSupport",
            dependencies: [
                "LeadsyncValues", "LeadsyncCore", "LeadsyncRules", "LeadsyncStore", "LeadsyncUpstream",
                "LeadsyncSandbox", "LeadsyncRuntime", "LeadsyncServer", "LeadsyncWebhooks", "LeadsyncAuth",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/LeadsyncTestSupport"),
        .testTarget(name: "LeadsyncCoreTests", dependencies: ["LeadsyncCore", "LeadsyncValues"]),
        .testTarget(
            name: "LeadsyncRulesTests",
            dependencies: ["LeadsyncRules", "LeadsyncCore", "LeadsyncValues", "LeadsyncTestSupport"]),
        .testTarget(
            name: "LeadsyncCLITests",
            dependencies: [
                "LeadsyncTestSupport",
                "LeadsyncCLI", "LeadsyncRules", "LeadsyncCore", "LeadsyncValues", "LeadsyncSandbox", "LeadsyncStore",
                "LeadsyncSync", "LeadsyncAuth", "LeadsyncUpstream", "LeadsyncRuntime",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "LeadsyncSyncTests",
            dependencies: ["LeadsyncSync", "LeadsyncRules", "LeadsyncCore", "LeadsyncValues"]),
        .testTarget(
            name: "LeadsyncStoreTests",
            dependencies: [
                "LeadsyncStore", "LeadsyncSync", "LeadsyncCore", "LeadsyncValues",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .testTarget(
            name: "LeadsyncRuntimeTests",
            dependencies: [
                "LeadsyncTestSupport",
                "LeadsyncRuntime", "LeadsyncSandbox", "LeadsyncUpstream", "LeadsyncStore", "LeadsyncSync",
                "LeadsyncRules", "LeadsyncCore", "LeadsyncValues",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
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
                "LeadsyncIntake", "LeadsyncAuth", "LeadsyncRules",
                "LeadsyncTestSupport",
                "LeadsyncServer", "LeadsyncSandbox", "LeadsyncStore",
                "LeadsyncUpstream", "LeadsyncWebhooks", "LeadsyncCore", "LeadsyncValues", "LeadsyncSync",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "LeadsyncUpstreamTests",
            dependencies: [
                "LeadsyncTestSupport",
                "LeadsyncUpstream", "LeadsyncSandbox", "LeadsyncValues",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
    ]
)

// Every target names what it imports: a module reached only through another's dependencies does
// not count (scripts/check-imports.sh checks the layering on top).
for target in package.targets {
    target.swiftSettings = (target.swiftSettings ?? []) + [.enableUpcomingFeature("MemberImportVisibility")]
}
