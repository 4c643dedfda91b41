import CTailorKernels

/// The gated MLP activation `h = silu(gate) * up`, with `silu(x) = x·sigmoid(x)`.
///
/// On CPUs with AVX-512 the loops run in C, 16 lanes wide with fused multiply-adds (Swift here is
/// compiled for baseline x86-64); the Swift loops are the fallback and the tests' reference.
public enum SwiGLU {
    /// Whether the AVX-512 kernels are used (false forces the Swift loops, for tests).
    public nonisolated(unsafe) static var useAVX512 = tailor_avx512_available() != 0

    /// h, gate, up: `[count]`.
    public static func forward(
        gate: UnsafePointer<Float>, up: UnsafePointer<Float>, h: UnsafeMutablePointer<Float>, count: Int
    ) {
        let vector = useAVX512
        Parallel.forEachChunk(count, minChunk: 1 << 14) { range in
            if vector {
                tailor_swiglu_forward(gate + range.lowerBound, up + range.lowerBound, h + range.lowerBound, range.count)
                return
            }
            for i in range {
                let g = gate[i]
                h[i] = g / (1 + FastMath.exp(-g)) * up[i]
            }
        }
    }

    /// Accumulates dGate and dUp (either may be nil). dh, gate, up: `[count]`.
    ///
    /// silu'(g) = σ(g)·(1 + g·(1 − σ(g))).
    public static func backward(
        dh: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
        dGate: UnsafeMutablePointer<Float>?, dUp: UnsafeMutablePointer<Float>?, count: Int
    ) {
        let vector = useAVX512
        Parallel.forEachChunk(count, minChunk: 1 << 14) { range in
            if let dUp, let dGate, vector {
                let lo = range.lowerBound
                tailor_swiglu_backward(dh + lo, gate + lo, up + lo, dGate + lo, dUp + lo, range.count)
                return
            }
            if let dUp, let dGate {  // the common case, one loop LLVM vectorises
                for i in range {
                    let g = gate[i], d = dh[i], sig = 1 / (1 + FastMath.exp(-g))
                    dUp[i] += d * g * sig
                    dGate[i] += d * up[i] * sig * (1 + g * (1 - sig))
                }
                return
            }
            for i in range {
                let g = gate[i], sig = 1 / (1 + FastMath.exp(-g))
                if let dUp { dUp[i] += dh[i] * g * sig }
                if let dGate { dGate[i] += dh[i] * up[i] * sig * (1 + g * (1 - sig)) }
            }
        }
    }
}
import Foundation
