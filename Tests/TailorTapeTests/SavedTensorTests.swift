import Testing
import TailorTape
import TailorTensor
import TailorTestSupport

/// Activation memory: an op's backward closure keeps only the tensors it reads. A value captured
/// by accident (an output used for its count, a Variable used for its gradient slot) stays alive
/// until the backward reaches that op — without checkpointing, for the whole forward.
@Suite struct SavedTensorTests {
    var rng = TestRandom(seed: 21)

    /// Runs `op` on a recording tape and reports which of the tensors it names are still alive
    /// while the tape holds the op's backward, after the caller has dropped every Variable.
    private func alive(_ op: (Tape) -> [String: Tensor]) -> [String] {
        let tape = Tape()
        var refs: [(String, () -> Tensor?)] = []
        do {
            for (name, t) in op(tape) {
                weak let w = t
                refs.append((name, { w }))
            }
        }
        let kept = refs.filter { $0.1() != nil }.map(\.0).sorted()
        withExtendedLifetime(tape) {}
        return kept
    }

    @Test mutating func swigluKeepsGateAndUpOnly() {
        let (g, u) = (rng.tensor([3, 4]), rng.tensor([3, 4]))
        let kept = alive { t in
            let gate = t.input(g.copy(), requiresGrad: true), up = t.input(u.copy(), requiresGrad: true)
            return ["gate": gate.value, "up": up.value, "out": t.swiglu(gate, up).value]
        }
        #expect(kept == ["gate", "up"])
    }

    @Test mutating func addRopeAndRmsNormKeepNoOutput() {
        let cache = RoPECache(headDim: 4, theta: 10_000, scaling: .none)
        let w = Parameter("g", rng.tensor([8], 0.5, 1.5), requiresGrad: true)
        let (x, y) = (rng.tensor([2, 8]), rng.tensor([2, 8]))
        let kept = alive { t in
            let a = t.input(x.copy(), requiresGrad: true), b = t.input(y.copy(), requiresGrad: true)
            return ["a": a.value, "b": b.value, "sum": t.add(a, b).value,
                    "rope": t.rope(a, heads: 2, headDim: 4, positions: [0, 1], cache: cache).value,
                    "norm": t.rmsNorm(b, weight: w, eps: 1e-5).value]
        }
        #expect(kept == ["b"], "rmsNorm keeps its input; add and rope keep nothing")
    }

    /// With `recomputeInput`, a LoRA linear keeps neither its input nor its output.
    @Test mutating func linearWithRecomputedInputKeepsNeitherEnd() {
        let w = Parameter("w", rng.tensor([6, 5]))
        let lora = LoRAWeights(a: Parameter("A", rng.tensor([2, 5]), requiresGrad: true),
                               b: Parameter("B", rng.tensor([6, 2]), requiresGrad: true), scale: 2, dropout: 0)
        let x = rng.tensor([3, 5])
        let kept = alive { t in
            let input = t.input(x.copy(), requiresGrad: true)
            let again = x.copy()
            let recomputed = t.linear(input, weight: w, lora: lora, recomputeInput: { again })
            let plain = t.linear(t.input(x.copy(), requiresGrad: true), weight: w, lora: lora)
            return ["input": input.value, "recomputed out": recomputed.value, "plain out": plain.value]
        }
        #expect(kept.isEmpty)
    }
}
