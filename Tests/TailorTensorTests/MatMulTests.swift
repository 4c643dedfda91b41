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
}
