import ArgumentParser
import Foundation
import Tailor

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Show how text or a dataset is tokenized, and which tokens training learns from.",
        discussion: """
            --text: the tokenizer's encoding with its special tokens (BOS when it adds one; no EOS).
            --data: each example exactly as training builds it (before truncation): with --json one object per line,
            {"text": <the string tokenized>, "ids": [...], "mask": [0/1 per id]}; otherwise a preview with trained
            tokens highlighted (colour on a terminal, [brackets] otherwise).
            """
    )

    @Option(help: "Model folder with tokenizer.json (and optionally tokenizer_config.json, chat_template.jinja).")
    var model: String
    @Option(help: "Text to tokenize.") var text: String?
    @Option(help: "A .jsonl or .json file, or a folder with train.jsonl or train.json.") var data: String?
    @Option(help: "Record format: \(DatasetFormat.choices) (default: detected).") var format: String?
    @Option(help: "Trained tokens: completions (assistant turns / completions) or all.") var mask: String = "completions"
    @Option(name: .customLong("key"), help: "Key remapping, e.g. --key prompt=question (repeatable).")
    var keys: [String] = []
    @Option(help: "With --data, show at most this many examples.") var limit: Int?
    @Option(help: TemplateOptions.help) var templateKwargs: String?
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        try reportingErrors {
            try mappingDataErrors {
                guard (text == nil) != (data == nil) else { throw TailorError("give exactly one of --text and --data") }
                guard templateKwargs == nil || data != nil else { throw TailorError("--template-kwargs goes with --data (--text is not rendered)") }
                var encoder: DatasetEncoder
                if model.lowercased().hasSuffix(".gguf") {
                    let file = try GGUFFile(path: model)
                    guard let tokenizer = try GGUFModel.tokenizer(file) else { throw TailorError("\(model): no tokenizer.ggml.* metadata") }
                    let (template, problem) = DatasetEncoder.loadingTemplate { try GGUFModel.chatTemplate(file) }
                    encoder = DatasetEncoder(tokenizer: tokenizer, template: template, templateProblem: problem,
                                             config: GGUFModel.tokenizerConfig(file, tokenizer: tokenizer))
                } else {
                    encoder = try DatasetEncoder(modelDirectory: URL(fileURLWithPath: model))
                }
                if let templateKwargs {
                    try encoder.setTemplateVariables(ChatTemplate.variables(json: templateKwargs, source: "--template-kwargs"), source: "--template-kwargs")
                }
                if let text { printText(text, encoder.tokenizer) } else if let data { try printData(data, encoder) }
            }
        }
    }

    func printText(_ text: String, _ tokenizer: Tokenizer) {
        let ids = tokenizer.encode(text, addSpecialTokens: true)
        let tokens = ids.map { tokenizer.token(for: $0) ?? "" }
        if json {
            print(TailorCLI.json([("ids", ids), ("tokens", tokens)] as [(String, Any)]))
        } else {
            print("\(ids.count) tokens")
            for (id, token) in zip(ids, tokens) { print(String(format: "%8d  ", id) + TailorCLI.json(token)) }
        }
    }

    func options() throws -> DatasetOptions {
        var options = DatasetOptions()
        if let format {
            guard let f = DatasetFormat(name: format) else {
                throw TailorError("--format: \"\(format)\" is not one of \(DatasetFormat.choices)")
            }
            options.format = f
        }
        guard let m = LossMaskMode(rawValue: mask) else { throw TailorError("--mask: \"\(mask)\" is not one of completions, all") }
        options.mask = m
        options.keys = try DatasetOptions.keys(keys, source: "--key")
        return options
    }

    func printData(_ path: String, _ encoder: DatasetEncoder) throws {
        let file = try DatasetFiles.resolve(URL(fileURLWithPath: path)).train
        let loaded = try encoder.load(file, options: try options())
        let count = min(loaded.examples.count, limit ?? .max)
        if json {
            for i in 0..<count {
                let e = loaded.examples[i]
                print(TailorCLI.json([("text", loaded.texts[i]), ("ids", e.ids), ("mask", e.mask.map { $0 ? 1 : 0 })] as [(String, Any)]))
            }
            return
        }
        let colour = isatty(STDOUT_FILENO) == 1
        for i in 0..<count {
            let e = loaded.examples[i]
            print("── \(e.source)  \(e.ids.count) tokens, \(e.mask.filter { $0 }.count) trained")
            print(highlighted(e, encoder.tokenizer, colour: colour))
        }
        print("\(loaded.examples.count) examples (\(loaded.format.rawValue)), \(loaded.totalTokens) tokens, "
              + "\(loaded.trainedTokens) trained positions" + (count < loaded.examples.count ? "; showed \(count)" : ""))
    }

    /// The example's text decoded run by run, trained runs in green (terminal) or [brackets].
    func highlighted(_ e: TokenizedExample, _ tokenizer: Tokenizer, colour: Bool) -> String {
        var out = "", start = 0
        while start < e.ids.count {
            var end = start
            while end < e.ids.count && e.mask[end] == e.mask[start] { end += 1 }
            let piece = tokenizer.decode(Array(e.ids[start..<end]))
            if e.mask[start] { out += colour ? "\u{1B}[32m\(piece)\u{1B}[0m" : "[\(piece)]" } else { out += piece }
            start = end
        }
        return out
    }
}

/// Runs `body`, turning data-layer errors (datasets, tokenizers, templates) into ``TailorError``s.
func mappingDataErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let e as DatasetError {
        throw TailorError(e.description)
    } catch let e as TokenizerError {
        throw TailorError(e.description)
    } catch let e as ChatTemplate.LoadError {
        throw TailorError(e.description)
    } catch let e as TemplateError {
        throw TailorError("chat template: \(e.description)")
    }
}
