import Foundation
import TailorModels
import TailorQuant
import TailorTensor

/// Reads a `llama` / `qwen2` GGUF model (as Tailor or `convert_hf_to_gguf.py` writes it) back
/// into a ``LlamaModel``: metadata → configuration, tensors dequantized to fp32 and the Q/K row
/// permutation undone. Used by the parity proof and to merge into a GGUF base.
///
/// Mistral GGUFs load as `llama` with full attention, as llama.cpp runs them (gguf.md §3.7).
public enum GGUFModelReader {
    /// The `config.json` object equivalent to a GGUF's metadata.
    public static func configObject(_ f: GGUFFile) throws -> [String: Any] {
        let arch = try f.require("general.architecture").string ?? ""
        guard ["llama", "qwen2"].contains(arch) else { throw TailorError("\(f.path): architecture \(arch) is not supported (llama, qwen2)") }
        func int(_ key: String) throws -> Int {
            guard let v = try f.require("\(arch).\(key)").integer else { throw TailorError("\(f.path): \(arch).\(key) is not an integer") }
            return v
        }
        func opt(_ key: String) -> GGUFValue? { f.metadata["\(arch).\(key)"] }
        let embd = try f.info("token_embd.weight")
        let heads = try int("attention.head_count"), hidden = try int("embedding_length")
        var obj: [String: Any] = [
            "model_type": arch, "hidden_size": hidden, "intermediate_size": try int("feed_forward_length"),
            "num_hidden_layers": try int("block_count"), "num_attention_heads": heads,
            "num_key_value_heads": opt("attention.head_count_kv")?.integer ?? heads,
            "head_dim": opt("attention.key_length")?.integer ?? opt("rope.dimension_count")?.integer ?? hidden / heads,
            "vocab_size": embd.shape[0],
            "rms_norm_eps": try f.require("\(arch).attention.layer_norm_rms_epsilon").number ?? 1e-5,
            "rope_theta": opt("rope.freq_base")?.number ?? 10000,
            "max_position_embeddings": opt("context_length")?.integer ?? 2048,
            "tie_word_embeddings": !f.contains("output.weight"),
            "attention_bias": f.contains("blk.0.attn_q.bias"), "mlp_bias": f.contains("blk.0.ffn_gate.bias"),
            "hidden_act": "silu",
        ]
        if opt("rope.scaling.type")?.string == "linear", let factor = opt("rope.scaling.factor")?.number {
            obj["rope_scaling"] = ["rope_type": "linear", "factor": factor]
        }
        if f.contains("rope_freqs.weight") {
            let keys = ["factor", "low_freq_factor", "high_freq_factor", "original_context_length"]
            let values = keys.compactMap { f.metadata["tailor.rope.llama3.\($0)"]?.number }
            guard values.count == 4 else { throw TailorError("\(f.path): rope_freqs.weight without Tailor's tailor.rope.llama3.* keys is not supported") }
            obj["rope_scaling"] = ["rope_type": "llama3", "factor": values[0], "low_freq_factor": values[1],
                                   "high_freq_factor": values[2], "original_max_position_embeddings": values[3]]
        }
        if let bos = f.metadata["tokenizer.ggml.bos_token_id"]?.integer { obj["bos_token_id"] = bos }
        if let eos = f.metadata["tokenizer.ggml.eos_token_id"]?.integer { obj["eos_token_id"] = eos }
        return obj
    }

    /// Loads the model in `path`.
    public static func load(path: String) throws -> (model: LlamaModel, file: GGUFFile) {
        let f = try GGUFFile(path: path)
        let obj = try configObject(f)
        let config = try ModelConfiguration(json: try JSONSerialization.data(withJSONObject: obj), source: path)
        let arch = obj["model_type"] as! String
        if let freqs = try? f.floats("rope_freqs.weight"), let want = GGUFExport.ropeFrequencyFactors(config) {
            guard freqs.count == want.count, zip(freqs.array, want).allSatisfy({ abs($0 - $1) <= 1e-6 * max(1, abs($1)) }) else {
                throw TailorError("\(path): rope_freqs.weight does not match its tailor.rope.llama3.* keys")
            }
        }
        let model = try LlamaModel(configuration: config) { hf, shape in
            guard let name = GGUFNames.gguf(hf) else { throw TailorError("\(path): no GGUF name for \(hf)") }
            let info = try f.info(name)
            guard info.shape == shape else { throw TailorError("\(path): tensor \(name) has shape \(info.shape), the metadata implies \(shape)") }
            guard info.type.isDequantizable else { throw TailorError("\(path): tensor \(name) has type \(info.type), which Tailor cannot read") }
            let t = try f.floats(name)
            if let groups = GGUFNames.permutationGroups(hf, config, architecture: arch) { return GGUFNames.permuteRows(t, groups: groups, inverse: true) }
            return t
        }
        let expected = model.baseParameters.count + (f.contains("rope_freqs.weight") ? 1 : 0)
        guard f.tensors.count == expected else {
            throw TailorError("\(path): \(f.tensors.count) tensors, the architecture has \(expected) (llama.cpp rejects extra tensors)")
        }
        return (model, f)
    }
}
