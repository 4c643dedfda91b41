import Foundation
import TailorTape
import TailorTensor

/// LoRA adapters in PEFT's on-disk format: `adapter_config.json` + `adapter_model.safetensors`
/// with keys like `base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`
/// (A `[r, in]`, B `[out, r]`), so PEFT loads ours and we load PEFT's.
public enum PEFTAdapter {
    static let prefix = "base_model.model."

    /// The file key of a layer's `lora_A` / `lora_B` weight.
    static func key(_ layer: LinearLayer, _ which: String) -> String {
        "\(prefix)\(layer.modulePath).\(which).weight"
    }

    /// The adapter settings read from `adapter_config.json`.
    public struct Settings: Sendable {
        public var configuration: LoRAConfiguration
        public var baseModel: String?
    }

    /// Reads and checks `adapter_config.json`; rejects what Tailor cannot apply, naming the field.
    public static func readSettings(folder: URL) throws -> Settings {
        let url = folder.appendingPathComponent("adapter_config.json")
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw TailorError("\(url.path): missing (a PEFT adapter folder needs adapter_config.json)")
        }
        guard let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw TailorError("\(url.path): not a JSON object")
        }
        let path = url.path
        if let t = obj["peft_type"] as? String, t != "LORA" { throw TailorError("\(path): peft_type \(t) is not supported (only LORA)") }
        if obj["use_dora"] as? Bool == true { throw TailorError("\(path): use_dora (DoRA) is not supported") }
        if obj["fan_in_fan_out"] as? Bool == true { throw TailorError("\(path): fan_in_fan_out is not supported") }
        if let b = obj["bias"] as? String, b != "none" { throw TailorError("\(path): bias \"\(b)\" is not supported (only none)") }
        if obj["lora_bias"] as? Bool == true { throw TailorError("\(path): lora_bias is not supported") }
        if let m = obj["modules_to_save"] as? [Any], !m.isEmpty { throw TailorError("\(path): modules_to_save is not supported") }
        guard let r = (obj["r"] as? NSNumber)?.intValue, r > 0 else { throw TailorError("\(path): \"r\" must be a positive integer") }
        let alpha = (obj["lora_alpha"] as? NSNumber)?.floatValue ?? Float(r)
        var targets = LinearKind.allCases
        if let list = obj["target_modules"] as? [String] {
            targets = try list.map { name in
                guard let k = LinearKind.allCases.first(where: { name == $0.rawValue || name.hasSuffix("." + $0.rawValue) }) else {
                    throw TailorError("\(path): target module \"\(name)\" is not supported (only \(LinearKind.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                return k
            }
        } else if let s = obj["target_modules"] as? String, s != "all-linear" {
            let re = try? NSRegularExpression(pattern: "^(?:\(s))$")
            targets = LinearKind.allCases.filter { kind in
                let p = kind.modulePath(layer: 0)
                return re?.firstMatch(in: p, range: NSRange(p.startIndex..., in: p)) != nil
            }
        }
        let layers = (obj["layers_to_transform"] as? [NSNumber])?.map(\.intValue)
            ?? ((obj["layers_to_transform"] as? NSNumber).map { [$0.intValue] })
        let rankPattern = ((obj["rank_pattern"] as? [String: Any]) ?? [:]).compactMapValues { ($0 as? NSNumber)?.intValue }
        let alphaPattern = ((obj["alpha_pattern"] as? [String: Any]) ?? [:]).compactMapValues { ($0 as? NSNumber)?.floatValue }
        let config = LoRAConfiguration(
            rank: r, alpha: alpha, dropout: (obj["lora_dropout"] as? NSNumber)?.floatValue ?? 0,
            useRSLoRA: obj["use_rslora"] as? Bool ?? false, targets: targets, layers: layers,
            rankPattern: rankPattern, alphaPattern: alphaPattern)
        return Settings(configuration: config, baseModel: obj["base_model_name_or_path"] as? String)
    }

    /// Loads an adapter folder into `model` (replacing any adapters). Every tensor in the file
    /// must be a LoRA A/B pair of a supported layer with matching shapes.
    @discardableResult
    public static func load(folder: URL, into model: LlamaModel, trainable: Bool = false) throws -> LoRAConfiguration {
        let settings = try readSettings(folder: folder)
        let config = settings.configuration
        let file = try SafetensorsFile(url: folder.appendingPathComponent("adapter_model.safetensors"))
        let fileName = file.url.path
        var layersByPath: [String: LinearLayer] = [:]
        for b in model.blocks { for k in LinearKind.allCases { layersByPath[b[k].modulePath] = b[k] } }
        var pairs: [String: (a: Tensor?, b: Tensor?)] = [:]
        for name in file.entries.keys.sorted() {
            guard name.hasPrefix(prefix) else { throw TailorError("\(fileName): unexpected tensor \(name)") }
            let rest = name.dropFirst(prefix.count)
            let which: String
            if rest.hasSuffix(".lora_A.weight") { which = "A" } else if rest.hasSuffix(".lora_B.weight") { which = "B" } else {
                throw TailorError("\(fileName): tensor \(name) is not a LoRA A/B weight (DoRA, embedding LoRA and modules_to_save are not supported)")
            }
            let path = String(rest.dropLast(".lora_A.weight".count))
            guard layersByPath[path] != nil else { throw TailorError("\(fileName): tensor \(name) names no layer of this model") }
            let t = try file.tensor(name)
            if which == "A" { pairs[path, default: (nil, nil)].a = t } else { pairs[path, default: (nil, nil)].b = t }
        }
        model.removeAdapters()
        for (path, pair) in pairs.sorted(by: { $0.key < $1.key }) {
            let layer = layersByPath[path]!
            guard let a = pair.a, let b = pair.b else { throw TailorError("\(fileName): \(path) has only one of lora_A / lora_B") }
            let r = a.shape[0]
            guard a.shape == [r, layer.inFeatures], b.shape == [layer.outFeatures, r] else {
                throw TailorError("\(fileName): \(path) lora_A \(a.shape) / lora_B \(b.shape) do not fit the layer [\(layer.outFeatures), \(layer.inFeatures)]")
            }
            let (_, alpha) = config.rankAndAlpha(for: path)
            layer.lora = LoRAWeights(
                a: Parameter(key(layer, "lora_A"), a, requiresGrad: trainable),
                b: Parameter(key(layer, "lora_B"), b, requiresGrad: trainable),
                scale: config.scale(rank: r, alpha: alpha), dropout: config.dropout)
        }
        return config
    }

    /// Writes `model`'s adapters to `folder` in PEFT format (files replaced atomically).
    ///
    /// Ranks and alphas that differ from `config.rank` / `config.alpha` are written as
    /// `rank_pattern` / `alpha_pattern` entries keyed by the full module path.
    public static func save(_ model: LlamaModel, config: LoRAConfiguration, to folder: URL, baseModel: String? = nil) throws {
        let layers = model.adaptedLayers
        guard !layers.isEmpty else { throw TailorError("the model has no adapters to save") }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var tensors: [(name: String, tensor: Tensor)] = []
        var rankPattern: [String: Int] = [:], alphaPattern: [String: Float] = [:]
        for l in layers {
            let lora = l.lora!
            tensors.append((key(l, "lora_A"), lora.a.value))
            tensors.append((key(l, "lora_B"), lora.b.value))
            if lora.rank != config.rank { rankPattern[l.modulePath] = lora.rank }
            let (_, alpha) = config.rankAndAlpha(for: l.modulePath)
            if alpha != config.alpha { alphaPattern[l.modulePath] = alpha }
        }
        let layerIndices = Set(layers.map(\.layer)).sorted()
        let targets = Set(layers.map(\.kind.rawValue)).sorted()
        var obj: [String: Any] = [
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": config.rank, "lora_alpha": Double(config.alpha),
            "lora_dropout": Double(config.dropout), "target_modules": targets, "bias": "none",
            "use_rslora": config.useRSLoRA, "use_dora": false, "fan_in_fan_out": false, "init_lora_weights": true,
            "modules_to_save": NSNull(), "rank_pattern": rankPattern, "alpha_pattern": alphaPattern.mapValues(Double.init),
            "base_model_name_or_path": baseModel.map { $0 as Any } ?? NSNull(), "inference_mode": true,
            "layers_to_transform": layerIndices.count == model.blocks.count ? NSNull() : layerIndices as Any,
        ]
        obj["peft_version"] = "0.21.2"
        let json = try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys])
        try SafetensorsWriter.write(tensors, to: folder.appendingPathComponent("adapter_model.safetensors"))
        try AtomicFile.write(json, to: folder.appendingPathComponent("adapter_config.json"))
    }
}
