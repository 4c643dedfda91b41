import Foundation
import TailorData
import TailorModels
import TailorTensor

/// `Tests/Fixtures` in this repository, found from this file's path (no bundle resources).
public let fixturesRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures")

/// A path under `Tests/Fixtures`.
public func fixture(_ path: String) -> URL { fixturesRoot.appendingPathComponent(path) }

/// A fresh empty temporary folder, removed by the caller when done.
public func temporaryFolder(_ label: String = "tailor-test") -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Seeded values for tests (the library's SplitMix64 generator with a test offset).
public struct TestRandom {
    private var generator: SeededGenerator
    public init(seed: UInt64) { generator = SeededGenerator(seed: seed &+ 0x1234_5678) }
    public mutating func next() -> UInt64 { generator.next() }
    /// Uniform in [lo, hi).
    public mutating func uniform(_ lo: Float = -1, _ hi: Float = 1) -> Float {
        lo + (hi - lo) * Float(next() >> 40) / Float(1 << 24)
    }
    public mutating func tensor(_ shape: [Int], _ lo: Float = -1, _ hi: Float = 1) -> Tensor {
        let n = Tensor.elementCount(shape)
        return Tensor(shape: shape, values: (0..<n).map { _ in uniform(lo, hi) })
    }
    public mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}
