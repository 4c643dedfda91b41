import CTailorKernels

/// The gated MLP activation `h = silu(gate) * up`, with `silu(x) = x·sigmoid(x)`.
///
/// The loops run in C where the CPU allows (``FastMath/kernels``: AVX-512, 16 lanes, or AVX2, 8,
/// with fused multiply-adds; Swift here is compiled for baseline x86-64); the Swift loops
/// (`…Reference`) are the fallback and the tests' reference.
public enum SwiGLU {
    /// h, gate, up: `[count]`.
    public static func forward(
        gate: UnsafePointer<Float>, up: UnsafePointer<Float>, h: UnsafeMutablePointer<Float>, count: Int,
        kernels: FastMath.KernelLevel = FastMath.kernels
    ) {
        Parallel.forEachChunk(count, minChunk: 1 << 14) { r in
            let lo = r.lowerBound
            switch kernels {
            case .avx512: tailor_swiglu_forward(gate + lo, up + lo, h + lo, r.count)
            case .avx2: tailor_avx2_swiglu_forward(gate + lo, up + lo, h + lo, r.count)
            case .generic: forwardReference(gate: gate + lo, up: up + lo, h: h + lo, count: r.count)
            }
        }
    }

    /// ``forward(gate:up:h:count:kernels:)`` as a plain loop on one thread.
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
        accumulateGate: Bool = true, accumulateUp: Bool = true, kernels: FastMath.KernelLevel = FastMath.kernels
    ) {
        Parallel.forEachChunk(count, minChunk: 1 << 14) { r in
            let lo = r.lowerBound
            if kernels == .avx512, let dUp, let dGate {
                tailor_swiglu_backward(dh + lo, gate + lo, up + lo, dGate + lo, dUp + lo, r.count,
                                       accumulateGate ? 1 : 0, accumulateUp ? 1 : 0)
            } else if kernels == .avx2, let dUp, let dGate {
                tailor_avx2_swiglu_backward(dh + lo, gate + lo, up + lo, dGate + lo, dUp + lo, r.count,
                                            accumulateGate ? 1 : 0, accumulateUp ? 1 : 0)
            } else {
                backwardReference(dh: dh + lo, gate: gate + lo, up: up + lo, dGate: dGate.map { $0 + lo }, dUp: dUp.map { $0 + lo },
                                  count: r.count, accumulateGate: accumulateGate, accumulateUp: accumulateUp)
            }
        }
    }

    /// ``backward(dh:gate:up:dGate:dUp:count:accumulateGate:accumulateUp:kernels:)`` as a plain loop on one thread.
    public static func backwardReference(
        dh: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
        dGate: UnsafeMutablePointer<Float>?, dUp: UnsafeMutablePointer<Float>?, count: Int,
        accumulateGate: Bool = true, accumulateUp: Bool = true
    ) {
        if let dUp, let dGate {  // the common case, one branch-free loop LLVM vectorises: a written buffer starts at zero
            if !accumulateUp { dUp.update(repeating: 0, count: count) }
            if !accumulateGate { dGate.update(repeating: 0, count: count) }
            for i in 0..<count {
                let g = gate[i], d = dh[i], sig = 1 / (1 + FastMath.exp(-g))
                dUp[i] += d * g * sig
                dGate[i] += d * up[i] * sig * (1 + g * (1 - sig))
            }
            return
        }
        for i in 0..<count {
            let g = gate[i], sig = 1 / (1 + FastMath.exp(-g))
            if let dUp { dUp[i] = (accumulateUp ? dUp[i] : 0) + dh[i] * g * sig }
            if let dGate { dGate[i] = (accumulateGate ? dGate[i] : 0) + dh[i] * up[i] * sig * (1 + g * (1 - sig)) }
        }
    }
}
