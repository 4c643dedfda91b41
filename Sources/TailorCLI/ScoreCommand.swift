import ArgumentParser
import Foundation
import Tailor

struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Log-probabilities of a token sequence under a model (and adapter).",
        discussion: "logprobs[i] = log p(ids[i+1] | ids[0…i]); nll is their negated mean."
    )

    @Option(help: "Hugging Face model folder.") var model: String
    @Option(help: "PEFT LoRA adapter folder.") var adapter: String?
    @Option(help: "Comma-separated token ids (at least two).") var ids: String
    @Flag(help: "Print one JSON object instead of a table.") var json = false

    func run() throws {
        try reportingErrors {
            let tokens = try parseIDs(ids)
            let m = try LlamaModel(folder: URL(fileURLWithPath: model))
            if let bad = tokens.first(where: { $0 >= m.configuration.vocabularySize }) {
                throw TailorError("--ids: token id \(bad) is outside the vocabulary (size \(m.configuration.vocabularySize))")
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
