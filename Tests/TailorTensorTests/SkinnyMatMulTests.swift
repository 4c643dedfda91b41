import Testing
import TailorTensor
import TailorTestSupport

/// The rank-sized products (AVX-512 where the CPU has it, and the sgemm fallback) against the
/// Double reference, over odd row counts (the row-pair kernels' last row), widths that are not
/// multiples of 16 or 64, ranks that fill a group of 8 partly or more than once,
/// and padded strides.
@Suite struct SkinnyMatMulTests {
    static let shapes = [(rows: 1, k: 5, r: 1), (rows: 2, k: 16, r: 8), (rows: 7, k: 37, r: 5), (rows: 130, k: 97, r: 13),
                         (rows: 67, k: 576, r: 24), (rows: 9, k: 70, r: 64)]

    func tolerance(_ terms: Int) -> Float { 3e-7 * Float(terms) + 1e-6 }

    /// The fallback (sgemm) and the AVX-512 kernels where this CPU runs them.
    static let levels: [FastMath.KernelLevel] = [.generic] + FastMath.vectorLevels.filter { $0 == .avx512 }

    @Test(arguments: levels)
    func dotsMatchReference(kernels: FastMath.KernelLevel) {
        var rng = TestRandom(seed: 31)
        for (rows, k, r) in Self.shapes {
            let (ldx, ldt) = (k + 3, r + 2)
            let x = rng.tensor([rows, ldx]), a = rng.tensor([r, k])
            let t = rng.tensor([rows, ldt]), expected = t.copy()
            SkinnyMatMul.dots(x.pointer, ldx: ldx, rows: rows, k: k, a.pointer, r: r, alpha: 0.75, into: t.pointer, ldt: ldt, kernels: kernels)
            BLAS.gemmReference(transB: true, m: rows, n: r, k: k, alpha: 0.75, a: x.pointer, lda: ldx, b: a.pointer, ldb: k,
                               c: expected.pointer, ldc: ldt)
            expectClose(t, expected, atol: tolerance(k), "dots rows \(rows) k \(k) r \(r) (\(kernels))")
        }
    }

    @Test(arguments: levels, [false, true])
    func rankUpdateMatchesReference(kernels: FastMath.KernelLevel, accumulate: Bool) {
        var rng = TestRandom(seed: 32)
        for (rows, n, r) in Self.shapes {
            let (ldt, ldy) = (r + 1, n + 5)
            let t = rng.tensor([rows, ldt]), b = rng.tensor([r, n])
            let y = rng.tensor([rows, ldy]), expected = y.copy()
            SkinnyMatMul.rankUpdate(t.pointer, ldt: ldt, rows: rows, r: r, b.pointer, n: n, alpha: 1.5, into: y.pointer, ldy: ldy,
                                    accumulate: accumulate, kernels: kernels)
            BLAS.gemmReference(m: rows, n: n, k: r, alpha: 1.5, a: t.pointer, lda: ldt, b: b.pointer, ldb: n,
                               beta: accumulate ? 1 : 0, c: expected.pointer, ldc: ldy)
            // Row padding past n is untouched (the reference never writes it either).
            expectClose(y, expected, atol: tolerance(r), "rank update rows \(rows) n \(n) r \(r) accumulate \(accumulate) (\(kernels))")
        }
    }

    @Test(arguments: levels, [false, true])
    func outerMatchesReference(kernels: FastMath.KernelLevel, accumulate: Bool) {
        var rng = TestRandom(seed: 33)
        for (rows, k, r) in Self.shapes + [(rows: 300, k: 1536, r: 8)] {
            let (ldt, ldx) = (r + 3, k + 2)
            let t = rng.tensor([rows, ldt]), x = rng.tensor([rows, ldx])
            let out = rng.tensor([r, k]), expected = out.copy()
            SkinnyMatMul.outer(t.pointer, ldt: ldt, rows: rows, r: r, x.pointer, ldx: ldx, k: k, alpha: 0.5, into: out.pointer,
                               accumulate: accumulate, kernels: kernels)
            BLAS.gemmReference(transA: true, m: r, n: k, k: rows, alpha: 0.5, a: t.pointer, lda: ldt, b: x.pointer, ldb: ldx,
                               beta: accumulate ? 1 : 0, c: expected.pointer, ldc: k)
            expectClose(out, expected, atol: tolerance(rows), "outer rows \(rows) k \(k) r \(r) accumulate \(accumulate) (\(kernels))")
        }
    }
}
