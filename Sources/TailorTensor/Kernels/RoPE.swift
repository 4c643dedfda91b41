import Foundation

/// How RoPE frequencies are rescaled (`rope_scaling` / `rope_parameters` in `config.json`).
public enum RoPEScaling: Sendable, Equatable {
    /// `inv_freq[i] = 1 / θ^(2i/D)`.
    case none
    /// `inv_freq /= factor`.
    case linear(factor: Float)
    /// Llama 3.1 piecewise rescaling of low frequencies.
    case llama3(factor: Float, lowFrequencyFactor: Float, highFrequencyFactor: Float, originalContext: Float)
}

/// Rotary position embedding in the Hugging Face rotate-half layout: dimension j pairs with
/// j + D/2 (not 2j, 2j+1), applied per head to rows of a `[tokens, heads·D]` buffer.
public enum RoPE {
    /// The inverse frequencies `[D/2]`, computed in fp32 as transformers does.
    public static func inverseFrequencies(headDim: Int, theta: Float, scaling: RoPEScaling) -> [Float] {
        var inv = (0..<(headDim / 2)).map { i in 1 / powf(theta, Float(2 * i) / Float(headDim)) }
        switch scaling {
        case .none:
            break
        case .linear(let factor):
            inv = inv.map { $0 / factor }
        case .llama3(let factor, let low, let high, let old):
            let lowWavelength = old / low, highWavelength = old / high
            inv = inv.map { f in
                let wavelength = 2 * Float.pi / f
                if wavelength < highWavelength { return f }
                if wavelength > lowWavelength { return f / factor }
                let s = (old / wavelength - low) / (high - low)
                return (1 - s) * f / factor + s * f
            }
        }
        return inv
    }

    /// cos and sin tables `[positions, D/2]` for positions `0..<positions`.
    public static func table(inverseFrequencies inv: [Float], positions: Int) -> (cos: [Float], sin: [Float]) {
        let half = inv.count
        var c = [Float](repeating: 0, count: positions * half), s = c
        for p in 0..<positions {
            for j in 0..<half {
                let angle = Float(p) * inv[j]
                c[p * half + j] = cosf(angle)
                s[p * half + j] = sinf(angle)
            }
        }
        return (c, s)
    }

    /// out = x·cos + rotate_half(x)·sin. x, out: `[rows, heads·headDim]`; positions: `[rows]`.
    /// `inverse` applies the transposed rotation (the backward, dx from dy).
    public static func apply(
        _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, rows: Int, heads: Int, headDim: Int,
        positions: UnsafeBufferPointer<Int32>, cos: UnsafePointer<Float>, sin: UnsafePointer<Float>,
        inverse: Bool = false, accumulate: Bool = false
    ) {
        let half = headDim / 2, width = heads * headDim
        let sign: Float = inverse ? -1 : 1
        Parallel.forEachChunk(rows, minChunk: 64) { range in
            for r in range {
                let p = Int(positions[r])
                let c = cos + p * half, s = sin + p * half
                for h in 0..<heads {
                    let xi = x + r * width + h * headDim, o = out + r * width + h * headDim
                    for j in 0..<half {
                        let x1 = xi[j], x2 = xi[j + half], sj = sign * s[j]
                        let y1 = x1 * c[j] - x2 * sj, y2 = x2 * c[j] + x1 * sj
                        if accumulate { o[j] += y1; o[j + half] += y2 } else { o[j] = y1; o[j + half] = y2 }
                    }
                }
            }
        }
    }
}
