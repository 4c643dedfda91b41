// Builds the embedded default base model from nothing, deterministically:
//   1. learns a byte-level BPE tokenizer (512 ids) from Datasets/corpus,
//   2. writes config.json for a tiny Llama (4 layers, hidden 128) with random weights,
//   3. pretrains every weight with Tailor's Trainer (full = true) on the corpus and dialogues,
//   4. saves Datasets/default-model in bf16.
//
// Run from Examples/ (4–6 minutes on 2 cores):  swift run -c release make-default-model [--steps N]
import DefaultModelSupport
import Foundation
import Tailor


func argument(_ name: String) -> String? {
    CommandLine.arguments.firstIndex(of: name).flatMap { $0 + 1 < CommandLine.arguments.count ? CommandLine.arguments[$0 + 1] : nil }
}
let root = URL(fileURLWithPath: argument("--root") ?? "..")
let datasets = root.appendingPathComponent("Datasets")
let out = URL(fileURLWithPath: argument("--out") ?? datasets.appendingPathComponent("default-model").path)
let steps = Int(argument("--steps") ?? "") ?? 1500
let fm = FileManager.default
let started = Date()
func elapsed() -> String { String(format: "%.0fs", Date().timeIntervalSince(started)) }
func writeJSON(_ value: JSONValue, _ name: String) throws {
    let text = value.serialized(options: JSONSerializationOptions(ensureASCII: false, indent: 2)) + "\n"
    try text.write(to: out.appendingPathComponent(name), atomically: true, encoding: .utf8)
}

// MARK: 1. Tokenizer

let specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
let (endOfText, endOfTurn) = (0, 2)
let corpusText = try String(contentsOf: datasets.appendingPathComponent("corpus/corpus.txt"), encoding: .utf8)
let documents = corpusText.components(separatedBy: "\n\n").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
let dialogues = try readConversations(datasets.appendingPathComponent("corpus/dialogues.jsonl"))
let template = try ChatTemplate(source: chatMLTemplate)
let renderedDialogues = try dialogues.map { try template.render(messages: $0).text }

var bpe = BPETrainer(specialTokens: specials, vocabularySize: 512)
bpe.train(documents + renderedDialogues.flatMap { text in
    specials.reduce([text]) { pieces, s in pieces.flatMap { $0.components(separatedBy: s) } }
})
try fm.createDirectory(at: out, withIntermediateDirectories: true)
try writeJSON(bpe.tokenizerJSON(), "tokenizer.json")
try writeJSON([
    "add_bos_token": false, "add_eos_token": false, "bos_token": nil, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
    "unk_token": nil, "model_max_length": 512, "clean_up_tokenization_spaces": false, "tokenizer_class": "PreTrainedTokenizerFast",
    "additional_special_tokens": ["<|im_start|>", "<|im_end|>"], "chat_template": .string(chatMLTemplate),
], "tokenizer_config.json")
let tokenizer = try Tokenizer(contentsOf: out.appendingPathComponent("tokenizer.json"))
say("[\(elapsed())] tokenizer: \(bpe.tokens.count) ids (\(specials.count) special, 256 bytes, \(bpe.merges.count) merges)")

// MARK: 2. Configuration and random weights

let configJSON: JSONValue = [
    "architectures": ["LlamaForCausalLM"], "model_type": "llama",
    "vocab_size": .int(bpe.tokens.count), "hidden_size": 128, "intermediate_size": 352, "num_hidden_layers": 4,
    "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 32, "hidden_act": "silu",
    "max_position_embeddings": 512, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "rope_scaling": nil,
    "tie_word_embeddings": true, "attention_bias": false, "mlp_bias": false, "initializer_range": 0.02,
    "bos_token_id": .int(endOfText), "eos_token_id": .int(endOfTurn), "pad_token_id": .int(endOfText),
    "torch_dtype": "bfloat16", "use_cache": true,
]
try writeJSON(configJSON, "config.json")
try writeJSON(["bos_token_id": .int(endOfText), "eos_token_id": [.int(endOfTurn), .int(endOfText)], "pad_token_id": .int(endOfText)],
              "generation_config.json")
let configuration = try ModelConfiguration(folder: out)

/// Normal(0, std) by Box–Muller from a seeded generator; norms start at one.
var rng = SeededGenerator(seed: 1234)
let model = try LlamaModel(configuration: configuration) { name, shape in
    let t = Tensor(zeros: shape)
    if name.hasSuffix("norm.weight") { for i in 0..<t.count { t[i] = 1 }; return t }
    // Residual outputs start smaller (GPT-2): 0.02 / √(2 · layers).
    let std: Float = name.contains("o_proj") || name.contains("down_proj") ? 0.02 / Float(2 * configuration.layerCount).squareRoot() : 0.02
    for i in 0..<t.count {
        let u1 = max(rng.uniform(0, 1), 1e-7), u2 = rng.uniform(0, 1)
        t[i] = std * (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
    return t
}
let parameterCount = model.baseParameters.reduce(0) { $0 + $1.value.count }
say("[\(elapsed())] model: llama, hidden 128, 4 layers, 4 heads (2 kv), MLP 352, tied embeddings, \(parameterCount) parameters")

// MARK: 3. Pretraining data: every token of the corpus (128-token chunks) and of the dialogues

let rowLength = 128
var stream: [Int] = []
for d in documents { stream += tokenizer.encode(d, addSpecialTokens: false) + [endOfText] }
var chunks: [TokenizedExample] = stride(from: 0, to: stream.count - 1, by: rowLength).map { start in
    let ids = Array(stream[start..<min(stream.count, start + rowLength)])
    return TokenizedExample(ids: ids, mask: [Bool](repeating: true, count: ids.count), source: "corpus.txt:\(start)")
}
var chats = try dialogues.enumerated().map { i, m in
    var e = try tokenizeConversation(m, tokenizer: tokenizer, template: template, endOfTurn: endOfTurn, all: true, source: "dialogues.jsonl:\(i + 1)")
    _ = e.truncate(to: rowLength)
    return e
}
// Every 25th example is held out to watch for over-fitting.
let examples = chunks + chats
let train = examples.enumerated().filter { $0.offset % 25 != 12 }.map(\.element)
let valid = examples.enumerated().filter { $0.offset % 25 == 12 }.map(\.element)
say("[\(elapsed())] data: \(stream.count) corpus tokens in \(chunks.count) chunks, \(chats.count) dialogues "
      + "(\(chats.reduce(0) { $0 + $1.ids.count }) tokens); \(train.count) train / \(valid.count) held-out examples")

// MARK: 4. Train every weight

var c = TrainingConfiguration()
c.full = true
c.output = fm.temporaryDirectory.appendingPathComponent("tailor-default-pretrain").path
c.maxSeq = rowLength
c.pack = true
c.batchSize = 16
c.steps = steps
c.lr = 3e-3
c.warmup = 50
c.schedule = "cosine"
c.minLR = 3e-4
c.weightDecay = 0.01
c.clip = 1.0
c.checkpointing = "none"
c.evalEvery = 200
c.saveEvery = 0
c.seed = 7
let trainer = try Trainer(configuration: c, model: model, modelFolder: nil, train: train, valid: valid, padding: endOfText)
var tokensSeen = 0
let summary = try trainer.run { event in
    switch event {
    case .step(let m):
        tokensSeen += m.tokens
        if m.step == 1 || m.step % 50 == 0 {
            say(String(format: "[%@] step %4d/%d  loss %.3f  lr %.2e  %5.0f tok/s", elapsed(), m.step, m.totalSteps, m.loss, m.learningRate, m.tokensPerSecond))
        }
    case .evaluation(let e):
        say(String(format: "[%@] step %4d  held-out loss %.3f", elapsed(), e.step, e.loss))
    default: break
    }
    return .proceed
}
try? fm.removeItem(atPath: c.output)

// MARK: 5. Save in bf16 and show what it learned

try model.save(to: out, copyingFrom: nil, dtype: .bf16)
let reloaded = try LlamaModel(folder: out)
let heldOut = Trainer.evaluate(model: reloaded, examples: valid, batchSize: 16, padding: endOfText)
let size = try fm.attributesOfItem(atPath: out.appendingPathComponent("model.safetensors").path)[.size] as! Int
say(String(format: "[%@] trained %d steps (%d tokens), final loss %.3f; held-out loss after bf16 save %.3f", elapsed(),
             summary.steps, tokensSeen, summary.finalLoss ?? .nan, heldOut.loss))
say("saved \(out.path): model.safetensors \(size / 1024) KiB (bf16)")
for prompt in ["The fox", "The capital of Japan", "One day, Mia went to"] {
    let ids = try reloaded.generate(prompt: tokenizer.encode(prompt, addSpecialTokens: false), maxTokens: 30, stopTokens: [endOfText])
    say("  \(prompt)\(tokenizer.decode(ids))")
}
for question in ["Tell me about the tiger.", "Hello!"] {
    let ids = try reloaded.generate(prompt: promptIDs(question, tokenizer: tokenizer, template: template), maxTokens: 50, stopTokens: [endOfTurn])
    say("  user: \(question)\n  assistant: \(tokenizer.decode(ids))")
}
