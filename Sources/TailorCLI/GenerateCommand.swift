import ArgumentParser
import Foundation
import Tailor

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate text from a prompt or a chat message, with a KV cache.",
        discussion: """
        --chat renders the model's chat template (system + user, then the assistant header); --prompt \
        is encoded as plain text with the tokenizer's special tokens. Generation stops at EOS or the \
        template's end-of-turn token, or after --max-tokens.
        """
    )

    @Option(help: "Hugging Face model folder or .gguf file.") var model: String
    @OptionGroup var base: BaseOptions
    @OptionGroup var templateOptions: TemplateOptions
    @Option(help: "PEFT LoRA adapter folder.") var adapter: String?
    @Option(help: "Plain-text prompt.") var prompt: String?
    @Option(help: "A user message, sent through the chat template.") var chat: String?
    @Option(help: "A system message for --chat.") var system: String?
    @Option(help: "Most tokens to generate.") var maxTokens = 256
    @Option(help: "Sampling temperature; 0 = greedy.") var temperature: Float = 0.7
    @Option(help: "Keep the k most likely tokens (0 = off).") var topK = 0
    @Option(help: "Nucleus sampling mass (1 = off).") var topP: Float = 1
    @Option(help: "Drop tokens below min-p × the top probability (0 = off).") var minP: Float = 0.05
    @Option(help: "Sampling seed.") var seed: UInt64 = 0
    @Flag(help: "Print the base model's output and the adapted one, one after the other.") var compare = false

    func run() throws {
        try reportingErrors {
            guard (prompt == nil) != (chat == nil) else { throw TailorError("give exactly one of --prompt or --chat") }
            guard system == nil || chat != nil else { throw TailorError("--system goes with --chat") }
            guard templateOptions.templateKwargs == nil || chat != nil else { throw TailorError("--template-kwargs goes with --chat") }
            guard !compare || adapter != nil else { throw TailorError("--compare needs --adapter") }
            var bundle = try base.load(model)
            try templateOptions.apply(to: &bundle)
            let tokenizer = try bundle.requireTokenizer()
            let ids = try promptIDs(bundle, tokenizer)
            let sampling = SamplingParameters(temperature: temperature, topK: topK, topP: topP, minP: minP)
            try sampling.validate()
            if compare {
                write("── base ──\n")
                try stream(bundle, tokenizer, ids, sampling)
                try PEFTAdapter.load(folder: URL(fileURLWithPath: adapter!), into: bundle.model)
                write("── adapted ──\n")
                try stream(bundle, tokenizer, ids, sampling)
            } else {
                if let adapter { try PEFTAdapter.load(folder: URL(fileURLWithPath: adapter), into: bundle.model) }
                try stream(bundle, tokenizer, ids, sampling)
            }
        }
    }

    func promptIDs(_ bundle: ModelBundle, _ tokenizer: Tokenizer) throws -> [Int] {
        if let prompt { return tokenizer.encode(prompt, addSpecialTokens: true) }
        return try chatPromptIDs(bundle, tokenizer, system: system, user: chat!)
    }

    /// Unbuffered stdout, so streamed tokens and labels keep their order.
    func write(_ text: String) { FileHandle.standardOutput.write(Data(text.utf8)) }

    /// Generates and prints tokens as soon as they form whole characters.
    func stream(_ bundle: ModelBundle, _ tokenizer: Tokenizer, _ ids: [Int], _ sampling: SamplingParameters) throws {
        var decoder = tokenizer.makeStreamingDecoder(skipSpecialTokens: true)
        let result = try bundle.model.generate(prompt: ids, maxTokens: maxTokens, sampling: sampling,
                                               stopTokens: bundle.stopTokens, seed: seed) { token in
            if let text = decoder.append(token) { write(text) }
            return .continue
        }
        write("\n")
        if case .contextLength = result.finishReason {
            FileHandle.standardError.write(Data("note: stopped at the model's context length\n".utf8))
        }
    }
}

/// The chat template's render of [system?, user] with the assistant header, tokenized without
/// adding special tokens again (the template has them).
func chatPromptIDs(_ bundle: ModelBundle, _ tokenizer: Tokenizer, system: String?, user: String) throws -> [Int] {
    guard let template = bundle.template else {
        if let problem = bundle.templateProblem { throw TailorError("\(problem); use --prompt for a raw prompt") }
        throw TailorError("\(bundle.folder.path): the model has no chat template (chat_template.jinja or tokenizer_config.json); use --prompt")
    }
    var messages: [JSONValue] = []
    if let system { messages.append(["role": "system", "content": .string(system)]) }
    messages.append(["role": "user", "content": .string(user)])
    let rendered = try template.render(messages: messages, addGenerationPrompt: true,
                                       bosToken: bundle.tokenizerConfig.bosToken, eosToken: bundle.tokenizerConfig.eosToken)
    return tokenizer.encode(rendered.text, addSpecialTokens: false)
}

/// A short greedy answer to `question`, for before/after samples.
func sampleAnswer(_ bundle: ModelBundle, question: String) throws -> String {
    let tokenizer = try bundle.requireTokenizer()
    let ids = try chatPromptIDs(bundle, tokenizer, system: nil, user: question)
    let out = try bundle.model.generate(prompt: ids, maxTokens: 48, sampling: .greedy, stopTokens: bundle.stopTokens, seed: 0)
    return tokenizer.decode(out, skipSpecialTokens: true)
}
