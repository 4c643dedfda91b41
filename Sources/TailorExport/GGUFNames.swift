import Foundation
import TailorModels
import TailorTensor

/// llama.cpp's names for Hugging Face tensors and the Q/K row permutation of the `llama`
/// architecture (gguf.md §3.3, §4).
public enum GGUFNames {
    /// The llama.cpp architecture for a Hugging Face `model_type`: Llama and Mistral → `llama`,
    /// Qwen2 → `qwen2`.
    public static func architecture(modelType: String) throws -> String {
        switch modelType {
        case "llama", "mistral": return "llama"
        case "qwen2": return "qwen2"
        default: throw TailorError("model_type \(modelType) has no llama.cpp architecture Tailor can write")
        }
    }

    /// Whether q/k rows are interleaved for llama.cpp's adjacent-pair RoPE (only `llama`).
    public static func permutesQK(architecture: String) -> Bool { architecture == "llama" }

    static let linear: [String: String] = [
        "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
        "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
    ]
    static let norms: [String: String] = ["input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm"]

    /// The GGUF name of a Hugging Face tensor, or nil when llama.cpp has no such tensor.
    public static func gguf(_ hf: String) -> String? {
        switch hf {
        case "model.embed_tokens.weight": return "token_embd.weight"
        case "model.norm.weight": return "output_norm.weight"
        case "lm_head.weight": return "output.weight"
        default: break
        }
        let parts = hf.split(separator: ".").map(String.init)
        guard parts.count >= 5, parts[0] == "model", parts[1] == "layers", let n = Int(parts[2]) else { return nil }
        let rest = parts[3...].joined(separator: ".")
        for (k, v) in norms where rest == k + ".weight" { return "blk.\(n).\(v).weight" }
        for (k, v) in linear {
            if rest == k + ".weight" { return "blk.\(n).\(v).weight" }
            if rest == k + ".bias" { return "blk.\(n).\(v).bias" }
        }
        return nil
    }

    /// The Hugging Face name of a GGUF tensor (inverse of ``gguf(_:)``).
    public static func huggingFace(_ gguf: String) -> String? {
        switch gguf {
        case "token_embd.weight": return "model.embed_tokens.weight"
        case "output_norm.weight": return "model.norm.weight"
        case "output.weight": return "lm_head.weight"
        default: break
        }
        let parts = gguf.split(separator: ".").map(String.init)
        guard parts.count == 4, parts[0] == "blk", let n = Int(parts[1]) else { return nil }
        for (k, v) in norms where parts[2] == v && parts[3] == "weight" { return "model.layers.\(n).\(k).weight" }
        for (k, v) in linear where parts[2] == v { return "model.layers.\(n).\(k).\(parts[3])" }
        return nil
    }

    /// The number of head groups whose rows are permuted for this Hugging Face tensor
    /// (`n_head` for q_proj, `n_head_kv` for k_proj; weights and biases), nil when it is not permuted.
    public static func permutationGroups(_ hf: String, _ c: ModelConfiguration, architecture: String) -> Int? {
        guard permutesQK(architecture: architecture) else { return nil }
        if hf.hasSuffix("self_attn.q_proj.weight") || hf.hasSuffix("self_attn.q_proj.bias") { return c.headCount }
        if hf.hasSuffix("self_attn.k_proj.weight") || hf.hasSuffix("self_attn.k_proj.bias") { return c.kvHeadCount }
        return nil
    }

    /// Reorders the rows of `t` (`[rows, …]`) from Hugging Face's rotate-half layout to
    /// llama.cpp's interleaved one: with head dim D, `new[h·D + 2i] = old[h·D + i]`,
    /// `new[h·D + 2i + 1] = old[h·D + D/2 + i]`. `inverse` undoes it.
    public static func permuteRows(_ t: Tensor, groups: Int, inverse: Bool = false) -> Tensor {
        let rows = t.shape[0], cols = t.count / max(rows, 1), d = rows / groups, half = d / 2
        precondition(rows % groups == 0 && d % 2 == 0, "permuteRows: \(rows) rows in \(groups) groups")
        let out = Tensor(uninitialized: t.shape)
        for h in 0..<groups {
            for i in 0..<half {
                for (dst, src) in [(h * d + 2 * i, h * d + i), (h * d + 2 * i + 1, h * d + half + i)] {
                    let (to, from) = inverse ? (src, dst) : (dst, src)
                    (out.pointer + to * cols).update(from: t.pointer + from * cols, count: cols)
                }
            }
        }
        return out
    }
}
