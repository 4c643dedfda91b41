import Foundation
import TailorData
import TailorQuant
import TailorTape
import TailorTensor

/// Loading Llama-family models from GGUF files (llama.cpp's format): `llama` (Llama, Mistral-style),
/// `qwen2` and `qwen3` architectures, with quantized block weights kept quantized.
public enum GGUFModel {
    /// GGUF names of the tensors outside the blocks, by Hugging Face name.
    public static let fixedNames = ["model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
                                    "lm_head.weight": "output.weight"]

    /// GGUF names of a block's tensors by Hugging Face name, after `model.layers.N.` / `blk.N.`: the norms
    /// with their `.weight`, the projections without their `.weight` / `.bias`.
    public static let blockNames = [
        "input_layernorm.weight": "attn_norm.weight", "post_attention_layernorm.weight": "ffn_norm.weight",
        "self_attn.q_norm.weight": "attn_q_norm.weight", "self_attn.k_norm.weight": "attn_k_norm.weight",
        "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
        "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
    ]

    /// The GGUF name of a Hugging Face tensor, or nil when llama.cpp has no such tensor.
    public static func ggufName(forHF name: String) -> String? {
        if let f = fixedNames[name] { return f }
        let parts = name.split(separator: ".")
        guard parts.count >= 5, parts[0] == "model", parts[1] == "layers", let layer = Int(parts[2]) else { return nil }
        let rest = parts[3...].joined(separator: ".")
        if let m = blockNames[rest] { return "blk.\(layer).\(m)" }
        for suffix in ["weight", "bias"] where rest.hasSuffix("." + suffix) {
            if let m = blockNames[String(rest.dropLast(suffix.count + 1))] { return "blk.\(layer).\(m).\(suffix)" }
        }
        return nil
    }

    /// The Hugging Face name of a GGUF tensor (inverse of ``ggufName(forHF:)``), or nil.
    public static func huggingFaceName(forGGUF name: String) -> String? {
        if let f = fixedNames.first(where: { $0.value == name }) { return f.key }
        let parts = name.split(separator: ".", maxSplits: 2).map(String.init)
        guard parts.count == 3, parts[0] == "blk", let layer = Int(parts[1]) else { return nil }
        if let m = blockNames.first(where: { $0.value == parts[2] }) { return "model.layers.\(layer).\(m.key)" }
        for suffix in ["weight", "bias"] where parts[2].hasSuffix("." + suffix) {
            let stem = String(parts[2].dropLast(suffix.count + 1))
            if let m = blockNames.first(where: { $0.value == stem }) { return "model.layers.\(layer).\(m.key).\(suffix)" }
        }
        return nil
    }

    /// The model configuration from `{arch}.*` metadata.
    public static func configuration(_ f: GGUFFile) throws -> ModelConfiguration {
        try ModelConfiguration(json: try JSONSerialization.data(withJSONObject: try configurationObject(f)), source: f.path)
    }

    /// The `config.json` object equivalent to a GGUF's `{arch}.*` metadata: what ``configuration(_:)``
    /// decodes, and what a Hugging Face folder exported from the GGUF carries.
    ///
    /// `rope_freqs.weight` (llama.cpp's form of Llama 3.1 RoPE scaling) becomes a llama3 `rope_scaling`:
    /// from the `tailor.rope.llama3.*` keys Tailor's exporter writes beside it (``load(_:mapDenseMatrices:)``
    /// checks that the tensor agrees with them), else recovered from the tensor itself
    /// (``llama3Scaling(factors:headDim:theta:)``), as llama.cpp's converter writes no keys.
    public static func configurationObject(_ f: GGUFFile) throws -> [String: Any] {
        guard let arch = f.metadata["general.architecture"]?.string else { throw TailorError("\(f.path): missing metadata key general.architecture") }
        guard ["llama", "qwen2", "qwen3"].contains(arch) else {
            throw TailorError("\(f.path): general.architecture \"\(arch)\" is not supported (supported: llama, qwen2, qwen3)")
        }
        func int(_ key: String) throws -> Int {
            guard let v = try f.require("\(arch).\(key)").integer, v >= 0 else { throw TailorError("\(f.path): \(arch).\(key) must be a non-negative integer") }
            return v
        }
        func optInt(_ key: String) throws -> Int? { f.metadata["\(arch).\(key)"] == nil ? nil : try int(key) }
        func num(_ key: String) throws -> Double? {
            guard let v = f.metadata["\(arch).\(key)"] else { return nil }
            guard let d = v.number else { throw TailorError("\(f.path): \(arch).\(key) must be a number") }
            return d
        }
        let embd = try f.info("token_embd.weight")
        let hidden = try int("embedding_length"), heads = try int("attention.head_count"), theta = try num("rope.freq_base") ?? 10000
        var cfg: [String: Any] = [
            "model_type": arch, "hidden_size": hidden, "intermediate_size": try int("feed_forward_length"),
            "num_hidden_layers": try int("block_count"), "num_attention_heads": heads,
            "num_key_value_heads": try optInt("attention.head_count_kv") ?? heads,
            "vocab_size": try optInt("vocab_size") ?? embd.shape[0],
            "rms_norm_eps": try num("attention.layer_norm_rms_epsilon") ?? 1e-5,
            "rope_theta": theta,
            "max_position_embeddings": try optInt("context_length") ?? 2048,
            "tie_word_embeddings": !f.contains("output.weight"),
            "attention_bias": f.contains("blk.0.attn_q.bias"),  // Qwen2 always has them (the configuration ignores this)
            "mlp_bias": f.contains("blk.0.ffn_gate.bias"),
            "hidden_act": "silu",
        ]
        // llama.cpp: key_length defaults to hidden / heads, and `llama` requires rope.dimension_count to equal it.
        if let hd = try optInt("attention.key_length") ?? optInt("rope.dimension_count") { cfg["head_dim"] = hd }
        if let kind = f.metadata["\(arch).rope.scaling.type"]?.string, kind != "none" {
            guard kind == "linear", let factor = try num("rope.scaling.factor") else {
                throw TailorError("\(f.path): \(arch).rope.scaling.type \"\(kind)\" is not supported (only linear)")
            }
            cfg["rope_scaling"] = ["rope_type": "linear", "factor": factor]
        }
        if f.contains("rope_freqs.weight") {
            let keys = ["factor", "low_freq_factor", "high_freq_factor", "original_context_length"]
            var values = keys.compactMap { f.metadata["tailor.rope.llama3.\($0)"]?.number }
            if values.count != keys.count {
                let headDim = cfg["head_dim"] as? Int ?? hidden / max(heads, 1)
                let factors = try f.floats("rope_freqs.weight").array
                guard case .llama3(let factor, let low, let high, let old)? = llama3Scaling(
                    factors: factors, headDim: headDim, theta: Float(theta)) else {
                    throw TailorError("\(f.path): rope_freqs.weight holds \(factors.count) frequency factors that are not Llama 3.1-style RoPE scaling (the only kind supported) for head size \(headDim)")
                }
                values = [factor, low, high, old].map(Double.init)
            }
            cfg["rope_scaling"] = ["rope_type": "llama3", "factor": values[0], "low_freq_factor": values[1],
                                   "high_freq_factor": values[2], "original_max_position_embeddings": values[3]]
        }
        if let b = f.metadata["tokenizer.ggml.bos_token_id"]?.integer { cfg["bos_token_id"] = b }
        if let e = f.metadata["tokenizer.ggml.eos_token_id"]?.integer { cfg["eos_token_id"] = e }
        if let p = f.metadata["tokenizer.ggml.padding_token_id"]?.integer { cfg["pad_token_id"] = p }
        return cfg
    }

    /// llama's converter interleaves the two RoPE halves of each head's q/k rows; this is the
    /// inverse (`order[hfRow]` = GGUF row).
    public static func unpermuteOrder(rows: Int, headDim: Int) -> [Int32] {
        let half = headDim / 2
        return (0..<rows).map { r in
            let h = r / headDim, i = r % headDim
            return Int32(h * headDim + (i < half ? 2 * i : 2 * (i - half) + 1))
        }
    }

    /// Loads the model. Quantized block weights (Q8_0, Q4_K, …) stay quantized and memory-mapped;
    /// so do a quantized token embedding (looked up row by row) and output head (multiplied tile by
    /// tile). F32/F16/BF16 tensors and the norms are read as fp32.
    ///
    /// - Parameters:
    ///   - mapDenseMatrices: also leave F32/F16/BF16 matrices (projections, embedding, head) in the
    ///     mapped file as frozen weights, so only norms and biases are copied into memory. For merging and
    ///     export, which read each weight once; such a base cannot be fully fine-tuned.
    ///   - frozen: ``FrozenStorage/stored`` leaves the F16/BF16 ones there (frozen, half the memory of fp32).
    public static func load(_ f: GGUFFile, mapDenseMatrices: Bool = false, frozen: FrozenStorage = .f32) throws -> LlamaModel {
        let (c, dense, info) = try readers(f)
        let dense16: Set<GGMLType> = mapDenseMatrices ? [.f32, .f16, .bf16] : frozen == .stored ? [.f16, .bf16] : []
        let mapped = mapping(f, c, info) { dense16.contains($0) || ![.f32, .f16, .bf16].contains($0) }
        return try LlamaModel(configuration: c, load: dense, loadLinear: mapped, loadTable: mapped)
    }

    /// Loads the model with its seven block projections (re)quantized to `q` as they are read, as
    /// ``LlamaModel/init(folder:quantizing:frozen:)`` does for a folder: each projection is read as fp32
    /// (dequantized, if the file holds it quantized) and quantized again, so a file already in a
    /// block format takes two roundings. For F32/F16/BF16 files, and for `bf16`, the AMX fast path.
    /// With ``FrozenStorage/stored`` an F16/BF16 embedding and head stay in the mapped file.
    public static func load(_ f: GGUFFile, quantizing q: BaseQuantization, frozen: FrozenStorage = .f32) throws -> LlamaModel {
        let (c, dense, info) = try readers(f)
        let stored = frozen == .stored ? mapping(f, c, info) { [.f16, .bf16].contains($0) } : nil
        return try LlamaModel(configuration: c, quantizing: q, source: f.path, loadTable: stored, load: dense)
    }

    /// A loader that leaves a matrix in the mapped file as a frozen ``QuantizedMatrix`` (Q/K rows read in
    /// Hugging Face order) when `keep(type)`, else answers nil (read as fp32).
    private static func mapping(_ f: GGUFFile, _ c: ModelConfiguration, _ info: @escaping (String, [Int]) throws -> GGUFFile.TensorInfo,
                                keep: @escaping (GGMLType) -> Bool) -> (String, [Int]) throws -> (any LinearWeight)? {
        { hf, shape in
            let i = try info(hf, shape)
            guard keep(i.type) else { return nil }
            return try QuantizedMatrix(name: hf, type: i.type, outFeatures: shape[0], inFeatures: shape[1], bytes: f.bytes(i),
                                       owner: f, rowOrder: unpermutation(c, hf, rows: shape[0]))
        }
    }

    /// The rows of a llama q/k projection in Hugging Face order (llama's converter permutes them), else nil.
    private static func unpermutation(_ c: ModelConfiguration, _ hf: String, rows: Int) -> [Int32]? {
        guard c.modelType == "llama", hf.contains(".q_proj.") || hf.contains(".k_proj.") else { return nil }
        return unpermuteOrder(rows: rows, headDim: c.headDim)
    }

    /// The configuration, a reader of any tensor as fp32 by its Hugging Face name (Q/K rows in HF
    /// order), and a lookup of its GGUF entry (shape checked).
    private static func readers(_ f: GGUFFile) throws
        -> (ModelConfiguration, (String, [Int]) throws -> Tensor, (String, [Int]) throws -> GGUFFile.TensorInfo) {
        let c = try configuration(f)
        if f.contains("rope_freqs.weight") {
            // The llama3 scaling comes from the tailor.rope.llama3.* keys; the tensor llama.cpp uses must agree.
            guard factorsAgree(try f.floats("rope_freqs.weight").array, ropeFrequencyFactors(c) ?? []) else {
                throw TailorError("\(f.path): rope_freqs.weight does not match its tailor.rope.llama3.* keys")
            }
        }
        let info: (String, [Int]) throws -> GGUFFile.TensorInfo = { hf, shape in
            guard let name = ggufName(forHF: hf) else { throw TailorError("\(f.path): no GGUF name for \(hf)") }
            let i = try f.info(name)
            guard i.shape == shape else { throw TailorError("\(f.path): tensor \(name) has shape \(i.shape), the metadata implies \(shape)") }
            return i
        }
        let dense: (String, [Int]) throws -> Tensor = { hf, shape in
            let i = try info(hf, shape)
            let t = try f.floats(i.name)
            guard let o = unpermutation(c, hf, rows: shape[0]) else { return t }
            let width = shape.count == 2 ? shape[1] : 1
            let out = Tensor(uninitialized: shape)
            for (r, src) in o.enumerated() { (out.pointer + r * width).update(from: t.pointer + Int(src) * width, count: width) }
            return out
        }
        return (c, dense, info)
    }

    /// The tokenizer from `tokenizer.ggml.*`, or nil when the file has none.
    public static func tokenizer(_ f: GGUFFile) throws -> Tokenizer? {
        try tokenizer(metadata: f.metadata, source: f.path)
    }

    /// The special-token strings a chat template sees (`bos_token`, `eos_token`, …): the tokens GGUF names by id.
    public static func tokenizerConfig(_ f: GGUFFile, tokenizer: Tokenizer?) -> TokenizerConfig {
        func token(_ key: String) -> String? { f.metadata["tokenizer.ggml.\(key)_token_id"]?.integer.flatMap { tokenizer?.token(for: $0) } }
        var config = TokenizerConfig()
        config.bosToken = token("bos"); config.eosToken = token("eos"); config.padToken = token("padding"); config.unkToken = token("unknown")
        return config
    }

    /// The tokenizer from `tokenizer.ggml.*` metadata values, or nil when there are none.
    /// - Parameters:
    ///   - metadata: GGUF metadata by key (a file's, or what an exporter is about to write).
    ///   - source: The file's path, for errors.
    public static func tokenizer(metadata: [String: GGUFValue], source: String) throws -> Tokenizer? {
        let f = (metadata: metadata, path: source)
        guard let model = f.metadata["tokenizer.ggml.model"]?.string else { return nil }
        func strings(_ key: String) throws -> [String]? {
            guard let v = f.metadata[key] else { return nil }
            guard let a = v.array, a.allSatisfy({ $0.string != nil }) else { throw TailorError("\(f.path): \(key) must be an array of strings") }
            return a.map { $0.string! }
        }
        guard let tokens = try strings("tokenizer.ggml.tokens") else { throw TailorError("\(f.path): missing metadata key tokenizer.ggml.tokens") }
        let scores = try f.metadata["tokenizer.ggml.scores"].map { v -> [Float] in
            guard let a = v.array else { throw TailorError("\(f.path): tokenizer.ggml.scores must be an array") }
            return try a.map { guard let d = $0.number else { throw TailorError("\(f.path): tokenizer.ggml.scores must hold numbers") }; return Float(d) }
        }
        let types = try f.metadata["tokenizer.ggml.token_type"].map { v -> [Int] in
            guard let a = v.array else { throw TailorError("\(f.path): tokenizer.ggml.token_type must be an array") }
            return try a.map { guard let i = $0.integer else { throw TailorError("\(f.path): tokenizer.ggml.token_type must hold integers") }; return i }
        }
        let vocab = GGUFVocabulary(
            model: model, pre: f.metadata["tokenizer.ggml.pre"]?.string, tokens: tokens, scores: scores, types: types,
            merges: try strings("tokenizer.ggml.merges"), bosID: f.metadata["tokenizer.ggml.bos_token_id"]?.integer,
            eosID: f.metadata["tokenizer.ggml.eos_token_id"]?.integer, unknownID: f.metadata["tokenizer.ggml.unknown_token_id"]?.integer,
            addBOS: f.metadata["tokenizer.ggml.add_bos_token"]?.bool, addEOS: f.metadata["tokenizer.ggml.add_eos_token"]?.bool,
            addSpacePrefix: f.metadata["tokenizer.ggml.add_space_prefix"]?.bool)
        return try Tokenizer(gguf: vocab, source: f.path)
    }

    /// The chat template from `tokenizer.chat_template`, or nil.
    /// - Throws: an error naming the file when the value is not a string or does not compile.
    public static func chatTemplate(_ f: GGUFFile) throws -> ChatTemplate? {
        guard let value = f.metadata["tokenizer.chat_template"] else { return nil }
        guard let s = value.string else { throw TailorError("\(f.path): tokenizer.chat_template is not a string") }
        do {
            return try ChatTemplate(source: s)
        } catch {
            throw TailorError("\(f.path): tokenizer.chat_template does not compile: \(error)")
        }
    }
}
