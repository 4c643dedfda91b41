/// Matrix product `C = op(A) · op(B)` for every transpose case, and its backward.
///
/// Row-major, contiguous operands. `A` is `[m, k]` (`[k, m]` when `transA`), `B` is
/// `[k, n]` (`[n, k]` when `transB`), `C` is `[m, n]`.
public enum MatMul {
    /// `C[m, n] = op(A) · op(B)`, or `C += …` when `accumulate`.
    public static func forward(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
        m: Int, n: Int, k: Int, transA: Bool, transB: Bool, accumulate: Bool = false
    ) {
        BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k,
                  a: a, lda: transA ? m : k, b: b, ldb: transB ? k : n,
                  beta: accumulate ? 1 : 0, c: c, ldc: n)
    }

    /// Accumulates `dA += ∂C/∂A · dC` and `dB += ∂C/∂B · dC`; either may be nil (not needed).
    ///
    /// dC: `[m, n]`; dA has A's stored shape; dB has B's stored shape.
    public static func backward(
        _ dC: UnsafePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        dA: UnsafeMutablePointer<Float>?, dB: UnsafeMutablePointer<Float>?,
        m: Int, n: Int, k: Int, transA: Bool, transB: Bool
    ) {
        let lda = transA ? m : k, ldb = transB ? k : n
        if let dA {
            // in the forward pass this was: C = op(A) op(B)
            if !transA {  // dA[m, k] = dC · op(B)ᵀ
                BLAS.gemm(transA: false, transB: !transB, m: m, n: k, k: n,
                          a: dC, lda: n, b: b, ldb: ldb, beta: 1, c: dA, ldc: k)
            } else {      // dA[k, m] = op(B) · dCᵀ
                BLAS.gemm(transA: transB, transB: true, m: k, n: m, k: n,
                          a: b, lda: ldb, b: dC, ldb: n, beta: 1, c: dA, ldc: m)
            }
        }
        if let dB {
            if !transB {  // dB[k, n] = op(A)ᵀ · dC
                BLAS.gemm(transA: !transA, transB: false, m: k, n: n, k: m,
                          a: a, lda: lda, b: dC, ldb: n, beta: 1, c: dB, ldc: n)
            } else {      // dB[n, k] = dCᵀ · op(A)
                BLAS.gemm(transA: true, transB: transA, m: n, n: k, k: m,
                          a: dC, lda: n, b: a, ldb: lda, beta: 1, c: dB, ldc: k)
            }
        }
    }
}
