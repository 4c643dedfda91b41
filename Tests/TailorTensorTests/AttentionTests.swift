import Foundation
import Testing
import TailorTensor
import TailorTestSupport
import CTailorKernels

@Suite struct AttentionKernelTests {
    /// The tiled kernel against the plain [T, T] reference, over several tiles, with GQA (query
    /// heads stacked per kv head), packed segments and a sliding window.
    @Test(arguments: [
        (2, 2, nil as Int?, false), (4, 1, nil, true), (4, 2, 5, false), (4, 4, 30, true),
    ])
    func tiledForwardMatchesReference(heads: Int, kvHeads: Int, window: Int?, packed: Bool) {
        var rng = TestRandom(seed: 3)
        let seq = 2 * Attention.forwardRows + 37  // at least three tiles even with one head per kv head
        let s = AttentionShape(batch: 2, seq: seq, heads: heads, kvHeads: kvHeads, headDim: 8)
        let q = rng.tensor([seq * 2, heads * 8]), k = rng.tensor([seq * 2, kvHeads * 8]), v = rng.tensor([seq * 2, kvHeads * 8])
        let segments: [Int32]? = packed ? (0..<(2 * seq)).map { Int32(($0 % seq) / 40) } : nil
        let first = Attention.firstVisibleKeys(batch: 2, seq: seq, segments: segments, window: window)
        let out = Tensor(zeros: q.shape), lse = Tensor(zeros: [2, heads, seq])
        first.withUnsafeBufferPointer {
            Attention.forward(q: q.pointer, k: k.pointer, v: v.pointer, out: out.pointer, lse: lse.pointer, shape: s, firstKey: $0)
        }
        let expected = Attention.forwardReference(q: q.array, k: k.array, v: v.array, shape: s, firstKey: first)
        expectClose(out.array, expected, atol: 2e-6, "attention H=\(heads) KV=\(kvHeads) window=\(String(describing: window)) packed=\(packed)")
    }

    @Test func firstVisibleKeysCombineSegmentsAndWindow() {
        let first = Attention.firstVisibleKeys(batch: 1, seq: 8, segments: [0, 0, 0, 0, 1, 1, 1, 1], window: 3)
        #expect(first == [0, 0, 0, 1, 4, 4, 4, 5])
    }

    /// The row passes' exponential (AVX-512 and AVX2): e^(x − shift) within 6e-8 absolutely of the
    /// Double value for x − shift from −100 to 0 and shifts from −40 to 88, its sum within 1e-6
    /// relatively; NaN kept.
    @Test(arguments: FastMath.vectorLevels)
    func softmaxExpWithin6e8(kernels: FastMath.KernelLevel) throws {
        let softmaxExp = kernels == .avx512 ? tailor_softmax_exp : tailor_avx2_softmax_exp
        for shift: Float in [-40, -3.7, 0, 12.3, 31.4, 88] {
            let x = (0..<20_000).map { shift - Float($0) * 0.005 } + [shift - 150, .nan]
            var y = [Float](repeating: 0, count: x.count)
            let sum = softmaxExp(x, &y, x.count - 1, shift)
            var worst = 0.0, total = 0.0
            for i in 0..<(x.count - 2) {
                let want = exp(Double(x[i]) - Double(shift))
                worst = max(worst, abs(Double(y[i]) - want)); total += want
            }
            #expect(worst <= 6e-8, "shift \(shift): worst |Δ| \(worst)")
            #expect(abs(Double(sum) - total) <= 1e-6 * total, "shift \(shift): sum \(sum) vs \(total)")
            #expect(y[x.count - 2] == 0x1p-126)
            _ = softmaxExp([Float.nan], &y, 1, shift)
            #expect(y[0].isNaN)
        }
    }

    /// The AVX-512 and AVX2 row passes against the Swift loops, on rows whose visible ranges start
    /// and end anywhere (tails that are not multiples of 8 or 16 lanes), with scores spread wide
    /// enough to test the max shift. Probabilities within 2e-7, dS within 3e-6 (|dP − d| reaches ~5).
    @Test(arguments: FastMath.vectorLevels)
    func rowPassesMatchSwiftReference(kernels: FastMath.KernelLevel) throws {
        var rng = TestRandom(seed: 11)
        let rows = 37, cols = 203, q0 = 150, keyOffset = -13, ld = 70, headDim = 45
        // Row i sees keys firstKey[i] … q0 + i, i.e. columns firstKey[i] − keyOffset … q0 + i − keyOffset.
        let firstKey = (0..<rows).map { Int32(keyOffset + rng.int(q0 + $0 - keyOffset + 1)) }
        let scores = rng.tensor([rows, cols], -30, 30)
        let dP = rng.tensor([rows, cols]), dOut = rng.tensor([rows, ld]), out = rng.tensor([rows, ld])
        // The backward passes both read the reference's lse: near |lse| ≈ 30 one ulp of lse (1.9e-6)
        // would move every recomputed probability by more than the tolerance.
        let lseReference = Tensor(zeros: [rows])
        var results: [[Float]] = []
        for reference in [true, false] {
            let p = scores.copy(), lse = reference ? lseReference : Tensor(zeros: [rows])
            let p2 = scores.copy(), ds = dP.copy()
            firstKey.withUnsafeBufferPointer { fk in
                let f = fk.baseAddress!
                if reference {
                    Attention.softmaxRowsReference(p.pointer, rows: rows, cols: cols, firstKey: f, keyOffset: keyOffset, q0: q0, lse: lse.pointer)
                    Attention.softmaxBackwardRowsReference(p2.pointer, ds.pointer, rows: rows, cols: cols, firstKey: f, keyOffset: keyOffset,
                                                           q0: q0, lse: lse.pointer, dOut: dOut.pointer, out: out.pointer, ld: ld, headDim: headDim)
                } else {
                    Attention.softmaxRows(p.pointer, rows: rows, cols: cols, firstKey: f, keyOffset: keyOffset, q0: q0, lse: lse.pointer,
                                          kernels: kernels)
                    Attention.softmaxBackwardRows(p2.pointer, ds.pointer, rows: rows, cols: cols, firstKey: f, keyOffset: keyOffset,
                                                  q0: q0, lse: lseReference.pointer, dOut: dOut.pointer, out: out.pointer, ld: ld,
                                                  headDim: headDim, kernels: kernels)
                }
            }
            results += [p.array, lse.array, p2.array, ds.array]
        }
        expectClose(results[4], results[0], atol: 2e-7, "softmax rows")
        expectClose(results[5], results[1], atol: 2e-6, rtol: 1e-6, "log-sum-exp")
        expectClose(results[6], results[2], atol: 2e-7, "recomputed probabilities")
        expectClose(results[7], results[3], atol: 3e-6, rtol: 1e-5, "dS")
        // Outside each row's range everything is zero, in both paths.
        for i in 0..<rows {
            let lo = Int(firstKey[i]) - keyOffset, hi = q0 + i - keyOffset
            for j in 0..<cols where j < lo || j > hi {
                #expect(results[4][i * cols + j] == 0 && results[7][i * cols + j] == 0, "row \(i) column \(j)")
            }
        }
    }
}
