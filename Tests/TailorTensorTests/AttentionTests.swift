import Testing
import TailorTensor
import TailorTestSupport

@Suite struct AttentionKernelTests {
    /// The tiled kernel against the plain [T, T] reference, over several tiles, with GQA,
    /// packed segments and a sliding window.
    @Test(arguments: [
        (2, 2, nil as Int?, false), (4, 1, nil, true), (4, 2, 5, false), (4, 4, 30, true),
    ])
    func tiledForwardMatchesReference(heads: Int, kvHeads: Int, window: Int?, packed: Bool) {
        var rng = TestRandom(seed: 3)
        let s = AttentionShape(batch: 2, seq: 150, heads: heads, kvHeads: kvHeads, headDim: 8)
        let q = rng.tensor([150 * 2, heads * 8]), k = rng.tensor([300, kvHeads * 8]), v = rng.tensor([300, kvHeads * 8])
        let segments: [Int32]? = packed ? (0..<300).map { Int32(($0 % 150) / 40) } : nil
        let first = Attention.firstVisibleKeys(batch: 2, seq: 150, segments: segments, window: window)
        let out = Tensor(zeros: q.shape), lse = Tensor(zeros: [2, heads, 150])
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
}
