import ArgumentParser
import Foundation
import Tailor

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Mean negative log-likelihood and perplexity of a JSONL file, built exactly as training builds it.",
        discussion: "loss is the mean over every trained position of the file (token-weighted, not per example)."
    )

    @Option(help: "Hugging Face model folder or .gguf file.") var model: String
    @Option(help: "PEFT LoRA adapter folder.") var adapter: String?
    @OptionGroup var base: BaseOptions
    @OptionGroup var templateOptions: TemplateOptions
    @Option(help: "A .jsonl or .json file (or a folder: its valid file, else its train file).") var data: String
    @Option(help: "Data format: \(DatasetFormat.choices) (default: detected).") var format: String?
    @Option(help: "Scored tokens: completions or all (default completions).") var mask = "completions"
    @Option(help: "Tokens per example; longer ones are cut, keeping the start.") var maxSeq = 1024
    @Option(help: "Rows per forward pass.") var batchSize = 4
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        try reportingErrors {
            var bundle = try base.load(model)
            try templateOptions.apply(to: &bundle)
            if let adapter { try PEFTAdapter.load(folder: URL(fileURLWithPath: adapter), into: bundle.model) }
            var c = TrainingConfiguration()
            c.model = model
            try c.set("max-seq", "\(maxSeq)", source: "--max-seq")
            try c.set("mask", mask, source: "--mask")
            if let format { try c.set("format", format, source: "--format") }
            let examples = try TrainingData.evaluationExamples(c, file: data, bundle: bundle)
            let (loss, tokens) = Trainer.evaluate(model: bundle.model, examples: examples, batchSize: batchSize, padding: bundle.paddingID)
            guard tokens > 0 else { throw TailorError("\(data): no trained tokens to score (check --mask)") }
            if json {
                print(TailorCLI.json([("loss", loss), ("perplexity", exp(loss)), ("tokens", tokens), ("examples", examples.count)] as [(String, Any)]))
            } else {
                print(String(format: "loss %.6f  perplexity %.4f  tokens %d  examples %d", loss, exp(loss), tokens, examples.count))
            }
        }
    }
}
