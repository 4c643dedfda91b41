import Foundation
import TailorModels
import TailorQuant
import TailorTape
import TailorTensor

/// Writes a model's LoRA adapters as a llama.cpp adapter GGUF (`--lora`, Ollama `ADAPTER`),
/// following gguf.md §5: `general.type = adapter`, `adapter.type = lora`, `adapter.lora.alpha`
/// (FLOAT32), F32 tensors `<base>.lora_a` (`[r, in]`, PEFT A as-is) and `<base>.lora_b`
/// (`[out, r]`, rows Q/K-permuted for `llama`).
///
/// llama.cpp scales every pair by `alpha / r` with one alpha per file. The file alpha is PEFT's
/// `lora_alpha`, times √r with rsLoRA (so `alpha / r = lora_alpha / √r`); a module whose own scale
/// differs (rank or alpha patterns with rsLoRA, alpha patterns) gets the ratio folded into its B.
public enum AdapterGGUFExport {
    /// What was written.
    public struct Summary: Sendable {
        public let alpha: Float
        public let pairs: Int
        /// Modules whose B was rescaled, with the factor.
        public let folded: [(String, Float)]
    }

    /// Refuses adapter folders llama.cpp cannot apply, suggesting `tailor merge` (checked before
    /// loading, so the message names the real reason).
    public static func checkRepresentable(adapterFolder: URL) throws {
        let cfg = adapterFolder.appendingPathComponent("adapter_config.json")
        if let data = FileManager.default.contents(atPath: cfg.path),
           let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] {
            if obj["use_dora"] as? Bool == true {
                throw TailorError("\(cfg.path): DoRA (use_dora) cannot be expressed as a llama.cpp LoRA adapter (its magnitude vector is rejected); export a merged model instead (`tailor merge`, once Tailor loads DoRA, or PEFT merge_and_unload)")
            }
            let targets = (obj["target_modules"] as? [String]) ?? []
            if let m = targets.first(where: { $0.hasSuffix("embed_tokens") || $0.hasSuffix("lm_head") }) {
                throw TailorError("\(cfg.path): LoRA on \(m) cannot be written as a llama.cpp adapter (embedding/tied-head LoRA is looked up under the wrong tensor); use `tailor merge` for a merged GGUF")
            }
        }
    }

    /// Writes the adapters of `model` (configuration `config`) to `url`.
    @discardableResult
    public static func write(_ model: LlamaModel, config: LoRAConfiguration, name: String, to url: URL) throws -> Summary {
        let c = model.configuration
        let arch = try GGUFNames.architecture(modelType: c.modelType)
        let layers = model.adaptedLayers
        guard !layers.isEmpty else { throw TailorError("\(url.path): the adapter has no LoRA layers to write") }
        let alpha = config.useRSLoRA ? config.alpha * Float(config.rank).squareRoot() : config.alpha
        guard alpha != 0 else { throw TailorError("\(url.path): lora_alpha 0 would make llama.cpp use scale 1 (gguf.md §5.4)") }
        var w = GGUFWriter()
        w.set("general.architecture", .string(arch))
        w.set("general.type", .string("adapter"))
        w.set("general.name", .string(name))
        w.set("adapter.type", .string("lora"))
        w.set("adapter.lora.alpha", .float32(alpha))
        w.set("general.quantization_version", .uint32(2))
        var folded: [(String, Float)] = []
        for l in layers {
            let lora = l.lora!
            let r = lora.a.value.shape[0]
            let factor = lora.scale / (alpha / Float(r))
            guard let base = GGUFNames.gguf(l.modulePath + ".weight") else { throw TailorError("\(url.path): no llama.cpp name for \(l.modulePath)") }
            var b = lora.b.value
            if abs(factor - 1) > 1e-6 {
                folded.append((l.modulePath, factor))
                let scaled = b.copy()
                for i in 0..<scaled.count { scaled.pointer[i] *= factor }
                b = scaled
            }
            if let groups = GGUFNames.permutationGroups(l.modulePath + ".weight", c, architecture: arch) {
                b = GGUFNames.permuteRows(b, groups: groups)
            }
            try w.addTensor(base + ".lora_a", lora.a.value, type: .f32)
            try w.addTensor(base + ".lora_b", b, type: .f32)
        }
        try w.write(to: url)
        return Summary(alpha: alpha, pairs: layers.count, folded: folded)
    }

    /// Applies an adapter GGUF to `model` the way llama.cpp does (scale `alpha / r` per pair,
    /// Q/K permutation undone): used to prove the written file.
    public static func load(path: String, into model: LlamaModel) throws {
        let f = try GGUFFile(path: path)
        guard f.metadata["general.type"]?.string == "adapter", f.metadata["adapter.type"]?.string == "lora" else {
            throw TailorError("\(path): not a LoRA adapter GGUF (general.type / adapter.type)")
        }
        guard case .float32(let alpha)? = f.metadata["adapter.lora.alpha"] else { throw TailorError("\(path): adapter.lora.alpha must be FLOAT32") }
        let c = model.configuration
        let arch = try GGUFNames.architecture(modelType: c.modelType)
        model.removeAdapters()
        for info in f.tensors where info.name.hasSuffix(".lora_a") {
            let base = String(info.name.dropLast(".lora_a".count))
            guard let hf = GGUFNames.huggingFace(base), hf.hasSuffix(".weight") else { throw TailorError("\(path): \(info.name) names no base tensor") }
            let path2 = String(hf.dropLast(".weight".count))
            guard let layer = model.blocks.lazy.flatMap({ b in LinearKind.allCases.map { b[$0] } }).first(where: { $0.modulePath == path2 }) else {
                throw TailorError("\(path): \(info.name): no layer \(path2)")
            }
            let a = try f.floats(info.name)
            var b = try f.floats(base + ".lora_b")
            if let groups = GGUFNames.permutationGroups(hf, c, architecture: arch) { b = GGUFNames.permuteRows(b, groups: groups, inverse: true) }
            let r = a.shape[0]
            guard a.shape == [r, layer.inFeatures], b.shape == [layer.outFeatures, r] else {
                throw TailorError("\(path): \(base) lora_a \(a.shape) / lora_b \(b.shape) do not fit [\(layer.outFeatures), \(layer.inFeatures)]")
            }
            layer.lora = LoRAWeights(a: Parameter(info.name, a), b: Parameter(base + ".lora_b", b), scale: alpha / Float(r), dropout: 0)
        }
    }
}
