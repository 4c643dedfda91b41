import Foundation
import TailorTensor

/// A Llama-family model's hyperparameters, read from a Hugging Face `config.json`.
///
/// Both spellings are accepted: transformers 4 (`rope_theta`, `rope_scaling`, `torch_dtype`) and
/// transformers 5 (`rope_parameters`, `dtype`). Architectures: `llama` (Llama 2/3/3.x, TinyLlama,
/// SmolLM), `mistral`, `qwen2` (q/k/v biases) and `qwen3` (RMSNorm over each head of q and k).
public struct ModelConfiguration: Sendable, Equatable {
    public var modelType: String
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var headDim: Int
    public var vocabularySize: Int
    public var rmsNormEps: Float
    public var ropeTheta: Float
    public var ropeScaling: RoPEScaling
    public var maxPositionEmbeddings: Int
    public var tieWordEmbeddings: Bool
    /// q/k/v projections carry a bias (always for Qwen2; `attention_bias` for Llama).
    public var attentionBias: Bool
    /// The MLP projections carry a bias (`mlp_bias`).
    public var mlpBias: Bool
    /// q and k are RMS-normed per head before RoPE (`q_norm`, `k_norm`: Qwen3).
    public var qkNorm: Bool
    /// Mistral's sliding attention window, if any.
    public var slidingWindow: Int?
    public var bosTokenId: Int?
    public var eosTokenIds: [Int]
    public var padTokenId: Int?
    /// The checkpoint dtype as declared (informational; compute is fp32).
    public var dtype: String?

    /// The architectures Tailor can run.
    public static let supportedTypes = ["llama", "mistral", "qwen2", "qwen3"]

    /// Parses `config.json` bytes; `source` names the file in errors.
    public init(json data: Data, source: String) throws {
        guard let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw TailorError("\(source): not a JSON object")
        }
        let r = Reader(obj: obj, source: source)
        let type = try r.string("model_type")
        guard Self.supportedTypes.contains(type) else {
            throw TailorError("\(source): model_type \"\(type)\" is not supported (supported: \(Self.supportedTypes.joined(separator: ", ")))")
        }
        modelType = type
        hiddenSize = try r.int("hidden_size")
        intermediateSize = try r.int("intermediate_size")
        layerCount = try r.int("num_hidden_layers")
        headCount = try r.int("num_attention_heads")
        kvHeadCount = try r.optionalInt("num_key_value_heads") ?? headCount
        vocabularySize = try r.int("vocab_size")
        guard hiddenSize > 0, intermediateSize > 0, layerCount > 0, headCount > 0, kvHeadCount > 0, vocabularySize > 0 else {
            throw TailorError("\(source): sizes must be positive")
        }
        guard headCount % kvHeadCount == 0 else {
            throw TailorError("\(source): num_attention_heads \(headCount) is not a multiple of num_key_value_heads \(kvHeadCount)")
        }
        if let hd = try r.optionalInt("head_dim") {
            headDim = hd
        } else {
            guard hiddenSize % headCount == 0 else { throw TailorError("\(source): hidden_size \(hiddenSize) not divisible by \(headCount) heads and no head_dim") }
            headDim = hiddenSize / headCount
        }
        guard headDim > 0, headDim % 2 == 0 else { throw TailorError("\(source): head_dim \(headDim) must be even") }
        rmsNormEps = Float(try r.optionalDouble("rms_norm_eps") ?? 1e-6)
        maxPositionEmbeddings = try r.optionalInt("max_position_embeddings") ?? 2048
        tieWordEmbeddings = try r.optionalBool("tie_word_embeddings") ?? false
        attentionBias = type == "qwen2" ? true : (try r.optionalBool("attention_bias") ?? false)
        mlpBias = try r.optionalBool("mlp_bias") ?? false
        qkNorm = type == "qwen3"
        if let act = obj["hidden_act"] as? String, act != "silu" {
            throw TailorError("\(source): hidden_act \"\(act)\" is not supported (only silu)")
        }
        // Mistral applies its window everywhere; Qwen2 and Qwen3 only when use_sliding_window is set.
        let window = try r.optionalInt("sliding_window")
        if type.hasPrefix("qwen") {
            if try r.optionalBool("use_sliding_window") == true {
                throw TailorError("\(source): use_sliding_window is not supported for \(type)")
            }
            slidingWindow = nil
        } else {
            slidingWindow = window
        }
        bosTokenId = try r.optionalInt("bos_token_id")
        eosTokenIds = try r.intOrList("eos_token_id")
        padTokenId = try r.optionalInt("pad_token_id")
        dtype = (obj["dtype"] as? String) ?? (obj["torch_dtype"] as? String)

        // RoPE: v5 `rope_parameters` holds theta and scaling; v4 has top-level theta + `rope_scaling`.
        let params = obj["rope_parameters"] as? [String: Any]
        let scaling = params ?? (obj["rope_scaling"] as? [String: Any])
        ropeTheta = Float(try Reader(obj: params ?? obj, source: source).optionalDouble("rope_theta")
            ?? r.optionalDouble("rope_theta") ?? 10000)
        let kind = (scaling?["rope_type"] as? String) ?? (scaling?["type"] as? String) ?? "default"
        let s = Reader(obj: scaling ?? [:], source: source + " rope scaling")
        switch kind {
        case "default":
            ropeScaling = .none
        case "linear":
            ropeScaling = .linear(factor: Float(try s.double("factor")))
        case "llama3":
            ropeScaling = .llama3(
                factor: Float(try s.double("factor")),
                lowFrequencyFactor: Float(try s.double("low_freq_factor")),
                highFrequencyFactor: Float(try s.double("high_freq_factor")),
                originalContext: Float(try s.optionalDouble("original_max_position_embeddings") ?? Double(maxPositionEmbeddings)))
        default:
            throw TailorError("\(source): rope type \"\(kind)\" is not supported (supported: default, linear, llama3)")
        }
    }

    /// Reads `config.json` in a model folder.
    public init(folder: URL) throws {
        let url = folder.appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw TailorError("\(url.path): missing (a Hugging Face model folder needs config.json)")
        }
        try self.init(json: data, source: url.path)
    }

    /// Trainable-parameter-free count of the base model's weights.
    public var parameterCount: Int {
        let h = hiddenSize, q = headCount * headDim, kv = kvHeadCount * headDim, f = intermediateSize
        var perLayer = h * q * 2 + h * kv * 2 + 3 * h * f + 2 * h
        if attentionBias { perLayer += q + 2 * kv + (modelType == "qwen2" ? 0 : h) }  // Llama and Qwen3 bias o_proj too
        if qkNorm { perLayer += 2 * headDim }
        if mlpBias { perLayer += 2 * f + h }
        return layerCount * perLayer + vocabularySize * h * (tieWordEmbeddings ? 1 : 2) + h
    }
}

/// Typed lookups in a JSON object with errors naming the file and key.
private struct Reader {
    let obj: [String: Any]
    let source: String

    func string(_ key: String) throws -> String {
        guard let v = obj[key] else { throw TailorError("\(source): missing \"\(key)\"") }
        guard let s = v as? String else { throw TailorError("\(source): \"\(key)\" must be a string") }
        return s
    }

    func int(_ key: String) throws -> Int {
        guard let v = try optionalInt(key) else { throw TailorError("\(source): missing \"\(key)\"") }
        return v
    }

    func optionalInt(_ key: String) throws -> Int? {
        guard let v = obj[key], !(v is NSNull) else { return nil }
        guard let n = v as? NSNumber, let i = Int(exactly: n.doubleValue) else {
            throw TailorError("\(source): \"\(key)\" must be an integer, got \(v)")
        }
        return i
    }

    func double(_ key: String) throws -> Double {
        guard let v = try optionalDouble(key) else { throw TailorError("\(source): missing \"\(key)\"") }
        return v
    }

    func optionalDouble(_ key: String) throws -> Double? {
        guard let v = obj[key], !(v is NSNull) else { return nil }
        guard let n = v as? NSNumber else { throw TailorError("\(source): \"\(key)\" must be a number, got \(v)") }
        return n.doubleValue
    }

    func optionalBool(_ key: String) throws -> Bool? {
        guard let v = obj[key], !(v is NSNull) else { return nil }
        guard let b = v as? Bool else { throw TailorError("\(source): \"\(key)\" must be true or false") }
        return b
    }

    func intOrList(_ key: String) throws -> [Int] {
        guard let v = obj[key], !(v is NSNull) else { return [] }
        if let list = v as? [Any] {
            return try list.map {
                guard let n = $0 as? NSNumber, let i = Int(exactly: n.doubleValue) else { throw TailorError("\(source): \"\(key)\" must hold integers") }
                return i
            }
        }
        return [try int(key)]
    }
}
