import Testing
import TailorTensor
import TailorTestSupport

@Suite struct RMSNormKernelTests {
    /// The AVX-512 and AVX2 passes against the Swift loops, on widths with a partial last vector,
    /// with dx and dWeight accumulating onto non-zero values. Only the summation order differs.
    @Test(arguments: FastMath.vectorLevels, [(70, 45), (130, 576), (3, 16)])
    func vectorPassesMatchSwiftReference(kernels: FastMath.KernelLevel, shape: (rows: Int, dim: Int)) throws {
        let (rows, dim) = shape
        var rng = TestRandom(seed: UInt64(rows * 1000 + dim))
        let x = rng.tensor([rows, dim], -3, 3), w = rng.tensor([dim]), dy = rng.tensor([rows, dim])
        let dx0 = rng.tensor([rows, dim]), dw0 = rng.tensor([dim])
        var results: [[Float]] = []
        for reference in [true, false] {
            let y = Tensor(zeros: [rows, dim]), rstd = Tensor(zeros: [rows]), dx = dx0.copy(), dw = dw0.copy()
            if reference {
                RMSNorm.forwardReference(x: x.pointer, weight: w.pointer, y: y.pointer, rstd: rstd.pointer, rows: rows, dim: dim, eps: 1e-5)
                RMSNorm.backwardReference(dy: dy.pointer, x: x.pointer, weight: w.pointer, rstd: rstd.pointer, dx: dx.pointer,
                                          dWeight: dw.pointer, rows: rows, dim: dim)
            } else {
                RMSNorm.forward(x: x.pointer, weight: w.pointer, y: y.pointer, rstd: rstd.pointer, rows: rows, dim: dim, eps: 1e-5,
                                kernels: kernels)
                RMSNorm.backward(dy: dy.pointer, x: x.pointer, weight: w.pointer, rstd: rstd.pointer, dx: dx.pointer,
                                 dWeight: dw.pointer, rows: rows, dim: dim, kernels: kernels)
            }
            results += [y.array, rstd.array, dx.array, dw.array]
        }
        for (i, name) in ["y", "rstd", "dx", "dWeight"].enumerated() {
            expectClose(results[4 + i], results[i], atol: 1e-6, rtol: 2e-6, "\(name) \(rows)×\(dim) (\(kernels))")
        }
    }
}
