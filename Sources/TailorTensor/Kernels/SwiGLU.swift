import CTailorKernels

/// The gated MLP activation `h = silu(gate) * up`, with `silu(x) = x·sigmoid(x)`.
///
/// On CPUs with AVX-512 the loops run in C, 16 lanes wide with fused multiply-adds (Swift here is
/// compiled for baseline x86-64); the Swift loops (`…Reference`) are the fallback and the tests'
/// reference.
public enum SwiGLU {
    /// h, gate, up: `[count]`.
    public static func forward(
        gate: UnsafePointer<Float>, up: UnsafePointer<Float>, h: UnsafeMutablePointer<Float>, count: Int
    ) {
        Parallel.forEachChunk(count, minChunk: 1 << 14) { r in
            let lo = r.lowerBound
            if FastMath.usesAVX512 {
                tailor_swiglu_forward(gate + lo, up + lo, h + lo, r.count)
            } else {
                forwardReference(gate: gate + lo, up: up + lo, h: h + lo, count: r.count)
            }
        }
    }

    /// ``forward(gate:up:h:count:)`` as a plain loop on one thread.
    public static func forwardReference(
        gate: UnsafePointer<Float>, up: UnsafePointer<Float>, h: UnsafeMutablePointer<Float>, count: Int
    ) {
        for i in 0..<count {
            let g = gate[i]
            h[i] = g / (1 + FastMath.exp(-g)) * up[i]
        }
    }

    /// Accumulates into dGate and dUp (either may be nil), or writes a buffer whose `accumulate…`
    /// flag is false (its old contents are then never read). dh, gate, up: `[count]`.
    ///
    /// silu'(g) = σ(g)·(1 + g·(1 − σ(g))).
    public static func backward(
        dh: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
        dGate: UnsafeMutablePointer<Float>?, dUp: UnsafeMutablePointer<Float>?, count: Int,
        accumulateGate: Bool = true, accumulateUp: Bool = true
    ) {
        Parallel.forEachChunk(count, minChunk: 1 << 14) { r in
            let lo = r.lowerBound
            if FastMath.usesAVX512, let dUp, let dGate {
                tailor_swiglu_backward(dh + lo, gate + lo, up + lo, dGate + lo, dUp + lo, r.count,
                                       accumulateGate ? 1 : 0, accumulateUp ? 1 : 0)
            } else {
                backwardReference(dh: dh + lo, gate: gate + lo, up: up + lo, dGate: dGate.map { $0 + lo }, dUp: dUp.map { $0 + lo },
                                  count: r.count, accumulateGate: accumulateGate, accumulateUp: accumulateUp)
            }
        }
    }

    /// ``backward(dh:gate:up:dGate:dUp:count:accumulateGate:accumulateUp:)`` as a plain loop on one thread.
    public static func backwardReference(
        dh: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
        dGate: UnsafeMutablePointer<Float>?, dUp: UnsafeMutablePointer<Float>?, count: Int,
        accumulateGate: Bool = true, accumulateUp: Bool = true
    ) {
        for i in 0..<count {
            let g = gate[i], sig = 1 / (1 + FastMath.exp(-g))
            if let dUp { dUp[i] = (accumulateUp ? dUp[i] : 0) + dh[i] * g * sig }
            if let dGate { dGate[i] = (accumulateGate ? dGate[i] : 0) + dh[i] * up[i] * sig * (1 + g * (1 - sig)) }
        }
    }
}
