import Foundation
import TailorData
import TailorTape
import TailorTensor

/// Which linear layers get adapters, and how.
public struct LoRAConfiguration: Sendable, Equatable {
    /// Rank r.
    public var rank: Int
    /// Alpha; the update is scaled by alpha/r (alpha/√r with rsLoRA).
    public var alpha: Float
    /// Dropout on the adapter input during training.
    public var dropout: Float
    /// rsLoRA scaling alpha/√r.
    public var useRSLoRA: Bool
    /// The adapted projections.
    public var targets: [LinearKind]
    /// The adapted layers (nil: all).
    public var layers: [Int]?
    /// Per-module rank overrides, keyed by a regex matched at the end of the module path (PEFT).
    public var rankPattern: [String: Int]
    /// Per-module alpha overrides, same matching.
    public var alphaPattern: [String: Float]

    public init(rank: Int = 8, alpha: Float = 16, dropout: Float = 0, useRSLoRA: Bool = false,
                targets: [LinearKind] = LinearKind.allCases, layers: [Int]? = nil,
                rankPattern: [String: Int] = [:], alphaPattern: [String: Float] = [:]) {
        self.rank = rank; self.alpha = alpha; self.dropout = dropout; self.useRSLoRA = useRSLoRA
        self.targets = targets; self.layers = layers; self.rankPattern = rankPattern; self.alphaPattern = alphaPattern
    }

    /// Parses a target list: `all-linear`, or comma-separated names like `q_proj,v_proj` (or `q,v`).
    public static func parseTargets(_ text: String) throws -> [LinearKind] {
        if text == "all-linear" || text == "all" { return LinearKind.allCases }
        return try text.split(separator: ",").map { raw in
            let name = raw.trimmingCharacters(in: .whitespaces)
            if let k = LinearKind(rawValue: name) ?? LinearKind(rawValue: name + "_proj") { return k }
            throw TailorError("unknown LoRA target \"\(name)\" (choose from \(LinearKind.allCases.map(\.rawValue).joined(separator: ",")) or all-linear)")
        }
    }

    /// The rank and alpha for one module, after patterns.
    func rankAndAlpha(for path: String) -> (Int, Float) {
        let r = PEFTPattern.lookup(rankPattern, path) ?? rank
        let a = PEFTPattern.lookup(alphaPattern, path) ?? alpha
        return (r, a)
    }

    /// The adapter's output scale for rank r and alpha a.
    public func scale(rank r: Int, alpha a: Float) -> Float {
        useRSLoRA ? a / Float(r).squareRoot() : a / Float(r)
    }
}

/// PEFT's pattern keys: `re.match(rf"(.*\.)?({key})$", module_path)`.
enum PEFTPattern {
    static func lookup<V>(_ patterns: [String: V], _ path: String) -> V? {
        // Longest key first so that a specific pattern wins over a general one deterministically.
        for key in patterns.keys.sorted(by: { $0.count > $1.count }) {
            guard let re = try? NSRegularExpression(pattern: "^(.*\\.)?(\(key))$") else { continue }
            if re.firstMatch(in: path, range: NSRange(path.startIndex..., in: path)) != nil { return patterns[key] }
        }
        return nil
    }
}

extension LlamaModel {
    /// Adds fresh adapters per `config`, initialised as PEFT does: A ~ U(±1/√in), B = 0.
    /// Adapters require gradients; base weights stay frozen.
    public func addAdapters(_ config: LoRAConfiguration, seed: UInt64 = 0) throws {
        guard config.rank > 0 else { throw TailorError("LoRA rank must be positive, got \(config.rank)") }
        guard (0..<1).contains(config.dropout) else { throw TailorError("LoRA dropout must be in [0, 1), got \(config.dropout)") }
        if let layers = config.layers, let bad = layers.first(where: { !(0..<blocks.count).contains($0) }) {
            throw TailorError("LoRA layer \(bad) is outside 0..<\(blocks.count)")
        }
        var rng = SeededGenerator(seed: seed)
        for block in blocks where config.layers?.contains(block.index) ?? true {
            for kind in config.targets {
                let layer = block[kind]
                let (r, alpha) = config.rankAndAlpha(for: layer.modulePath)
                let bound = 1 / Float(layer.inFeatures).squareRoot()
                let a = Tensor(uninitialized: [r, layer.inFeatures])
                for i in 0..<a.count { a[i] = rng.uniform(-bound, bound) }
                layer.lora = LoRAWeights(
                    a: Parameter(PEFTAdapter.key(layer, "lora_A"), a, requiresGrad: true),
                    b: Parameter(PEFTAdapter.key(layer, "lora_B"), Tensor(zeros: [layer.outFeatures, r]), requiresGrad: true),
                    scale: config.scale(rank: r, alpha: alpha), dropout: config.dropout)
            }
        }
    }

    /// Removes every adapter.
    public func removeAdapters() {
        for b in blocks { for k in LinearKind.allCases { b[k].lora = nil } }
    }

    /// Freezes or unfreezes every base parameter (full fine-tuning trains them all).
    public func setBaseTrainable(_ trainable: Bool) {
        for p in baseParameters { p.requiresGrad = trainable }
    }
}
