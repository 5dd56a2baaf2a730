// swift-tools-version: 6.0
// libFuzzer targets for leadsync's input parsers (issue: hostile input never crashes). Built
// apart from the main package, with the fuzzer and address sanitizer on every target:
//   scripts/fuzz.sh [SECONDS] [TARGET...]
import PackageDescription

let targets = ["FuzzJSON", "FuzzRules", "FuzzPayload", "FuzzEngine", "FuzzIntake", "FuzzPhone", "FuzzTemplate"]

let package = Package(
    name: "leadsync-fuzz",
    products: targets.map { .executable(name: $0, targets: [$0]) },
    dependencies: [.package(name: "leadsync", path: "..")],
    targets: targets.map { name in
        .executableTarget(
            name: name,
            dependencies: [
                .product(name: "LeadsyncValues", package: "leadsync"),
                .product(name: "LeadsyncCore", package: "leadsync"),
                .product(name: "LeadsyncRules", package: "leadsync"),
                .product(name: "LeadsyncIntake", package: "leadsync"),
            ])
    }
)
