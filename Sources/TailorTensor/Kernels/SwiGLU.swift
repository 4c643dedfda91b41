/// The gated MLP activation `h = silu(gate) * up`, with `silu(x) = x·sigmoid(x)`.
public enum SwiGLU {
    /// h, gate, up: `[count]`.
    public static func forward(
        gate: UnsafePointer<Float>, up: UnsafePointer<Float>, h: UnsafeMutablePointer<Float>, count: Int
    ) {
        Parallel.forEachChunk(count, minChunk: 1 << 14) { range in
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
        Parallel.forEachChunk(count, minChunk: 1 << 14) { range in
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
