import CTailorKernels

/// The three products of a low-rank adapter, where one dimension is the rank r (8–64) and the
/// other two are the batch's rows and a layer width.
///
/// sgemm packs both operands on every call; with r ≈ 8 that copying costs more than the
/// arithmetic (LoRA's six products were ~18 % of a bf16 training step, more than half of it in
/// OpenBLAS's pack routines). With AVX-512 these run in C, reading the wide operand once and
/// holding the rank-sized one in L1; elsewhere, and as the tests' reference, they are sgemm calls
/// (an AVX2 port, with 16 registers instead of 32, cost a training step the same as sgemm).
/// Row-major, contiguous small operands; the wide ones take a row stride.
public enum SkinnyMatMul {
    /// `t[rows, r] = alpha · x[rows, k] · a[r, k]ᵀ` (t's row stride `ldt`).
    public static func dots(_ x: UnsafePointer<Float>, ldx: Int, rows: Int, k: Int, _ a: UnsafePointer<Float>, r: Int,
                            alpha: Float = 1, into t: UnsafeMutablePointer<Float>, ldt: Int, kernels: FastMath.KernelLevel = FastMath.kernels) {
        guard kernels == .avx512 else { return dotsReference(x, ldx: ldx, rows: rows, k: k, a, r: r, alpha: alpha, into: t, ldt: ldt) }
        Parallel.forEachChunk(rows, minChunk: 64) { c in
            tailor_skinny_dots(x + c.lowerBound * ldx, ldx, Int32(c.count), Int32(k), a, Int32(r), alpha, t + c.lowerBound * ldt, Int32(ldt))
        }
    }

    public static func dotsReference(_ x: UnsafePointer<Float>, ldx: Int, rows: Int, k: Int, _ a: UnsafePointer<Float>, r: Int,
                                     alpha: Float = 1, into t: UnsafeMutablePointer<Float>, ldt: Int) {
        BLAS.gemm(transB: true, m: rows, n: r, k: k, alpha: alpha, a: x, lda: ldx, b: a, ldb: k, c: t, ldc: ldt)
    }

    /// `y[rows, n] (+)= alpha · t[rows, r] · b[r, n]`: `+=` when `accumulate`, else `=`.
    public static func rankUpdate(_ t: UnsafePointer<Float>, ldt: Int, rows: Int, r: Int, _ b: UnsafePointer<Float>, n: Int,
                                  alpha: Float = 1, into y: UnsafeMutablePointer<Float>, ldy: Int, accumulate: Bool,
                                  kernels: FastMath.KernelLevel = FastMath.kernels) {
        guard kernels == .avx512 else {
            return rankUpdateReference(t, ldt: ldt, rows: rows, r: r, b, n: n, alpha: alpha, into: y, ldy: ldy, accumulate: accumulate)
        }
        Parallel.forEachChunk(rows, minChunk: 64) { c in
            tailor_skinny_rank_update(t + c.lowerBound * ldt, Int32(ldt), Int32(c.count), Int32(r), b, Int32(n), alpha,
                                      y + c.lowerBound * ldy, ldy, accumulate ? 1 : 0)
        }
    }

    public static func rankUpdateReference(_ t: UnsafePointer<Float>, ldt: Int, rows: Int, r: Int, _ b: UnsafePointer<Float>, n: Int,
                                           alpha: Float = 1, into y: UnsafeMutablePointer<Float>, ldy: Int, accumulate: Bool) {
        BLAS.gemm(m: rows, n: n, k: r, alpha: alpha, a: t, lda: ldt, b: b, ldb: n, beta: accumulate ? 1 : 0, c: y, ldc: ldy)
    }

    /// `out[r, k] (+)= alpha · t[rows, r]ᵀ · x[rows, k]`: `+=` when `accumulate`, else `=`.
    public static func outer(_ t: UnsafePointer<Float>, ldt: Int, rows: Int, r: Int, _ x: UnsafePointer<Float>, ldx: Int, k: Int,
                             alpha: Float = 1, into out: UnsafeMutablePointer<Float>, accumulate: Bool,
                             kernels: FastMath.KernelLevel = FastMath.kernels) {
        guard kernels == .avx512 else {
            return outerReference(t, ldt: ldt, rows: rows, r: r, x, ldx: ldx, k: k, alpha: alpha, into: out, accumulate: accumulate)
        }
        // Workers take disjoint column ranges (whole 32-column blocks), so no partial sums to add.
        let blocks = (k + 31) / 32
        Parallel.forEachChunk(blocks, minChunk: 4) { c in
            tailor_skinny_outer(t, Int32(ldt), Int32(rows), Int32(r), x, ldx, Int32(c.lowerBound * 32), Int32(min(k, c.upperBound * 32)),
                                alpha, out, Int32(k), accumulate ? 1 : 0)
        }
    }

    public static func outerReference(_ t: UnsafePointer<Float>, ldt: Int, rows: Int, r: Int, _ x: UnsafePointer<Float>, ldx: Int, k: Int,
                                      alpha: Float = 1, into out: UnsafeMutablePointer<Float>, accumulate: Bool) {
        BLAS.gemm(transA: true, m: r, n: k, k: rows, alpha: alpha, a: t, lda: ldt, b: x, ldb: ldx, beta: accumulate ? 1 : 0, c: out, ldc: k)
    }
}
