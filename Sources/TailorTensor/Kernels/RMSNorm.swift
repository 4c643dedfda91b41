/// RMSNorm as in `LlamaRMSNorm`: `y = weight * (x * rsqrt(mean(x²) + eps))`, statistics in fp32.
public enum RMSNorm {
    /// y: `[rows, dim]`; rstd: `[rows]` saved for the backward.
    public static func forward(
        x: UnsafePointer<Float>, weight: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
        rstd: UnsafeMutablePointer<Float>, rows: Int, dim: Int, eps: Float
    ) {
        Parallel.forEachChunk(rows, minChunk: 64) { range in
            for r in range {
                let xr = x + r * dim, yr = y + r * dim
                var ss: Float = 0
                for j in 0..<dim { ss += xr[j] * xr[j] }
                let s = 1 / (ss / Float(dim) + eps).squareRoot()
                rstd[r] = s
                for j in 0..<dim { yr[j] = weight[j] * (xr[j] * s) }
            }
        }
    }

    /// Accumulates dx `[rows, dim]` (if given) and dWeight `[dim]` (if given).
    ///
    /// With n = x·s: dn = dy·w; dx = s·(dn − n·mean(dn·n)); dw = Σ_rows dy·n.
    public static func backward(
        dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        rstd: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?,
        rows: Int, dim: Int
    ) {
        if let dx {
            Parallel.forEachChunk(rows, minChunk: 64) { range in
                for r in range {
                    let xr = x + r * dim, dyr = dy + r * dim, dxr = dx + r * dim
                    let s = rstd[r]
                    var dot: Float = 0  // Σ dn·n
                    for j in 0..<dim { dot += dyr[j] * weight[j] * xr[j] * s }
                    let c = dot / Float(dim)
                    for j in 0..<dim { dxr[j] += s * (dyr[j] * weight[j] - xr[j] * s * c) }
                }
            }
        }
        if let dWeight {
            for r in 0..<rows {
                let xr = x + r * dim, dyr = dy + r * dim, s = rstd[r]
                for j in 0..<dim { dWeight[j] += dyr[j] * xr[j] * s }
            }
        }
    }
}
