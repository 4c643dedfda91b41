import CTailorKernels

/// RMSNorm as in `LlamaRMSNorm`: `y = weight * (x * rsqrt(mean(x²) + eps))`, statistics in fp32.
/// The row passes run in C where the CPU allows (``FastMath/kernels``: AVX-512 or AVX2); the Swift
/// loops are the fallback and the reference in tests.
public enum RMSNorm {
    /// y: `[rows, dim]`; rstd: `[rows]` saved for the backward.
    public static func forward(
        x: UnsafePointer<Float>, weight: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
        rstd: UnsafeMutablePointer<Float>, rows: Int, dim: Int, eps: Float, kernels: FastMath.KernelLevel = FastMath.kernels
    ) {
        guard kernels != .generic else { return forwardReference(x: x, weight: weight, y: y, rstd: rstd, rows: rows, dim: dim, eps: eps) }
        let kernel = kernels == .avx512 ? tailor_rmsnorm_forward : tailor_avx2_rmsnorm_forward
        Parallel.forEachChunk(rows, minChunk: 64) { range in
            kernel(x, weight, y, rstd, range.lowerBound, range.upperBound, Int32(dim), eps)
        }
    }

    /// ``forward(x:weight:y:rstd:rows:dim:eps:kernels:)`` in plain Swift.
    public static func forwardReference(
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
        rows: Int, dim: Int, kernels: FastMath.KernelLevel = FastMath.kernels
    ) {
        guard kernels != .generic else {
            return backwardReference(dy: dy, x: x, weight: weight, rstd: rstd, dx: dx, dWeight: dWeight, rows: rows, dim: dim)
        }
        let avx512 = kernels == .avx512
        if let dx {
            let kernel = avx512 ? tailor_rmsnorm_backward : tailor_avx2_rmsnorm_backward
            Parallel.forEachChunk(rows, minChunk: 64) { range in
                kernel(dy, x, weight, rstd, dx, range.lowerBound, range.upperBound, Int32(dim))
            }
        }
        if let dWeight {
            // Columns in blocks of 16 across the workers; each sums over every row.
            let kernel = avx512 ? tailor_rmsnorm_weight_gradient : tailor_avx2_rmsnorm_weight_gradient
            Parallel.forEachChunk((dim + 15) / 16) { blocks in
                kernel(dy, x, rstd, dWeight, rows, Int32(dim), Int32(blocks.lowerBound * 16), Int32(min(dim, blocks.upperBound * 16)))
            }
        }
    }

    /// ``backward(dy:x:weight:rstd:dx:dWeight:rows:dim:kernels:)`` in plain Swift.
    public static func backwardReference(
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
