import Foundation
import TailorModels
import TailorTensor

/// llama.cpp's names for Hugging Face tensors and the Q/K row permutation of the `llama`
/// architecture (gguf.md §3.3, §4).
public enum GGUFNames {
    /// The llama.cpp architecture for a Hugging Face `model_type`: Llama and Mistral → `llama`,
    /// Qwen2 → `qwen2`, Qwen3 → `qwen3`.
    public static func architecture(modelType: String) throws -> String {
        switch modelType {
        case "llama", "mistral": return "llama"
        case "qwen2", "qwen3": return modelType
        default: throw TailorError("model_type \(modelType) has no llama.cpp architecture Tailor can write")
        }
    }

    /// Whether q/k rows are interleaved for llama.cpp's adjacent-pair RoPE (only `llama`).
    public static func permutesQK(architecture: String) -> Bool { architecture == "llama" }

    /// The GGUF name of a Hugging Face tensor, or nil when llama.cpp has no such tensor.
    public static func gguf(_ hf: String) -> String? { GGUFModel.ggufName(forHF: hf) }

    /// The Hugging Face name of a GGUF tensor (inverse of ``gguf(_:)``).
    public static func huggingFace(_ gguf: String) -> String? { GGUFModel.huggingFaceName(forGGUF: gguf) }

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
