import Foundation

/// Turns dataset records into token ids and loss masks, the way training sees them.
///
/// ## Token construction
///
/// - **text** `{"text"}`: the tokenizer's own encoding of `text` with its special tokens (BOS when its
///   post-processor adds one), followed by the EOS token id (unless the encoding already ends with it). Every
///   token is trained.
/// - **messages** `{"messages", "tools"?}`: the chat template rendered with `bos_token`/`eos_token` from
///   `tokenizer_config.json`, `add_generation_prompt=false` and `tools` when present, then tokenized **without**
///   adding special tokens (the template writes BOS itself), as `apply_chat_template(tokenize=True)` does.
///   A **sharegpt** record `{"conversations", "system"?, "tools"?}` becomes these messages first
///   (``DatasetFormat/sharegpt``), and multi-part content becomes the string of its text parts.
/// - **prompt/completion** `{"prompt", "completion"}` and **alpaca** `{"instruction", "input"?, "output"}`: with a
///   chat template, the conversation `[user: prompt, assistant: completion]` encoded as **messages**. Alpaca's user
///   content is `instruction`, plus `"\n\n" + input` when `input` is present and non-empty; the assistant content
///   is `output`. Without a chat template: the plain text `prompt + completion` (alpaca: `user content + "\n\n" +
///   output`) encoded with the tokenizer's special tokens, followed by EOS; the completion tokens and EOS are
///   trained. A chat template that is present but does not compile (``templateProblem``) stops these records
///   rather than letting them fall back to plain text.
///
/// The EOS id is `tokenizer_config.json`'s `eos_token`, else the token the post-processor appends.
/// Special-token strings inside content (e.g. a literal `<|im_end|>`) become special tokens, as in transformers.
///
/// ## Loss mask (``LossMaskMode/completions``)
///
/// The loss covers every assistant turn's content **and its end-of-turn token(s)** (`<|im_end|>`, `<|eot_id|>`,
/// `</s>`), never system, user or tool turns, nor the generation header (`<|im_start|>assistant\n`). The assistant
/// spans are found in the rendered text:
/// - when the template has `{% generation %}` blocks, the spans are what those blocks wrote (as transformers'
///   `return_assistant_tokens_mask`);
/// - otherwise by rendering prefixes: for assistant message `i`, the span starts at the end of
///   `render(messages[..<i], add_generation_prompt=true)` and ends where `render(messages[...i])` stops agreeing
///   with the full render (when that render writes the turn differently from the whole conversation, as Qwen3's
///   drops earlier reasoning, the span runs to the turn's end-of-turn token, ``ChatTemplate/endOfTurnMarkers`` or
///   EOS, in the full render). Whitespace the template writes after the end of the content is dropped from the end of
///   the span, so the `\n` after `<|im_end|>` is not trained (as with transformers' generation masks; TRL's
///   prompt/completion mask does train it). The render of `messages[..<i]` with the generation prompt must be a
///   prefix of the full render; templates for which it is not (e.g. ones that rewrite earlier turns) are
///   rejected with an error suggesting a `{% generation %}` template or ``LossMaskMode/all``.
///
/// A token is trained when its UTF-8 byte range overlaps an assistant span, so a token straddling a boundary
/// (e.g. `▁Hello` whose space belongs to the header) is trained. Without a template, prompt/completion tokens
/// overlapping the completion's bytes are trained. ``LossMaskMode/all`` trains every token.
///
/// ```swift
/// let encoder = try DatasetEncoder(modelDirectory: modelFolder)
/// let data = try encoder.load(URL(fileURLWithPath: "train.jsonl"), options: DatasetOptions(maxLength: 2048))
/// print(data.examples.count, data.trainedTokens, data.truncated)
/// ```
public struct DatasetEncoder: Sendable {
    /// The tokenizer.
    public let tokenizer: Tokenizer
    /// The chat template, if the model has one that compiles.
    public private(set) var template: ChatTemplate?
    /// Why the model's chat template cannot be used (it does not compile), when it has one: the records that need
    /// the template (messages, prompt/completion, alpaca) fail with this, and text records are encoded as usual.
    public let templateProblem: String?
    /// Special-token strings for the template (`bos_token`, `eos_token`) and the EOS id.
    public let config: TokenizerConfig
    /// The id appended to text and plain prompt/completion examples.
    public let eosTokenID: Int?

    /// An encoder from parts already loaded.
    /// - Parameters:
    ///   - tokenizer: The model's tokenizer.
    ///   - template: Its chat template, or nil.
    ///   - templateProblem: Why a template the model has could not be loaded (then `template` is nil).
    ///   - config: Its `tokenizer_config.json` settings.
    public init(tokenizer: Tokenizer, template: ChatTemplate?, templateProblem: String? = nil, config: TokenizerConfig) {
        self.tokenizer = tokenizer
        self.template = template
        self.templateProblem = template == nil ? templateProblem : nil
        self.config = config
        eosTokenID = config.eosToken.flatMap(tokenizer.id(for:)) ?? tokenizer.eosTokenID
    }

    /// Loads `tokenizer.json`, `tokenizer_config.json` (optional) and the chat template (optional) of a model
    /// folder. A chat template that cannot be loaded becomes ``templateProblem``.
    /// - Parameter modelDirectory: The model folder.
    /// - Throws: ``DatasetError`` naming `tokenizer.json` when it is missing; ``TokenizerError`` when a tokenizer
    ///   file is malformed.
    public init(modelDirectory: URL) throws {
        let file = modelDirectory.appendingPathComponent("tokenizer.json")
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw DatasetError(location: file.path, message: "not found: the model folder has no tokenizer "
                               + "(copy tokenizer.json and tokenizer_config.json from the base model)")
        }
        let tokenizer = try Tokenizer(contentsOf: file)
        let config = try TokenizerConfig(contentsOf: modelDirectory.appendingPathComponent("tokenizer_config.json"))
        let (template, problem) = Self.loadingTemplate { try ChatTemplate.load(modelDirectory: modelDirectory) }
        self.init(tokenizer: tokenizer, template: template, templateProblem: problem, config: config)
    }

    /// Gives the chat template ``ChatTemplate/variables`` (see ``ChatTemplate/variables(json:source:)``).
    /// - Throws: ``DatasetError`` at `source` when there is no usable template to give them to.
    public mutating func setTemplateVariables(_ variables: [String: JSONValue], source: String) throws {
        template = try ChatTemplate.withVariables(variables, template, problem: templateProblem, source: source)
    }

    /// The template `load` returns, or nil and why it failed: for ``init(tokenizer:template:templateProblem:config:)``.
    public static func loadingTemplate(_ load: () throws -> ChatTemplate?) -> (ChatTemplate?, String?) {
        do { return (try load(), nil) } catch { return (nil, "\(error)") }
    }

    /// Encodes one record.
    /// - Parameters:
    ///   - record: A parsed JSONL line.
    ///   - format: Its format (see ``DatasetFormat``).
    ///   - options: Key remapping and mask mode (format, `skipBad` and `maxLength` are not used here).
    ///   - source: The record's location for errors and ``TokenizedExample/source``, usually `path:line`.
    /// - Returns: The example (not truncated) and the string that was tokenized.
    /// - Throws: ``DatasetError`` at `source` when the record is not valid for `format` or cannot be rendered.
    public func encode(_ record: JSONValue, format: DatasetFormat, options: DatasetOptions = DatasetOptions(),
                       source: String = "") throws -> (example: TokenizedExample, text: String) {
        do {
            guard case .object(let object) = record else {
                throw RecordError("expected a JSON object, got \(typeName(record))")
            }
            return try encode(DatasetRecord(object, format: format, options: options), mask: options.mask, source: source)
        } catch let e as RecordError {
            throw DatasetError(location: source, message: e.message)
        }
    }

    /// Encodes a validated record.
    func encode(_ record: DatasetRecord, mask: LossMaskMode, source: String) throws -> (example: TokenizedExample, text: String) {
        let (ids, trained, text): ([Int], [Bool], String)
        switch record {
        case .text(let s):
            (ids, trained, text) = try encodeText(s)
        case .messages(let messages, let tools):
            (ids, trained, text) = try encodeConversation(messages, tools: tools, mask: mask)
        case .promptCompletion(let prompt, let completion):
            (ids, trained, text) = try encodePair(user: prompt, assistant: completion, plainSeparator: "", mask: mask)
        case .alpaca(let instruction, let input, let output):
            let user = input.isEmpty ? instruction : instruction + "\n\n" + input
            (ids, trained, text) = try encodePair(user: user, assistant: output, plainSeparator: "\n\n", mask: mask)
        }
        return (TokenizedExample(ids: ids, mask: trained, source: source), text)
    }

    /// The EOS id, or an error saying why there is none.
    func requireEOS() throws -> Int {
        guard let eos = eosTokenID else {
            let why = config.eosToken.map { "tokenizer_config.json's eos_token \(quoted($0)) is not in the vocabulary" }
                ?? "tokenizer_config.json has no eos_token and the tokenizer appends none"
            throw RecordError("cannot end the example with EOS: \(why)", fatal: true)
        }
        return eos
    }

    func encodeText(_ text: String) throws -> ([Int], [Bool], String) {
        let eos = try requireEOS()
        var ids = tokenizer.encode(text, addSpecialTokens: true)
        if ids.last != eos { ids.append(eos) }
        return (ids, [Bool](repeating: true, count: ids.count), text)
    }

    func encodePair(user: String, assistant: String, plainSeparator: String,
                    mask: LossMaskMode) throws -> ([Int], [Bool], String) {
        if template != nil || templateProblem != nil {  // a broken template is reported, not bypassed
            let messages: [JSONValue] = [["role": "user", "content": .string(user)],
                                         ["role": "assistant", "content": .string(assistant)]]
            return try encodeConversation(messages, tools: nil, mask: mask)
        }
        let eos = try requireEOS()
        let prompt = user + plainSeparator, text = prompt + assistant
        let promptBytes = prompt.utf8.count, total = text.utf8.count
        var ids: [Int] = [], trained: [Bool] = []
        for token in tokenizer.encodeWithOffsets(text, addSpecialTokens: true) {
            ids.append(token.id)
            // Post-processor tokens have empty ranges: BOS at 0 (not trained), EOS at the end (trained).
            let inCompletion = token.range.isEmpty ? token.range.lowerBound == total && total > 0
                                                   : token.range.upperBound > promptBytes
            trained.append(mask == .all || inCompletion)
        }
        if ids.last != eos { ids.append(eos); trained.append(true) }
        return (ids, trained, text)
    }

    func encodeConversation(_ messages: [JSONValue], tools: [JSONValue]?,
                            mask: LossMaskMode) throws -> ([Int], [Bool], String) {
        let full = try render(messages, tools: tools, addGenerationPrompt: false)
        let tokens = tokenizer.encodeWithOffsets(full.text, addSpecialTokens: false)
        let ids = tokens.map(\.id)
        if mask == .all { return (ids, [Bool](repeating: true, count: ids.count), full.text) }
        let spans = full.generationByteRanges.contains(where: { !$0.isEmpty })
            ? full.generationByteRanges.filter { !$0.isEmpty }
            : try assistantSpans(messages, tools: tools, full: Array(full.text.utf8))
        let trained = Self.mask(tokens.map(\.range), spans: spans)
        guard trained.contains(true) else {
            throw RecordError("no token of the rendered conversation falls in an assistant turn (the chat template "
                              + "may drop assistant content)")
        }
        return (ids, trained, full.text)
    }

    func render(_ messages: [JSONValue], tools: [JSONValue]?, addGenerationPrompt: Bool) throws -> RenderedChat {
        guard let template else {
            if let templateProblem { throw RecordError("the model's chat template cannot be used: \(templateProblem)", fatal: true) }
            throw RecordError("the messages format needs a chat template, and the model folder has none "
                              + "(chat_template.jinja or tokenizer_config.json \"chat_template\")", fatal: true)
        }
        do {
            return try template.render(messages: messages, tools: tools, addGenerationPrompt: addGenerationPrompt,
                                       bosToken: config.bosToken, eosToken: config.eosToken)
        } catch let e as TemplateError {
            throw RecordError("chat template: \(e)")
        }
    }
}
