// swift-tools-version: 6.1
import PackageDescription

// libFuzzer targets for Tailor's parsers of untrusted files. Not built by CI or by the root
// package: build and run them with `Fuzz/run.sh` (which passes `-sanitize=fuzzer,address`).
//
// One executable per target; each hands libFuzzer (`runFuzzer`, over `LLVMFuzzerRunDriver`) a
// callback that feeds the bytes to one reader. Every thrown error is an accepted outcome; a crash, a sanitizer report, a timeout or an
// allocation above libFuzzer's `-rss_limit_mb`/`-malloc_limit_mb` is a finding.
// gold crashes on the sanitizer runtime's debug info; lld links these.
let lld: [LinkerSetting] = [.unsafeFlags(["-use-ld=lld"])]

let package = Package(
    name: "TailorFuzz",
    dependencies: [.package(name: "Tailor", path: "..")],
    targets: [
        .target(name: "FuzzDriver"),
        .target(name: "FuzzSupport", dependencies: ["FuzzDriver"]),
        .executableTarget(name: "FuzzSafetensors", dependencies: ["FuzzSupport", .product(name: "Tailor", package: "Tailor")],
                          linkerSettings: lld),
        .executableTarget(name: "FuzzTokenizer", dependencies: ["FuzzSupport", .product(name: "Tailor", package: "Tailor")],
                          linkerSettings: lld),
        .executableTarget(name: "FuzzJSONL", dependencies: ["FuzzSupport", .product(name: "Tailor", package: "Tailor")],
                          linkerSettings: lld),
        .executableTarget(name: "FuzzGGUF", dependencies: ["FuzzSupport", .product(name: "Tailor", package: "Tailor")],
                          linkerSettings: lld),
        .executableTarget(name: "FuzzTemplate", dependencies: ["FuzzSupport", .product(name: "Tailor", package: "Tailor")],
                          linkerSettings: lld),
    ],
    // The callbacks read main.swift's globals from libFuzzer's (single) thread.
    swiftLanguageModes: [.v5]
)
