import Foundation
import TailorData
import TailorModels
import TailorQuant
import TailorTensor

/// A model folder with what comes with it: the weights, the tokenizer, its configuration and
/// the chat template (each of the last three may be absent).
///
/// A tokenizer that is there but cannot be read (a malformed `tokenizer.json`, GGUF metadata
/// naming a tokenizer model without its tokens) does not stop the model loading: `tokenizer` is
/// nil and ``requireTokenizer()`` reports the problem, so commands that take token ids still run.
/// A chat template that does not compile is kept the same way (``templateProblem``), so text
/// data and raw prompts still work and only what needs the template fails.
public struct ModelBundle {
    public let folder: URL
    public let model: LlamaModel
    public let tokenizer: Tokenizer?
    public let tokenizerConfig: TokenizerConfig
    /// The chat template, when the model has one that compiles.
    public private(set) var template: ChatTemplate?
    /// Why a chat template that is present could not be loaded (then `template` is nil).
    public let templateProblem: String?
    /// Why a tokenizer that is present could not be read.
    private let tokenizerProblem: Error?

    /// Loads a Hugging Face model folder or a `.gguf` file.
    ///
    /// - Parameters:
    ///   - quantize: quantize the block projections at load time (QLoRA, or bf16 for the AMX fast
    ///     path); a GGUF file's projections are read as fp32 and quantized again.
    ///   - computeBF16: run every frozen product in bf16 (``LlamaModel/computeInBF16()``).
    ///   - frozen: how frozen F16/BF16 matrices are held: ``FrozenStorage/stored`` keeps them as the file
    ///     does (half the memory of fp32; not for full fine-tuning).
    public static func load(_ path: String, quantize: BaseQuantization? = nil, computeBF16: Bool = false,
                            frozen: FrozenStorage = .f32) throws -> ModelBundle {
        let bundle = try loadFiles(path, quantize: quantize, frozen: frozen)
        if computeBF16 { try bundle.model.computeInBF16() }
        return bundle
    }

    /// Sets the chat template's ``ChatTemplate/variables`` from a JSON object (`--template-kwargs`); nil
    /// leaves them as they are.
    /// - Throws: when the text is not a JSON object, or the model has no usable chat template for them.
    public mutating func setTemplateVariables(json: String?, source: String) throws {
        guard let json else { return }
        template = try ChatTemplate.withVariables(ChatTemplate.variables(json: json, source: source), template, problem: templateProblem,
                                                  model: folder.path, source: source)
    }

    private static func loadFiles(_ path: String, quantize: BaseQuantization?, frozen: FrozenStorage) throws -> ModelBundle {
        let folder = URL(fileURLWithPath: path)
        var isDir: ObjCBool = false
        if path.lowercased().hasSuffix(".gguf") {
            let file = try GGUFFile(path: path)
            let model = try quantize.map { try GGUFModel.load(file, quantizing: $0, frozen: frozen) } ?? GGUFModel.load(file, frozen: frozen)
            let (tokenizer, problem) = readTokenizer { try GGUFModel.tokenizer(file) }
            let config = GGUFModel.tokenizerConfig(file, tokenizer: tokenizer)
            let (template, templateProblem) = DatasetEncoder.loadingTemplate { try GGUFModel.chatTemplate(file) }
            return ModelBundle(folder: folder, model: model, tokenizer: tokenizer, tokenizerConfig: config, template: template,
                               templateProblem: templateProblem, tokenizerProblem: problem)
        }
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDir), isDir.boolValue else {
            throw TailorError("\(folder.path): no such model folder (or .gguf file)")
        }
        let model = try quantize.map { try LlamaModel(folder: folder, quantizing: $0, frozen: frozen) } ?? LlamaModel(folder: folder, frozen: frozen)
        let tokURL = folder.appendingPathComponent("tokenizer.json")
        let (tokenizer, problem) = readTokenizer { FileManager.default.fileExists(atPath: tokURL.path) ? try Tokenizer(contentsOf: tokURL) : nil }
        let config = try TokenizerConfig(contentsOf: folder.appendingPathComponent("tokenizer_config.json"))
        let (template, templateProblem) = DatasetEncoder.loadingTemplate { try ChatTemplate.load(modelDirectory: folder) }
        return ModelBundle(folder: folder, model: model, tokenizer: tokenizer, tokenizerConfig: config, template: template,
                           templateProblem: templateProblem, tokenizerProblem: problem)
    }

    private static func readTokenizer(_ read: () throws -> Tokenizer?) -> (Tokenizer?, Error?) {
        do { return (try read(), nil) } catch { return (nil, error) }
    }

    /// The tokenizer, or an error naming the missing or unreadable file.
    public func requireTokenizer() throws -> Tokenizer {
        guard let tokenizer else {
            if let tokenizerProblem { throw tokenizerProblem }
            if folder.path.lowercased().hasSuffix(".gguf") { throw TailorError("\(folder.path): no tokenizer.ggml.* metadata (this command needs the model's tokenizer)") }
            throw TailorError("\(folder.appendingPathComponent("tokenizer.json").path): missing (this command needs the model's tokenizer)")
        }
        return tokenizer
    }

    /// Tokens that end generation: the config's EOS ids, the tokenizer's EOS token and the chat
    /// template's end-of-turn markers that are single tokens.
    public var stopTokens: Set<Int> {
        var s = Set(model.configuration.eosTokenIds)
        if let tokenizer {
            for name in [tokenizerConfig.eosToken].compactMap({ $0 }) + ChatTemplate.endOfTurnMarkers {
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
