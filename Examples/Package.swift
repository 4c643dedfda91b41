// swift-tools-version: 6.1
// Examples live in their own package so that `swift build` of Tailor never builds them.
// Run from this folder, e.g.: swift run -c release api-tour
import PackageDescription

let package = Package(
    name: "TailorExamples",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "Tailor", path: ".."),
    ],
    targets: [
        .target(name: "DefaultModelSupport", dependencies: [.product(name: "Tailor", package: "Tailor")]),
        .executableTarget(name: "make-default-model", dependencies: ["DefaultModelSupport", .product(name: "Tailor", package: "Tailor")]),
        .executableTarget(name: "tune-default", dependencies: ["DefaultModelSupport", .product(name: "Tailor", package: "Tailor")]),
        .executableTarget(name: "make-datasets", dependencies: [.product(name: "Tailor", package: "Tailor")]),
        .executableTarget(name: "encode-lines", dependencies: [.product(name: "Tailor", package: "Tailor")]),
        .executableTarget(name: "api-tour", dependencies: [.product(name: "Tailor", package: "Tailor")]),
    ]
)
