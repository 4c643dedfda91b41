import Foundation
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

/// Seeded values for tests.
public struct TestRandom {
    private var state: UInt64
    public init(seed: UInt64) { state = seed &+ 0x1234_5678 }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
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
