// swift-tools-version: 6.1
// Benchmarks live in their own package so that `swift test` never builds or runs them.
// Run: cd Benchmarks && swift run -c release tailor-bench --help
import PackageDescription

let package = Package(
    name: "TailorBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "Tailor", path: ".."),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .executableTarget(
            name: "tailor-bench",
            dependencies: [
                .product(name: "Tailor", package: "Tailor"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "tokenizer-bench",
            dependencies: [
                .product(name: "Tailor", package: "Tailor"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
    ]
)
