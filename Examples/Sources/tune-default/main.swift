// Measures the default LoRA recipe on the default model and task: wall time, valid loss before
// and after, exact-match answers on the valid set, and sample generations before and after.
//
//   swift run -c release tune-default [--steps 300] [--lr 2e-3] [--rank 8] [--alpha 16] [--batch-size 8]
//                                     [--eval-every 50] [--targets all-linear] [--max-seq 128] [--dropout 0.05]
import DefaultModelSupport
import Foundation
import Tailor

func argument(_ name: String) -> String? {
    CommandLine.arguments.firstIndex(of: name).flatMap { $0 + 1 < CommandLine.arguments.count ? CommandLine.arguments[$0 + 1] : nil }
}
let datasets = URL(fileURLWithPath: argument("--root") ?? "..").appendingPathComponent("Datasets")
let modelFolder = datasets.appendingPathComponent("default-model")
let taskFolder = datasets.appendingPathComponent("default-task")

var c = TrainingConfiguration()
c.model = modelFolder.path
c.data = taskFolder.path
c.output = FileManager.default.temporaryDirectory.appendingPathComponent("tailor-tune-default").path
c.steps = Int(argument("--steps") ?? "") ?? 300
c.lr = Double(argument("--lr") ?? "") ?? 2e-3
c.rank = Int(argument("--rank") ?? "") ?? 8
c.alpha = Double(argument("--alpha") ?? "") ?? 16
c.dropout = Double(argument("--dropout") ?? "") ?? 0.05
c.batchSize = Int(argument("--batch-size") ?? "") ?? 8
c.evalEvery = Int(argument("--eval-every") ?? "") ?? 50
c.targets = argument("--targets") ?? "all-linear"
c.maxSeq = Int(argument("--max-seq") ?? "") ?? 128
c.warmup = Int(argument("--warmup") ?? "") ?? 0
c.checkpointing = argument("--checkpointing") ?? "blocks"
c.saveEvery = 0

let started = Date()
let model = try LlamaModel(folder: modelFolder)
let tokenizer = try Tokenizer(contentsOf: modelFolder.appendingPathComponent("tokenizer.json"))
let template = try ChatTemplate.load(modelDirectory: modelFolder)!
let endOfTurn = model.configuration.eosTokenIds[0]
let maxSeq = c.maxSeq
func load(_ name: String) throws -> [TokenizedExample] {
    try readConversations(taskFolder.appendingPathComponent(name)).enumerated().map { i, m in
        var e = try tokenizeConversation(m, tokenizer: tokenizer, template: template, endOfTurn: endOfTurn, source: "\(name):\(i + 1)")
        _ = e.truncate(to: maxSeq)
        return e
    }
}
let train = try load("train.jsonl"), valid = try load("valid.jsonl")
let questions = try readConversations(taskFolder.appendingPathComponent("valid.jsonl")).map {
    ($0[0]["content"]!.stringValue!, $0[1]["content"]!.stringValue!)
}
func answer(_ q: String) throws -> String {
    tokenizer.decode(try model.generate(prompt: promptIDs(q, tokenizer: tokenizer, template: template), maxTokens: 40, stopTokens: [endOfTurn]))
}
func exactMatches() throws -> Int { try questions.reduce(0) { $0 + (try answer($1.0) == $1.1 ? 1 : 0) } }

say("train \(train.count) examples (\(train.reduce(0) { $0 + $1.ids.count }) tokens, longest \(train.map(\.ids.count).max()!)), valid \(valid.count)")
let samples = [0, 1, 2, 3].map { questions[$0].0 }
let before = try samples.map(answer)
let beforeExact = try exactMatches()
let v0 = Trainer.evaluate(model: model, examples: valid, batchSize: c.batchSize, padding: model.configuration.padTokenId ?? 0)
say(String(format: "before: valid loss %.3f, exact answers %d/%d", v0.loss, beforeExact, questions.count))

let trainer = try Trainer(configuration: c, model: model, modelFolder: modelFolder, train: train, valid: valid,
                          padding: model.configuration.padTokenId ?? 0)
let trainStart = Date()
let summary = try trainer.run { event in
    switch event {
    case .step(let m) where m.step % 10 == 0 || m.step == 1:
        say(String(format: "step %3d/%d  loss %.3f  lr %.1e  %.2fs/step  %5.0f tok/s  %.0fs", m.step, m.totalSteps, m.loss, m.learningRate,
                     m.seconds, m.tokensPerSecond, m.elapsed))
    case .evaluation(let e):
        say(String(format: "step %3d  valid loss %.3f", e.step, e.loss))
    default: break
    }
    return .proceed
}
let trainSeconds = Date().timeIntervalSince(trainStart)
let afterExact = try exactMatches()
say(String(format: "after %d steps in %.0fs (whole run %.0fs): best valid loss %.3f, exact answers %d/%d", summary.steps, trainSeconds,
             Date().timeIntervalSince(started), summary.bestValidLoss ?? .nan, afterExact, questions.count))
for (q, b) in zip(samples, before) {
    say("  Q: \(q)\n     before: \(b.debugDescription)\n     after:  \(try answer(q).debugDescription)")
}
try? FileManager.default.removeItem(atPath: c.output)
