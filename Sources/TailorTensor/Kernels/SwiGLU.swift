/// The gated MLP activation `h = silu(gate) * up`, with `silu(x) = x·sigmoid(x)`.
public enum SwiGLU {
    /// h, gate, up: `[count]`.
    public static func forward(
        gate: UnsafePointer<Float>, up: UnsafePointer<Float>, h: UnsafeMutablePointer<Float>, count: Int
    ) {
        Parallel.forEachChunk(count, minChunk: 1 << 14) { range in
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                let g = load(gate + i), u = load(up + i)
                store(g / (1 + FastMath.exp(-g)) * u, h + i)
                i += 8
            }
            while i < range.upperBound {
                let g = gate[i]
                h[i] = g / (1 + FastMath.exp(-g)) * up[i]
                i += 1
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
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                let g = load(gate + i), d = load(dh + i), sig = 1 / (1 + FastMath.exp(-g))
                if let dUp { store(load(dUp + i) + d * g * sig, dUp + i) }
                if let dGate { store(load(dGate + i) + d * load(up + i) * sig * (1 + g * (1 - sig)), dGate + i) }
                i += 8
            }
            while i < range.upperBound {
                let g = gate[i], sig = 1 / (1 + FastMath.exp(-g))
                if let dUp { dUp[i] += dh[i] * g * sig }
                if let dGate { dGate[i] += dh[i] * up[i] * sig * (1 + g * (1 - sig)) }
                i += 1
            }
        }
    }

    @inline(__always)
    private static func load(_ p: UnsafePointer<Float>) -> FastMath.Vector {
        UnsafeRawPointer(p).loadUnaligned(as: FastMath.Vector.self)
    }

    @inline(__always)
    private static func store(_ v: FastMath.Vector, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: FastMath.Vector.self)
    }
}

import Foundation
