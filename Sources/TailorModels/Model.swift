import Foundation
import TailorTape
import TailorTensor

/// The seven linear layers of a Llama-family block, named as in Hugging Face checkpoints.
public enum LinearKind: String, CaseIterable, Sendable, Codable {
    case q = "q_proj", k = "k_proj", v = "v_proj", o = "o_proj"
    case gate = "gate_proj", up = "up_proj", down = "down_proj"

    /// `self_attn` or `mlp`.
    public var group: String { [.q, .k, .v, .o].contains(self) ? "self_attn" : "mlp" }

    /// The module path in layer `layer`, e.g. `model.layers.3.self_attn.q_proj`.
    public func modulePath(layer: Int) -> String { "model.layers.\(layer).\(group).\(rawValue)" }
}

/// One linear layer: a (usually frozen) weight, an optional bias and an optional adapter.
public final class LinearLayer: @unchecked Sendable {
    public let kind: LinearKind
    public let layer: Int
    public internal(set) var weight: any LinearWeight  // [out, in]: a dense Parameter or a frozen quantized matrix
    public let bias: Parameter?   // [out]
    public var lora: LoRAWeights?

    init(kind: LinearKind, layer: Int, weight: any LinearWeight, bias: Parameter?) {
        self.kind = kind; self.layer = layer; self.weight = weight; self.bias = bias
    }

    public var inFeatures: Int { weight.inFeatures }
    public var outFeatures: Int { weight.outFeatures }
    public var modulePath: String { kind.modulePath(layer: layer) }
}

/// A pre-norm decoder block: attention and a SiLU-gated MLP, each with a residual.
public final class TransformerBlock: @unchecked Sendable {
    public let index: Int
    public let inputNorm: Parameter
    public let postAttentionNorm: Parameter
    /// Qwen3's RMSNorms over each head of q and of k (`[headDim]`), applied before RoPE; nil elsewhere.
    public let qNorm: Parameter?, kNorm: Parameter?
    public let linears: [LinearKind: LinearLayer]

    init(index: Int, inputNorm: Parameter, postAttentionNorm: Parameter, qNorm: Parameter? = nil, kNorm: Parameter? = nil,
         linears: [LinearKind: LinearLayer]) {
        self.index = index; self.inputNorm = inputNorm; self.postAttentionNorm = postAttentionNorm
        self.qNorm = qNorm; self.kNorm = kNorm; self.linears = linears
    }

    /// The block's norm weights: input, post-attention, then q and k norms where the architecture has them.
    public var norms: [Parameter] { [inputNorm, postAttentionNorm] + [qNorm, kNorm].compactMap { $0 } }

    public subscript(_ kind: LinearKind) -> LinearLayer { linears[kind]! }

    /// Every parameter of the block, adapters included.
    public var parameters: [Parameter] {
        var ps = norms
        for kind in LinearKind.allCases {
            let l = self[kind]
            if let w = l.weight.parameter { ps.append(w) }
            if let b = l.bias { ps.append(b) }
            if let lora = l.lora { ps += [lora.a, lora.b] }
        }
        return ps
    }
}

/// Which activations the forward keeps for the backward.
public enum CheckpointPolicy: Sendable, Equatable {
    /// Keep every activation (fastest, most memory).
    case none
    /// Keep only each block's input; recompute the block in the backward.
    case everyBlock
    /// Keep only the input of each run of k blocks; recompute the run in the backward.
    case every(Int)

    var segmentLength: Int? {
        switch self {
        case .none: nil
        case .everyBlock: 1
        case .every(let k): max(1, k)
        }
    }
}

/// A Llama-family causal language model (Llama, Mistral, Qwen2, Qwen3) computed in fp32.
public final class LlamaModel: @unchecked Sendable {
    public let configuration: ModelConfiguration
    /// The token embedding `[vocab, hidden]`: a ``Parameter``, or a frozen quantized table from a GGUF
    /// (looked up row by row, never expanded).
    public internal(set) var embedding: any LinearWeight  // [vocab, hidden]
    public let blocks: [TransformerBlock]
    public let finalNorm: Parameter  // [hidden]
    /// The output projection `[vocab, hidden]`; the embedding itself when tied. A frozen quantized
    /// head is multiplied tile by tile in the fused cross-entropy.
    public internal(set) var outputHead: any LinearWeight
    let rope: RoPECache
    /// Attention's products in bf16 on AMX tiles (fp32 softmax and accumulation) during training;
    /// set for ``BaseQuantization/bf16`` models, whose projections already run that way.
    public var bf16Attention = false

    /// Loads a Hugging Face model folder (`config.json` + safetensors in f32, f16 or bf16).
    /// - Parameter frozen: ``FrozenStorage/stored`` keeps F16/BF16 matrices as stored (frozen, half the memory).
    public convenience init(folder: URL, frozen: FrozenStorage = .f32) throws {
        let config = try ModelConfiguration(folder: folder)
        let files = try WeightFiles(folder: folder)
        let stored = files.frozenLoader(frozen)
        try self.init(configuration: config, load: { name, shape in try files.tensor(name, shape: shape) }, loadLinear: stored, loadTable: stored)
    }

    /// Builds a model, asking `load(name, shape)` for each weight by its Hugging Face name.
    ///
    /// `loadLinear(name, shape)`, when given, is asked first for the seven block projections and
    /// may return a frozen quantized matrix (QLoRA); nil falls back to a dense `load`. `loadTable`
    /// is asked the same for the token embedding and the untied output head.
    public init(configuration c: ModelConfiguration, load: (String, [Int]) throws -> Tensor,
                loadLinear: ((String, [Int]) throws -> (any LinearWeight)?)? = nil,
                loadTable: ((String, [Int]) throws -> (any LinearWeight)?)? = nil) throws {
        configuration = c
        let h = c.hiddenSize, q = c.headCount * c.headDim, kv = c.kvHeadCount * c.headDim, f = c.intermediateSize
        func param(_ name: String, _ shape: [Int]) throws -> Parameter { Parameter(name, try load(name, shape)) }
        func table(_ name: String) throws -> any LinearWeight {
            let shape = [c.vocabularySize, h]
            guard let w = try loadTable?(name, shape) else { return try param(name, shape) }
            guard [w.outFeatures, w.inFeatures] == shape else {
                throw TailorError("\(name): shape [\(w.outFeatures), \(w.inFeatures)], the configuration implies \(shape)")
            }
            return w
        }
        embedding = try table("model.embed_tokens.weight")
        var blocks: [TransformerBlock] = []
        let shapes: [LinearKind: [Int]] = [.q: [q, h], .k: [kv, h], .v: [kv, h], .o: [h, q], .gate: [f, h], .up: [f, h], .down: [h, f]]
        for i in 0..<c.layerCount {
            var linears: [LinearKind: LinearLayer] = [:]
            for kind in LinearKind.allCases {
                let path = kind.modulePath(layer: i), shape = shapes[kind]!
                let hasBias = ([.q, .k, .v].contains(kind) && c.attentionBias) || (kind.group == "mlp" && c.mlpBias)
                    || (kind == .o && c.attentionBias && ["llama", "qwen3"].contains(c.modelType))
                let bias = hasBias ? try param(path + ".bias", [shape[0]]) : nil
                let weight: any LinearWeight = try loadLinear?(path + ".weight", shape) ?? param(path + ".weight", shape)
                guard [weight.outFeatures, weight.inFeatures] == shape else {
                    throw TailorError("\(path).weight: shape [\(weight.outFeatures), \(weight.inFeatures)], the configuration implies \(shape)")
                }
                linears[kind] = LinearLayer(kind: kind, layer: i, weight: weight, bias: bias)
            }
            func qkNorm(_ name: String) throws -> Parameter? {
                c.qkNorm ? try param("model.layers.\(i).self_attn.\(name).weight", [c.headDim]) : nil
            }
            blocks.append(TransformerBlock(
                index: i, inputNorm: try param("model.layers.\(i).input_layernorm.weight", [h]),
                postAttentionNorm: try param("model.layers.\(i).post_attention_layernorm.weight", [h]),
                qNorm: try qkNorm("q_norm"), kNorm: try qkNorm("k_norm"), linears: linears))
        }
        self.blocks = blocks
        finalNorm = try param("model.norm.weight", [h])
        outputHead = c.tieWordEmbeddings ? embedding : try table("lm_head.weight")
        rope = RoPECache(headDim: c.headDim, theta: c.ropeTheta, scaling: c.ropeScaling)
    }

    /// Every base parameter by Hugging Face name (a tied head appears once, as the embedding).
    public var baseParameters: [Parameter] {
        var ps = [embedding.parameter].compactMap { $0 }
        for b in blocks {
            ps += b.norms
            for kind in LinearKind.allCases { if let w = b[kind].weight.parameter { ps.append(w) }; if let bias = b[kind].bias { ps.append(bias) } }
        }
        ps.append(finalNorm)
        if outputHead !== embedding, let head = outputHead.parameter { ps.append(head) }
        return ps
    }

    /// Every linear layer that carries an adapter.
    public var adaptedLayers: [LinearLayer] {
        blocks.flatMap { b in LinearKind.allCases.compactMap { b[$0].lora == nil ? nil : b[$0] } }
    }

    /// The parameters that currently require gradients.
    public var trainableParameters: [Parameter] {
        (baseParameters + adaptedLayers.flatMap { [$0.lora!.a, $0.lora!.b] }).filter(\.requiresGrad)
    }

    /// The final normed hidden states `[rows·length, hidden]`.
    ///
    /// - Parameters:
    ///   - checkpointing: which activations to keep for the backward.
    ///   - dropoutSeed: fixes LoRA dropout masks for this step (nil: no dropout).
    public func hiddenStates(_ tape: Tape, _ batch: Batch, checkpointing: CheckpointPolicy = .none, dropoutSeed: UInt64? = nil) -> Variable {
        let c = configuration
        let shape = AttentionShape(batch: batch.rows, seq: batch.length, heads: c.headCount, kvHeads: c.kvHeadCount, headDim: c.headDim)
        let firstKey = Attention.firstVisibleKeys(batch: batch.rows, seq: batch.length, segments: batch.segments, window: c.slidingWindow)
        rope.reserve(Int(batch.positions.max() ?? 0) + 1)
        var x = tape.embedding(batch.tokens, table: embedding)  // [N, hidden]
        let run = { (tape: Tape, x: Variable, range: Range<Int>) -> Variable in
            var x = x
            for i in range {
                // Re-run for a checkpoint's backward, the segment's output is never read: its last
                // down projection (a quarter of a block's FLOPs) need not be multiplied again.
                let outputUnused = tape.isRecomputation && i == range.last
                x = self.block(tape, x, self.blocks[i], batch: batch, shape: shape, firstKey: firstKey, dropoutSeed: dropoutSeed,
                               outputUnused: outputUnused)
            }
            return x
        }
        if let k = checkpointing.segmentLength {
            for start in stride(from: 0, to: blocks.count, by: k) {
                let range = start..<min(blocks.count, start + k)
                let trainable = range.contains { blocks[$0].parameters.contains(where: \.requiresGrad) }
                x = tape.checkpoint(x, trainable: trainable) { tape, x in run(tape, x, range) }
            }
        } else {
            x = run(tape, x, 0..<blocks.count)
        }
        return tape.rmsNorm(x, weight: finalNorm, eps: c.rmsNormEps)
    }

    /// One decoder block on x `[N, hidden]`.
    /// `outputUnused`: the block's output value will not be read (see ``Tape/isRecomputation``).
    func block(_ tape: Tape, _ x: Variable, _ b: TransformerBlock, batch: Batch, shape: AttentionShape,
               firstKey: [Int32], dropoutSeed: UInt64?, outputUnused: Bool = false) -> Variable {
        let c = configuration
        func linear(_ input: Variable, _ kind: LinearKind, recompute: Recomputed? = nil, valueUnused: Bool = false) -> Variable {
            let l = b[kind]
            let seed = dropoutSeed.map { $0 &+ UInt64(b.index * LinearKind.allCases.count + LinearKind.allCases.firstIndex(of: kind)!) &* 0x2545_F491_4F6C_DD1D }
            return tape.linear(input, weight: l.weight, bias: l.bias, lora: l.lora, dropoutSeed: seed,
                               recomputeInput: recompute.map { r in { r.value } }, valueUnused: valueUnused)
        }
        // The normed inputs and the SwiGLU output are cheap to rebuild from tensors other ops keep
        // (x, h, gate, up), so the linears that read them do not keep them: about a third less
        // activation memory, for two RMSNorms and one SwiGLU per block in the backward.
        let n1 = tape.rmsNorm(x, weight: b.inputNorm, eps: c.rmsNormEps)
        let n1Again = Recomputed { [x = x.value, w = b.inputNorm.value] in Self.rmsNormed(x, w, eps: c.rmsNormEps) }
        let q = rotated(tape, linear(n1, .q, recompute: n1Again), norm: b.qNorm, heads: c.headCount, positions: batch.positions)
        let k = rotated(tape, linear(n1, .k, recompute: n1Again), norm: b.kNorm, heads: c.kvHeadCount, positions: batch.positions)
        let v = linear(n1, .v, recompute: n1Again)
        let attn = tape.attention(q, k, v, shape: shape, firstKey: firstKey, bf16: bf16Attention)
        let h = tape.add(x, linear(attn, .o))
        let n2 = tape.rmsNorm(h, weight: b.postAttentionNorm, eps: c.rmsNormEps)
        let n2Again = Recomputed { [h = h.value, w = b.postAttentionNorm.value] in Self.rmsNormed(h, w, eps: c.rmsNormEps) }
        let gate = linear(n2, .gate, recompute: n2Again), up = linear(n2, .up, recompute: n2Again)
        let hAgain = Recomputed { [g = gate.value, u = up.value] in
            let out = Tensor(uninitialized: g.shape)
            SwiGLU.forward(gate: g.pointer, up: u.pointer, h: out.pointer, count: out.count)
            return out
        }
        let mlp = linear(tape.swiglu(gate, up), .down, recompute: hAgain, valueUnused: outputUnused)
        return tape.add(h, mlp)
    }

    /// Projected queries or keys `[n, heads·headDim]` made ready for attention: normed per head where the
    /// architecture does so (Qwen3's `norm`), then rotated by RoPE at `positions`.
    func rotated(_ tape: Tape, _ x: Variable, norm: Parameter?, heads: Int, positions: [Int32]) -> Variable {
        let c = configuration
        let normed = norm.map { tape.rmsNorm(x, weight: $0, eps: c.rmsNormEps) } ?? x
        return tape.rope(normed, heads: heads, headDim: c.headDim, positions: positions, cache: rope)
    }

    /// RMSNorm's forward value, as ``Tape/rmsNorm(_:weight:eps:)`` computes it.
    static func rmsNormed(_ x: Tensor, _ weight: Tensor, eps: Float) -> Tensor {
        let rows = x.shape[0], dim = x.shape[1]
        let y = Tensor(uninitialized: x.shape), rstd = Tensor(uninitialized: [rows])
        RMSNorm.forward(x: x.pointer, weight: weight.pointer, y: y.pointer, rstd: rstd.pointer, rows: rows, dim: dim, eps: eps)
        return y
    }

    /// The training loss: cross-entropy of every target, the sum divided by `normalizer`
    /// (default: the batch's trained-token count, i.e. the mean over the batch's tokens).
    public func loss(_ tape: Tape, _ batch: Batch, checkpointing: CheckpointPolicy = .none,
                     dropoutSeed: UInt64? = nil, normalizer: Float? = nil) -> LossOutput {
        let h = hiddenStates(tape, batch, checkpointing: checkpointing, dropoutSeed: dropoutSeed)
        return tape.crossEntropy(h, weight: outputHead, labels: batch.targets, normalizer: normalizer)
    }

    /// Logits `[rows·length, vocab]` without gradients.
    public func logits(_ batch: Batch) -> Tensor {
        let tape = Tape(recording: false)
        return tape.logits(hiddenStates(tape, batch), weight: outputHead)
    }

    /// `log p(ids[i+1] | ids[0…i])` for i in 0..<n−1.
    public func logProbabilities(_ ids: [Int]) -> [Float] {
        guard ids.count > 1 else { return [] }
        let batch = Batch(sequences: [ids])
        let l = logits(batch)
        return Array(CrossEntropy.logProbabilities(logits: l.pointer, labels: batch.targets, vocab: configuration.vocabularySize).dropLast())
    }
}

/// A forward value rebuilt on first use in the backward and shared by the ops that read it; it
/// lives only as long as their backward closures.
final class Recomputed: @unchecked Sendable {
    private let make: () -> Tensor
    private var made: Tensor?
    init(_ make: @escaping () -> Tensor) { self.make = make }
    var value: Tensor {
        if let made { return made }
        let t = make()
        made = t
        return t
    }
}
