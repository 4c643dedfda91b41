import Foundation
import Tailor

/// Named model shapes for benchmarks (random weights; no downloads).
struct BenchShape {
    let name: String
    let hidden: Int, layers: Int, heads: Int, kvHeads: Int, intermediate: Int, vocab: Int, tied: Bool
    /// `llama`, or `qwen3` (per-head q/k norms); an explicit head dim where heads × head dim ≠ hidden.
    var modelType = "llama", explicitHeadDim: Int? = nil

    var headDim: Int { explicitHeadDim ?? hidden / heads }

    static let all: [BenchShape] = [
        BenchShape(name: "tiny", hidden: 64, layers: 2, heads: 4, kvHeads: 2, intermediate: 160, vocab: 256, tied: true),
        BenchShape(name: "smollm-135m", hidden: 576, layers: 30, heads: 9, kvHeads: 3, intermediate: 1536, vocab: 49152, tied: true),
        BenchShape(name: "smollm-360m", hidden: 960, layers: 32, heads: 15, kvHeads: 5, intermediate: 2560, vocab: 49152, tied: true),
        BenchShape(name: "qwen3-0.6b", hidden: 1024, layers: 28, heads: 16, kvHeads: 8, intermediate: 3072, vocab: 151_936, tied: true,
                   modelType: "qwen3", explicitHeadDim: 128),
        BenchShape(name: "tinyllama-1.1b", hidden: 2048, layers: 22, heads: 32, kvHeads: 4, intermediate: 5632, vocab: 32000, tied: false),
        // 27 GB in fp32: only with a block-quantized base (q4_0, q4_k, nf4, q8_0), as issue 7 names it.
        BenchShape(name: "llama-2-7b", hidden: 4096, layers: 32, heads: 32, kvHeads: 32, intermediate: 11008, vocab: 32000, tied: false),
    ]

    /// Parameters: the seven projections per layer, the embedding and an untied head.
    var parameterCount: Int {
        let hd = headDim
        let perLayer = hidden * heads * hd * 2 + hidden * kvHeads * hd * 2 + 3 * hidden * intermediate
        return layers * perLayer + vocab * hidden * (tied ? 1 : 2)
    }

    /// Bytes the weights take on a base of this format: fp32 and bf16 (packed for both product
    /// directions) cost 4 bytes a parameter; block formats about their bits per weight, plus the
    /// fp32 embedding and head.
    func weightBytes(_ base: BaseQuantization?) -> Int {
        let tables = vocab * hidden * (tied ? 1 : 2)
        let bitsPerWeight: Double
        switch base {
        case nil, .bf16?: return 4 * parameterCount
        case .q8_0?: bitsPerWeight = 8.5
        default: bitsPerWeight = 4.5
        }
        return Int(Double(parameterCount - tables) * bitsPerWeight / 8) + 4 * tables
    }

    var configJSON: String {
        """
        {"model_type": "\(modelType)", "hidden_size": \(hidden), "intermediate_size": \(intermediate), "head_dim": \(headDim),
         "num_hidden_layers": \(layers), "num_attention_heads": \(heads), "num_key_value_heads": \(kvHeads),
         "vocab_size": \(vocab), "rms_norm_eps": 1e-5, "rope_theta": 100000, "max_position_embeddings": 8192,
         "tie_word_embeddings": \(tied)}
        """
    }

    /// A model with random weights (std ≈ 0.02, norms 1). With `quantize`, the seven block
    /// projections are quantized as they are made, exactly as `tailor train --quantize` does at load.
    /// A random model of this shape; `frozen: .stored` holds the dense matrices as a bf16 checkpoint's
    /// would load with `--base-dtype stored` (frozen BF16, converted to fp32 tile by tile).
    func makeModel(seed: UInt64, quantize: BaseQuantization? = nil, frozen: FrozenStorage = .f32) throws -> LlamaModel {
        let config = try ModelConfiguration(json: Data(configJSON.utf8), source: "\(name) shape")
        var rng = SeededGenerator(seed: seed)
        func random(_ name: String, _ shape: [Int]) -> Tensor {
            let t = Tensor(uninitialized: shape)
            if name.hasSuffix("norm.weight") {
                t.pointer.update(repeating: 1, count: t.count)
            } else {
                for i in 0..<t.count { t[i] = rng.uniform(-0.035, 0.035) }
            }
            return t
        }
        let stored = frozen == .stored ? { (name: String, shape: [Int]) throws -> (any LinearWeight)? in
            try QuantizedMatrix(name: name, quantizing: random(name, shape), as: .bf16)
        } : nil
        guard let quantize else { return try LlamaModel(configuration: config, load: random, loadLinear: stored, loadTable: stored) }
        return try LlamaModel(configuration: config, quantizing: quantize, source: "\(name) shape", loadTable: stored, load: random)
    }

    /// Matmul FLOPs of one token through the frozen linear layers and the head, forward only (2·N).
    var forwardLinearFLOPsPerToken: Double {
        let hd = headDim
        let perLayer = hidden * (heads * hd) * 2 + hidden * (kvHeads * hd) * 2 + 3 * hidden * intermediate
        return 2 * Double(layers * perLayer + vocab * hidden)
    }

    /// Attention score and value FLOPs of one token at sequence length T (causal: half the square).
    func attentionFLOPsPerToken(seq: Int) -> Double {
        2 * 2 * Double(layers * heads * headDim) * Double(seq) / 2
    }
}
