import ArgumentParser
import Foundation
import Tailor

struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Log-probabilities of a token sequence under a model (and adapter).",
        discussion: """
            logprobs[i] = log p(ids[i+1] | ids[0…i]); nll is their negated mean. --text is encoded with the model's \
            tokenizer.json and its special tokens (BOS when it adds one; no EOS).
            """
    )

    @Option(help: "Hugging Face model folder or .gguf file.") var model: String
    @OptionGroup var base: BaseOptions
    @Option(help: "PEFT LoRA adapter folder.") var adapter: String?
    @Option(help: "Comma-separated token ids (at least two).") var ids: String?
    @Option(help: "Text to score instead of --ids.") var text: String?
    @Flag(help: "Print one JSON object instead of a table.") var json = false

    func run() throws {
        try reportingErrors {
            let bundle = try base.load(model)
            let tokens: [Int]
            switch (ids, text) {
            case (let ids?, nil): tokens = try parseIDs(ids)
            case (nil, let text?): tokens = try encode(text, bundle)
            default: throw TailorError("give exactly one of --ids and --text")
            }
            let m = bundle.model
            if let bad = tokens.first(where: { $0 >= m.configuration.vocabularySize }) {
                throw TailorError("\(ids == nil ? "--text" : "--ids"): token id \(bad) is outside the vocabulary (size \(m.configuration.vocabularySize))")
            }
            if let adapter { try PEFTAdapter.load(folder: URL(fileURLWithPath: adapter), into: m) }
            let logprobs = m.logProbabilities(tokens)
            let nll = -logprobs.reduce(0) { $0 + Double($1) } / Double(logprobs.count)
            if json {
                print(TailorCLI.json([("ids", tokens), ("logprobs", logprobs), ("nll", nll)] as [(String, Any)]))
            } else {
                print("position  token  logprob")
                for (i, lp) in logprobs.enumerated() {
                    print(String(format: "%8d  %5d  %9.5f", i + 1, tokens[i + 1], lp))
                }
                print(String(format: "nll %.6f  perplexity %.4f", nll, exp(nll)))
            }
        }
    }

    func encode(_ text: String, _ bundle: ModelBundle) throws -> [Int] {
        let tokenizer = try bundle.requireTokenizer()
        let tokens = tokenizer.encode(text, addSpecialTokens: true)
        guard tokens.count >= 2 else { throw TailorError("--text: encodes to \(tokens.count) token(s); need at least two") }
        return tokens
    }

    func parseIDs(_ text: String) throws -> [Int] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        let values = try parts.map { part -> Int in
            guard let v = Int(part.trimmingCharacters(in: .whitespaces)), v >= 0 else {
                throw TailorError("--ids: \"\(part)\" is not a non-negative integer")
            }
            return v
        }
        guard values.count >= 2 else { throw TailorError("--ids: need at least two token ids") }
        return values
    }
}
