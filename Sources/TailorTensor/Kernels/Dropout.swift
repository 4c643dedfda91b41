/// Inverted dropout whose mask is a pure function of (seed, element index), so a recomputed
/// forward (gradient checkpointing) draws the same mask without storing it.
public enum Dropout {
    /// out[i] = keep(i) ? x[i] / (1 − p) : 0, over `count` elements.
    public static func apply(
        _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int, p: Float, seed: UInt64
    ) {
        let scale = 1 / (1 - p)
        let threshold = UInt64(Double(p) * Double(1 << 53))
        Parallel.forEachChunk(count, minChunk: 1 << 15) { range in
            for i in range {
                out[i] = (hash(seed, UInt64(i)) >> 11) >= threshold ? x[i] * scale : 0
            }
        }
    }

    /// SplitMix64 finaliser of seed and index: a counter-based generator.
    @inline(__always)
    static func hash(_ seed: UInt64, _ i: UInt64) -> UInt64 {
        var z = seed &+ (i &+ 1) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
