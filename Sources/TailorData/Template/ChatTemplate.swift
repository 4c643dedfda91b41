import Foundation

/// A Jinja chat template, rendered the way transformers' `apply_chat_template(..., tokenize=False)` does.
///
/// The environment matches transformers': `trim_blocks` and `lstrip_blocks` on, `{% generation %}` blocks,
/// loop controls, `raise_exception`, `strftime_now`, `namespace`, and a `tojson` filter that is
/// `json.dumps(x, ensure_ascii=False)`. Templates cannot read files (`include`, `import` and `extends` are
/// errors), and rendering is bounded by ``RenderLimits``.
///
/// ```swift
/// let template = try ChatTemplate(source: "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}")
/// let chat = try template.render(messages: [["role": "user", "content": "Hi"]])
/// chat.text  // "<|user|>Hi"
/// ```
public struct ChatTemplate: Sendable {
    /// Strings common templates write to end a turn (ChatML, Llama 3, Phi, Gemma, Llama 2 / Mistral), besides
    /// the tokenizer's EOS: generation stops at them, and they close a turn when its span is located.
    public static let endOfTurnMarkers = ["<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "</s>"]

    /// The template source as given.
    public let source: String
    let body: [Statement]
    /// Variables every ``render(messages:tools:addGenerationPrompt:bosToken:eosToken:extra:limits:)`` sees, like the
    /// keyword arguments of transformers' `apply_chat_template` (e.g. Qwen3's `enable_thinking`); a render's
    /// `extra` overrides them. See ``variables(json:source:)``.
    public var variables: [String: JSONValue] = [:]

    /// The names a render sets itself, which ``variables`` may not take.
    public static let reservedVariables = ["messages", "tools", "documents", "add_generation_prompt"]

    /// Template variables from a JSON object, e.g. `{"enable_thinking": false}`.
    /// - Throws: ``DatasetError`` at `source` (e.g. `--template-kwargs`) when the text is not a JSON object or
    ///   sets one of ``reservedVariables``.
    public static func variables(json: String, source: String) throws -> [String: JSONValue] {
        let value: JSONValue
        do { value = try JSONValue(parsing: json) } catch {
            throw DatasetError(location: source, message: "not JSON (\(error)); expected an object such as {\"enable_thinking\": false}")
        }
        guard let object = value.objectValue else {
            throw DatasetError(location: source, message: "expected a JSON object such as {\"enable_thinking\": false}, got \(json)")
        }
        if let taken = object.keys.first(where: reservedVariables.contains) {
            throw DatasetError(location: source, message: "\"\(taken)\" is set by the render itself (reserved: \(reservedVariables.joined(separator: ", ")))")
        }
        return Dictionary(uniqueKeysWithValues: object.keys.map { ($0, object[$0]!) })
    }

    /// `template` given `variables`.
    /// - Throws: ``DatasetError`` at `source` when there is no template: "`model` has no usable chat template",
    ///   with `problem` (why the model's template could not be loaded) when there is one.
    public static func withVariables(_ variables: [String: JSONValue], _ template: ChatTemplate?, problem: String?, model: String = "the model",
                                     source: String) throws -> ChatTemplate {
        guard var t = template else {
            throw DatasetError(location: source, message: "\(model) has no usable chat template for these variables" + (problem.map { " (\($0))" } ?? ""))
        }
        t.variables = variables
        return t
    }

    /// Compiles `source`.
    ///
    /// - Throws: ``TemplateError`` with kind ``TemplateError/Kind/syntax`` (or ``TemplateError/Kind/security``
    ///   for `include`/`import`/`extends`) and the line of the problem.
    public init(source: String) throws {
        self.source = source
        var lexer = TemplateLexer(source: source)
        var parser = TemplateParser(tokens: try lexer.tokenize())
        body = try parser.parseTemplate()
    }

    /// Renders a conversation.
    ///
    /// - Parameters:
    ///   - messages: the `messages` variable: usually objects with `role` and `content`.
    ///   - tools: the `tools` variable (JSON schemas); nil renders as Python `None`.
    ///   - addGenerationPrompt: the `add_generation_prompt` variable.
    ///   - bosToken: the `bos_token` variable; nil leaves it undefined.
    ///   - eosToken: the `eos_token` variable; nil leaves it undefined.
    ///   - extra: more variables (e.g. `date_string`, `documents`, other special tokens); they override the above.
    ///   - limits: resource limits for hostile templates.
    /// - Returns: the text and the ranges written by `{% generation %}` blocks.
    /// - Throws: ``TemplateError``; `raise_exception(msg)` gives kind ``TemplateError/Kind/raised`` and message `msg`.
    public func render(messages: [JSONValue], tools: [JSONValue]? = nil, addGenerationPrompt: Bool = false,
                       bosToken: String? = nil, eosToken: String? = nil, extra: [String: JSONValue] = [:],
                       limits: RenderLimits = RenderLimits()) throws -> RenderedChat {
        var context: [String: Value] = [
            "messages": .list(messages.map(Value.init)),
            "tools": tools.map { .list($0.map(Value.init)) } ?? .none,
            "documents": .none,
            "add_generation_prompt": .bool(addGenerationPrompt),
        ]
        if let bosToken { context["bos_token"] = .string(bosToken) }
        if let eosToken { context["eos_token"] = .string(eosToken) }
        for (k, v) in variables { context[k] = Value(v) }
        for (k, v) in extra { context[k] = Value(v) }
        return try render(context: context, limits: limits)
    }

    /// Renders with an arbitrary context (every variable given explicitly).
    public func render(context: [String: JSONValue], limits: RenderLimits = RenderLimits()) throws -> RenderedChat {
        try render(context: context.mapValues(Value.init), limits: limits)
    }

    func render(context: [String: Value], limits: RenderLimits) throws -> RenderedChat {
        let interpreter = Interpreter(context: context, limits: limits)
        let text = try interpreter.run(body)
        return RenderedChat(text: text,
                            generationByteRanges: interpreter.generationRanges.map(\.bytes),
                            generationScalarRanges: interpreter.generationRanges.map(\.scalars))
    }
}

/// The output of ``ChatTemplate/render(messages:tools:addGenerationPrompt:bosToken:eosToken:extra:limits:)``.
public struct RenderedChat: Sendable, Equatable {
    /// The rendered text.
    public let text: String
    /// The spans of `text` written by `{% generation %}` blocks, as UTF-8 byte offsets, in render order.
    ///
    /// Like transformers' `AssistantTracker`, a span is recorded where the block's text lands in the
    /// top-level output. Use these to build assistant-only loss masks from token offsets.
    public let generationByteRanges: [Range<Int>]
    /// The same spans in Unicode scalars (the character indices Python reports).
    public let generationScalarRanges: [Range<Int>]

    /// The generation spans as string indices into ``text``.
    public var generationRanges: [Range<String.Index>] {
        let utf8 = text.utf8
        return generationByteRanges.map {
            utf8.index(utf8.startIndex, offsetBy: $0.lowerBound)..<utf8.index(utf8.startIndex, offsetBy: $0.upperBound)
        }
    }
}

extension ChatTemplate {
    /// Errors from ``ChatTemplate/load(modelDirectory:name:)``.
    public struct LoadError: Error, Sendable, CustomStringConvertible {
        /// The file that could not be used.
        public let file: URL
        /// What was wrong with it.
        public let reason: String
        public var description: String { "\(file.path): \(reason)" }
    }

    /// Loads the chat template of a model folder, as transformers does: ``loadSource(modelDirectory:name:)``, compiled.
    ///
    /// - Parameters:
    ///   - modelDirectory: the folder holding the tokenizer files.
    ///   - name: a named template from the list form (e.g. `"tool_use"`); nil for the default.
    /// - Returns: the compiled template, or nil when the folder has none.
    /// - Throws: ``LoadError`` naming the file when it is unreadable, malformed or the template does not compile.
    public static func load(modelDirectory: URL, name: String? = nil) throws -> ChatTemplate? {
        try loadSource(modelDirectory: modelDirectory, name: name).map { try compile($0.source, file: $0.file) }
    }

    /// The Jinja source of a model folder's chat template and the file it is in, not compiled (exports copy it as
    /// it is, whether or not Tailor's Jinja subset runs it).
    ///
    /// Looks for `chat_template.jinja` first, then `tokenizer_config.json["chat_template"]`, which is either a
    /// string or a list of `{"name": …, "template": …}` (the `default` entry, or `name` when given).
    ///
    /// - Returns: the source and its file, or nil when the folder has none.
    /// - Throws: ``LoadError`` naming the file when it is unreadable or malformed.
    public static func loadSource(modelDirectory: URL, name: String? = nil) throws -> (source: String, file: URL)? {
        let jinjaFile = modelDirectory.appendingPathComponent("chat_template.jinja")
        if name == nil, FileManager.default.fileExists(atPath: jinjaFile.path) {
            guard let data = FileManager.default.contents(atPath: jinjaFile.path) else {
                throw LoadError(file: jinjaFile, reason: "cannot read the file")
            }
            guard let source = String(data: data, encoding: .utf8) else {
                throw LoadError(file: jinjaFile, reason: "the file is not valid UTF-8")
            }
            return (source, jinjaFile)
        }
        let configFile = modelDirectory.appendingPathComponent("tokenizer_config.json")
        guard FileManager.default.fileExists(atPath: configFile.path) else {
            if name != nil { throw LoadError(file: configFile, reason: "no tokenizer_config.json to find the template '\(name!)' in") }
            return nil
        }
        guard let data = FileManager.default.contents(atPath: configFile.path) else {
            throw LoadError(file: configFile, reason: "cannot read the file")
        }
        let config: JSONValue
        do {
            config = try JSONValue(parsing: data)
        } catch {
            throw LoadError(file: configFile, reason: "invalid JSON: \(error)")
        }
        guard let entry = config["chat_template"], !entry.isNull else {
            if let name { throw LoadError(file: configFile, reason: "no chat template named '\(name)'") }
            return nil
        }
        switch entry {
        case .string(let source):
            if let name, name != "default" { throw LoadError(file: configFile, reason: "no chat template named '\(name)'") }
            return (source, configFile)
        case .array(let list):
            var templates: [String: String] = [:]
            for item in list {
                guard let n = item["name"]?.stringValue, let t = item["template"]?.stringValue else {
                    throw LoadError(file: configFile, reason: "chat_template list entries must be {\"name\": string, \"template\": string}")
                }
                templates[n] = t
            }
            let wanted = name ?? "default"
            guard let source = templates[wanted] else {
                if name == nil { return nil }
                throw LoadError(file: configFile, reason: "no chat template named '\(wanted)' (have: \(templates.keys.sorted().joined(separator: ", ")))")
            }
            return (source, configFile)
        default:
            throw LoadError(file: configFile, reason: "chat_template must be a string or a list of {name, template}")
        }
    }

    static func compile(_ source: String, file: URL) throws -> ChatTemplate {
        do {
            return try ChatTemplate(source: source)
        } catch {
            throw LoadError(file: file, reason: "chat template does not compile: \(error)")
        }
    }
}
