import Testing
import TailorTensor
import TailorTestSupport

@Suite struct MatMulTests {
    /// The BLAS path against the plain reference, for every transpose case and accumulation.
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func forwardMatchesReference(transA: Bool, transB: Bool) {
        var rng = TestRandom(seed: 1)
        let (m, n, k) = (7, 5, 9)
        let a = rng.tensor(transA ? [k, m] : [m, k]), b = rng.tensor(transB ? [n, k] : [k, n])
        let c = rng.tensor([m, n]), expected = c.copy()
        MatMul.forward(a.pointer, b.pointer, c.pointer, m: m, n: n, k: k, transA: transA, transB: transB, accumulate: true)
        BLAS.gemmReference(transA: transA, transB: transB, m: m, n: n, k: k, a: a.pointer, lda: transA ? m : k,
                           b: b.pointer, ldb: transB ? k : n, beta: 1, c: expected.pointer, ldc: n)
        expectClose(c, expected, atol: 1e-5, "matmul transA=\(transA) transB=\(transB)")
    }

    /// Products big enough to be split across workers — tall ones by rows, short wide ones by
    /// columns (with a ragged last chunk) — inside padded strides, against the reference.
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func splitProductsMatchReference(transA: Bool, transB: Bool) {
        var rng = TestRandom(seed: 2)
        for (m, n, k) in [(300, 40, 50), (8, 1000, 200), (3, 517, 700)] {
            let pad = 3
            let (ar, ac) = transA ? (k, m) : (m, k), (br, bc) = transB ? (n, k) : (k, n)
            let a = rng.tensor([ar, ac + pad]), b = rng.tensor([br, bc + pad])
            let c = rng.tensor([m, n + pad]), expected = c.copy()
            BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a.pointer, lda: ac + pad,
                      b: b.pointer, ldb: bc + pad, beta: 2, c: c.pointer, ldc: n + pad)
            BLAS.gemmReference(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a.pointer, lda: ac + pad,
                               b: b.pointer, ldb: bc + pad, beta: 2, c: expected.pointer, ldc: n + pad)
            expectClose(c, expected, atol: 2e-5 * Float(k), "gemm \(m)×\(n)×\(k) transA=\(transA) transB=\(transB)")
        }
    }
}
