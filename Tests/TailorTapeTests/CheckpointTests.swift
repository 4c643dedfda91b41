import Testing
import TailorTape
import TailorTensor
import TailorTestSupport

@Suite struct CheckpointTests {
    /// A recomputed segment gives the same gradients as a recorded one, for inputs and parameters.
    @Test func checkpointedSegmentMatchesRecordedOne() {
        var rng = TestRandom(seed: 5)
        let w1 = Parameter("w1", rng.tensor([8, 8]), requiresGrad: true)
        let w2 = Parameter("w2", rng.tensor([8, 8]))
        let g = Parameter("g", rng.tensor([8], 0.5, 1.5), requiresGrad: true)
        let x = rng.tensor([5, 8]), seed = rng.tensor([5, 8])
        func segment(_ t: Tape, _ v: Variable) -> Variable {
            let h = t.rmsNorm(v, weight: g, eps: 1e-5)
            return t.add(v, t.linear(t.swiglu(t.linear(h, weight: w1), t.linear(h, weight: w2)), weight: w2))
        }
        func run(checkpointed: Bool) -> (dx: [Float], dw1: [Float], dg: [Float]) {
            w1.zeroGradient(); g.zeroGradient()
            let tape = Tape()
            let v = tape.input(x, requiresGrad: true)
            let y = checkpointed ? tape.checkpoint(v, trainable: true, segment) : segment(tape, v)
            tape.backward(y, seed: seed)
            return (tape.gradient(of: v)!.array, w1.grad!.array, g.grad!.array)
        }
        let plain = run(checkpointed: false), ckpt = run(checkpointed: true)
        expectClose(ckpt.dx, plain.dx, atol: 1e-6, "dx")
        expectClose(ckpt.dw1, plain.dw1, atol: 1e-6, "dw1")
        expectClose(ckpt.dg, plain.dg, atol: 1e-6, "dg")
        #expect(w2.grad == nil)
    }

    /// Backward frees what each op saved: the tape keeps no closures afterwards.
    @Test func backwardReleasesSavedTensors() {
        var rng = TestRandom(seed: 6)
        let w = Parameter("w", rng.tensor([4, 4]), requiresGrad: true)
        weak var saved: Tensor?
        let tape = Tape()
        do {
            let x = tape.input(rng.tensor([3, 4]), requiresGrad: false)
            let h = tape.linear(x, weight: w)       // saves x
            saved = h.value
            let y = tape.linear(h, weight: w)       // saves h
            tape.backward(y, seed: rng.tensor([3, 4]))
        }
        #expect(saved == nil, "the intermediate was not freed after backward")
    }
}
