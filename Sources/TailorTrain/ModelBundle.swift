import Foundation
import TailorData
import TailorModels
import TailorTensor

/// A model folder with what comes with it: the weights, the tokenizer, its configuration and
/// the chat template (each of the last three may be absent).
public struct ModelBundle {
    public let folder: URL
    public let model: LlamaModel
    public let tokenizer: Tokenizer?
    public let tokenizerConfig: TokenizerConfig
    public let template: ChatTemplate?

    /// Loads a Hugging Face model folder.
    public static func load(_ path: String) throws -> ModelBundle {
        let folder = URL(fileURLWithPath: path)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDir), isDir.boolValue else {
            throw TailorError("\(folder.path): no such model folder")
        }
        let model = try LlamaModel(folder: folder)
        let tokURL = folder.appendingPathComponent("tokenizer.json")
        let tokenizer = FileManager.default.fileExists(atPath: tokURL.path) ? try Tokenizer(contentsOf: tokURL) : nil
        let config = try TokenizerConfig(contentsOf: folder.appendingPathComponent("tokenizer_config.json"))
        let template = try ChatTemplate.load(modelDirectory: folder)
        return ModelBundle(folder: folder, model: model, tokenizer: tokenizer, tokenizerConfig: config, template: template)
    }

    /// The tokenizer, or an error naming the missing file.
    public func requireTokenizer() throws -> Tokenizer {
        guard let tokenizer else { throw TailorError("\(folder.appendingPathComponent("tokenizer.json").path): missing (this command needs the model's tokenizer)") }
        return tokenizer
    }

    /// Tokens that end generation: the config's EOS ids, the tokenizer's EOS token and the chat
    /// template's end-of-turn markers that are single tokens.
    public var stopTokens: Set<Int> {
        var s = Set(model.configuration.eosTokenIds)
        if let tokenizer {
            for name in [tokenizerConfig.eosToken, "<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "</s>"].compactMap({ $0 }) {
                if let id = tokenizer.id(for: name), tokenizer.isSpecial(id) || name == tokenizerConfig.eosToken { s.insert(id) }
            }
        }
        return s
    }

    /// The id used to pad batch rows (never trained): the pad token, else EOS, else 0.
    public var paddingID: Int {
        if let tokenizer, let pad = tokenizerConfig.padToken, let id = tokenizer.id(for: pad) { return id }
        return model.configuration.padTokenId ?? model.configuration.eosTokenIds.first ?? 0
    }
}
