import Testing
import TailorTape
import TailorTensor
import TailorTestSupport

/// Finite-difference checks of every differentiable op, with a random cotangent.
@Suite struct OpGradientTests {
    var rng = TestRandom(seed: 11)

    @Test mutating func linearWithBiasAndTrainableWeight() {
        let w = Parameter("w", rng.tensor([5, 4]), requiresGrad: true)
        let b = Parameter("b", rng.tensor([5]), requiresGrad: true)
        checkGradients(inputs: [rng.tensor([3, 4])], parameters: [w, b], "linear") { t, v in
            t.linear(v[0], weight: w, bias: b)
        }
    }

    @Test mutating func linearWithLoRAOnAFrozenBase() {
        let w = Parameter("w", rng.tensor([6, 5]))
        let lora = LoRAWeights(a: Parameter("A", rng.tensor([3, 5]), requiresGrad: true),
                               b: Parameter("B", rng.tensor([6, 3]), requiresGrad: true), scale: 1.5, dropout: 0)
        checkGradients(inputs: [rng.tensor([4, 5])], parameters: [lora.a, lora.b], "lora") { t, v in
            t.linear(v[0], weight: w, lora: lora)
        }
        #expect(w.grad == nil, "a frozen base weight must never get a gradient")
    }

    /// The dropout mask is a function of the seed, so finite differences see the same mask.
    @Test mutating func linearWithLoRADropout() {
        let w = Parameter("w", rng.tensor([6, 5]))
        let lora = LoRAWeights(a: Parameter("A", rng.tensor([2, 5]), requiresGrad: true),
                               b: Parameter("B", rng.tensor([6, 2]), requiresGrad: true), scale: 2, dropout: 0.4)
        checkGradients(inputs: [rng.tensor([4, 5])], parameters: [lora.a, lora.b], "lora dropout") { t, v in
            t.linear(v[0], weight: w, lora: lora, dropoutSeed: 42)
        }
    }

    @Test mutating func embeddingScatterAdd() {
        let table = Parameter("E", rng.tensor([7, 3]), requiresGrad: true)
        checkGradients(inputs: [], parameters: [table], "embedding") { t, _ in
            t.embedding([1, 4, 1, 6, 0], table: table)  // repeated id 1 accumulates
        }
    }

    @Test mutating func rmsNorm() {
        let w = Parameter("g", rng.tensor([6], 0.5, 1.5), requiresGrad: true)
        checkGradients(inputs: [rng.tensor([3, 6])], parameters: [w], eps: 1e-3, "rmsNorm") { t, v in
            t.rmsNorm(v[0], weight: w, eps: 1e-5)
        }
        // One norm per head (Qwen3's q_norm): three heads of 4 per row, one shared weight.
        let perHead = Parameter("h", rng.tensor([4], 0.5, 1.5), requiresGrad: true)
        checkGradients(inputs: [rng.tensor([3, 12])], parameters: [perHead], eps: 1e-3, "rmsNorm per head") { t, v in
            t.rmsNorm(v[0], weight: perHead, eps: 1e-5)
        }
    }

    @Test(arguments: [RoPEScaling.none, .linear(factor: 2), .llama3(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContext: 16)])
    mutating func rope(scaling: RoPEScaling) {
        let cache = RoPECache(headDim: 8, theta: 100, scaling: scaling)
        checkGradients(inputs: [rng.tensor([4, 16])], "rope") { t, v in
            t.rope(v[0], heads: 2, headDim: 8, positions: [0, 3, 1, 9], cache: cache)
        }
    }

    @Test(arguments: [(4, 2, nil as Int?, false), (2, 1, 3, true), (2, 2, nil, true)])
    mutating func attention(heads: Int, kvHeads: Int, window: Int?, packed: Bool) {
        let (b, s, d) = (2, 5, 4)
        let shape = AttentionShape(batch: b, seq: s, heads: heads, kvHeads: kvHeads, headDim: d)
        let segments: [Int32]? = packed ? [0, 0, 1, 1, 1, 0, 0, 0, 1, 1] : nil
        let first = Attention.firstVisibleKeys(batch: b, seq: s, segments: segments, window: window)
        checkGradients(inputs: [rng.tensor([b * s, heads * d]), rng.tensor([b * s, kvHeads * d]), rng.tensor([b * s, kvHeads * d])],
                       eps: 1e-2, "attention H\(heads) KV\(kvHeads)") { t, v in
            t.attention(v[0], v[1], v[2], shape: shape, firstKey: first)
        }
    }

    /// More query rows than one tile, so the backward's tile loop and dk/dv accumulation run.
    @Test mutating func attentionAcrossTiles() {
        let shape = AttentionShape(batch: 1, seq: 70, heads: 2, kvHeads: 1, headDim: 2)
        let first = Attention.firstVisibleKeys(batch: 1, seq: 70, segments: nil, window: nil)
        checkGradients(inputs: [rng.tensor([70, 4]), rng.tensor([70, 2]), rng.tensor([70, 2])], "attention tiles") { t, v in
            t.attention(v[0], v[1], v[2], shape: shape, firstKey: first)
        }
    }

    @Test mutating func swigluAndAdd() {
        checkGradients(inputs: [rng.tensor([3, 4], -3, 3), rng.tensor([3, 4])], "swiglu") { t, v in t.swiglu(v[0], v[1]) }
        checkGradients(inputs: [rng.tensor([3, 4]), rng.tensor([3, 4])], "add") { t, v in t.add(v[0], v[1]) }
    }

    /// Inputs that reach the gradient through two ops, in both orders: the first backward to reach
    /// a slot writes it (``Tape/gradientDestination(of:)``), the later ones add to it.
    @Test mutating func opsWriteThenAccumulate() {
        let cache = RoPECache(headDim: 2, theta: 10, scaling: .none)
        checkGradients(inputs: [rng.tensor([3, 4], -3, 3), rng.tensor([3, 4])], "swiglu, then add reaches gate first") { t, v in
            t.add(t.swiglu(v[0], v[1]), v[0])
        }
        checkGradients(inputs: [rng.tensor([3, 4], -3, 3), rng.tensor([3, 4])], "add(x, x), then swiglu reaches x first") { t, v in
            t.swiglu(v[0], t.add(v[0], v[0]))
        }
        checkGradients(inputs: [rng.tensor([3, 4])], "add(x, x): x takes the output gradient, then adds it again") { t, v in
            t.add(v[0], v[0])
        }
        checkGradients(inputs: [rng.tensor([3, 4]), rng.tensor([3, 4])], "add(add(x, y), x): handed on twice") { t, v in
            t.swiglu(t.add(t.add(v[0], v[1]), v[0]), v[1])
        }
        checkGradients(inputs: [rng.tensor([3, 4])], "rope, then add reaches x first") { t, v in
            t.add(t.rope(v[0], heads: 2, headDim: 2, positions: [0, 2, 5], cache: cache), v[0])
        }
    }

    /// Fused projection + cross-entropy, with ignored rows and a trainable (tied-style) weight.
    @Test mutating func crossEntropy() {
        let w = Parameter("head", rng.tensor([11, 4]), requiresGrad: true)
        let labels: [Int32] = [3, -100, 10, 0, -100, 7]
        checkGradients(inputs: [rng.tensor([6, 4])], parameters: [w], eps: 1e-3, "crossEntropy") { t, v in
            t.crossEntropy(v[0], weight: w, labels: labels).loss
        }
    }

    /// The frozen-head path (vocabulary-chunked online softmax) by finite differences.
    @Test mutating func crossEntropyFrozenHead() {
        let w = Parameter("head", rng.tensor([11, 4], -2, 2))
        let labels: [Int32] = [3, -100, 10, 0, -100, 7]
        checkGradients(inputs: [rng.tensor([6, 4])], parameters: [], eps: 1e-3, "crossEntropy frozen head") { t, v in
            t.crossEntropy(v[0], weight: w, labels: labels).loss
        }
    }

    /// Loss is the mean over all valid tokens of the batch, and matches a direct computation.
    @Test mutating func crossEntropyValue() {
        let w = Parameter("head", rng.tensor([5, 3]))
        let h = rng.tensor([4, 3])
        let labels: [Int32] = [1, -100, 4, 0]
        let out = Tape().crossEntropy(Tape().constant(h), weight: w, labels: labels)
        let logits = Tape(recording: false).logits(Tape().constant(h), weight: w)
        let lp = CrossEntropy.logProbabilities(logits: logits.pointer, labels: labels, vocab: 5)
        #expect(out.tokens == 3)
        #expect(abs(out.loss.value[0] - -(lp[0] + lp[2] + lp[3]) / 3) < 1e-6)
    }
}
