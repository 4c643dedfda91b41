import Foundation
import TailorTensor

/// What `tailor inspect` shows about a model folder, read from `config.json`, safetensors
/// headers (no weights are loaded) and the tokenizer files.
public struct ModelSummary: Sendable {
    public let path: String
    public let configuration: ModelConfiguration
    /// Elements over all tensors in the files.
    public let storedParameters: Int
    public let tensorCount: Int
    /// Tensor dtype → count.
    public let dtypes: [String: Int]
    public let hasTokenizer: Bool
    public let hasChatTemplate: Bool

    public init(folder: URL) throws {
        path = folder.path
        configuration = try ModelConfiguration(folder: folder)
        let files = try WeightFiles(folder: folder)
        var total = 0
        for name in files.names { total += Tensor.elementCount(try files.entry(name).shape) }
        storedParameters = total
        tensorCount = files.names.count
        dtypes = files.dtypeCounts
        let fm = FileManager.default
        hasTokenizer = fm.fileExists(atPath: folder.appendingPathComponent("tokenizer.json").path)
        var template = fm.fileExists(atPath: folder.appendingPathComponent("chat_template.jinja").path)
        if !template, let data = fm.contents(atPath: folder.appendingPathComponent("tokenizer_config.json").path),
           let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] {
            template = obj["chat_template"] != nil && !(obj["chat_template"] is NSNull)
        }
        hasChatTemplate = template
    }

    /// Ordered key/value pairs for display and JSON.
    public var fields: [(String, Any)] {
        let c = configuration
        var rope: String
        switch c.ropeScaling {
        case .none: rope = "default"
        case .linear(let f): rope = "linear ×\(f)"
        case .llama3(let f, let lo, let hi, let old): rope = "llama3 factor \(f) low \(lo) high \(hi) original \(Int(old))"
        }
        return [
            ("path", path), ("architecture", c.modelType), ("hidden_size", c.hiddenSize), ("layers", c.layerCount),
            ("heads", c.headCount), ("kv_heads", c.kvHeadCount), ("head_dim", c.headDim),
            ("intermediate_size", c.intermediateSize), ("vocab_size", c.vocabularySize),
            ("max_position_embeddings", c.maxPositionEmbeddings), ("rope_theta", c.ropeTheta), ("rope_scaling", rope),
            ("sliding_window", c.slidingWindow as Any? ?? NSNull()), ("tied_embeddings", c.tieWordEmbeddings),
            ("rms_norm_eps", c.rmsNormEps), ("parameters", storedParameters), ("tensors", tensorCount),
            ("dtypes", dtypes), ("config_dtype", c.dtype as Any? ?? NSNull()),
            ("bos_token_id", c.bosTokenId as Any? ?? NSNull()), ("eos_token_ids", c.eosTokenIds),
            ("tokenizer", hasTokenizer), ("chat_template", hasChatTemplate),
        ]
    }
}
