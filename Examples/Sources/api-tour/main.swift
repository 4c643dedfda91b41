// A tour of Tailor's Swift API on the embedded default model (Datasets/default-model):
// load a model and its tokenizer, ask a question, add LoRA adapters, train with a progress
// callback, evaluate, ask again, and save the adapter.
//
// Run from Examples/:  swift run -c release api-tour
import Foundation
import Tailor

let datasets = URL(fileURLWithPath: CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "../Datasets")
let modelFolder = datasets.appendingPathComponent("default-model")

// 1. Load a Hugging Face model folder: config.json, model.safetensors, tokenizer.json, chat template.
let model = try LlamaModel(folder: modelFolder)
let tokenizer = try Tokenizer(contentsOf: modelFolder.appendingPathComponent("tokenizer.json"))
let template = try ChatTemplate.load(modelDirectory: modelFolder)!
let endOfTurn = model.configuration.eosTokenIds[0]  // <|im_end|>
let padding = model.configuration.padTokenId ?? 0

// 2. Turn chat examples into token ids plus a loss mask: only the assistant's reply (and its
//    <|im_end|>) is trained. The rendered prompt is a prefix of the rendered conversation.
func example(_ question: String, _ answer: String) throws -> TokenizedExample {
    let user: JSONValue = ["role": "user", "content": .string(question)]
    let prompt = try template.render(messages: [user], addGenerationPrompt: true).text
    let full = try template.render(messages: [user, ["role": "assistant", "content": .string(answer)]]).text
    let ids = tokenizer.encode(full, addSpecialTokens: false)          // ends with <|im_end|> "\n"
    let promptLength = tokenizer.encode(prompt, addSpecialTokens: false).count
    let mask = ids.indices.map { $0 >= promptLength && $0 < ids.count - 1 }
    return TokenizedExample(ids: ids, mask: mask)
}
func read(_ name: String) throws -> [TokenizedExample] {
    try String(contentsOf: datasets.appendingPathComponent("default-task/\(name)"), encoding: .utf8)
        .split(separator: "\n").map { line in
            let messages = try JSONValue(parsing: String(line))["messages"]!
            return try example(messages[0]!["content"]!.stringValue!, messages[1]!["content"]!.stringValue!)
        }
}
let train = try read("train.jsonl"), valid = try read("valid.jsonl")

// 3. Generate: greedy decoding until <|im_end|>.
func ask(_ question: String) throws -> String {
    let user: JSONValue = ["role": "user", "content": .string(question)]
    let prompt = try template.render(messages: [user], addGenerationPrompt: true).text
    let ids = try model.generate(prompt: tokenizer.encode(prompt, addSpecialTokens: false), maxTokens: 40,
                                 sampling: .greedy, stopTokens: [endOfTurn])
    return tokenizer.decode(ids)
}
let question = "What is the capital of Peru?"
print("before: \(question) → \(try ask(question))")
let before = Trainer.evaluate(model: model, examples: valid, batchSize: 8, padding: padding)
print(String(format: "valid loss before training: %.3f", before.loss))

// 4. Train LoRA adapters. The Trainer adds them (rank, alpha, targets from the configuration),
//    freezes the base, and reports every step and evaluation to the callback, which may stop it.
var config = TrainingConfiguration()
config.output = FileManager.default.temporaryDirectory.appendingPathComponent("tailor-api-tour").path
config.rank = 8
config.alpha = 16
config.lr = 2e-3
config.batchSize = 8
config.steps = 60
config.evalEvery = 20
config.saveEvery = 0
let trainer = try Trainer(configuration: config, model: model, modelFolder: modelFolder, train: train, valid: valid, padding: padding)
let deadline = Date().addingTimeInterval(120)
let summary = try trainer.run { event in
    switch event {
    case .step(let m) where m.step % 10 == 0:
        print(String(format: "step %2d/%d  loss %.3f  lr %.1e", m.step, m.totalSteps, m.loss, m.learningRate))
    case .evaluation(let e):
        print(String(format: "step %2d  valid loss %.3f", e.step, e.loss))
    case .checkpoint(let url):
        print("checkpoint \(url.lastPathComponent)")
    default: break
    }
    return Date() < deadline ? .proceed : .stop  // .stop saves a checkpoint and ends the run
}

// 5. Evaluate and generate again: the adapters are live in `model`.
let after = Trainer.evaluate(model: model, examples: valid, batchSize: 8, padding: padding)
print(String(format: "valid loss after %d steps: %.3f (was %.3f)", summary.steps, after.loss, before.loss))
print("after:  \(question) → \(try ask(question))")

// 6. The adapter is in PEFT format in the output folder; it loads back into a fresh base model.
let fresh = try LlamaModel(folder: modelFolder)
try PEFTAdapter.load(folder: summary.output, into: fresh, trainable: false)
let check = Trainer.evaluate(model: fresh, examples: valid, batchSize: 8, padding: padding)
print(String(format: "adapter saved in %@; reloaded valid loss %.3f", summary.output.path, check.loss))
