import Foundation
import Testing
import TailorData
import TailorModels
import TailorTensor
import TailorTestSupport
import TailorTrain

/// The trainer against PyTorch + PEFT optimizer steps, and exact resume.
@Suite struct TrainerTests {
    static let variant = fixture("models/llama-gqa")

    /// The fixture's two rows as examples (mask = HF labels != −100).
    static func examples() throws -> [TokenizedExample] {
        let e = try SafetensorsFile(url: variant.appendingPathComponent("expected.safetensors"))
        let ids = try e.integers("input_ids"), labels = try e.integers("labels")
        return (0..<2).map { r in
            TokenizedExample(ids: Array(ids[(r * 16)..<(r * 16 + 16)]), mask: labels[(r * 16)..<(r * 16 + 16)].map { $0 != -100 }, source: "row \(r)")
        }
    }

    static func configuration(output: URL) -> TrainingConfiguration {
        var c = TrainingConfiguration()
        c.model = variant.appendingPathComponent("model").path
        c.data = "fixture"
        c.output = output.path
        c.adapter = variant.appendingPathComponent("adapter").path
        c.batchSize = 2; c.dropout = 0; c.clip = 0; c.schedule = "constant"; c.warmup = 0
        c.evalEvery = 0; c.saveEvery = 0
        return c
    }

    func train(_ c: TrainingConfiguration) throws -> SafetensorsFile {
        let model = try LlamaModel(folder: URL(fileURLWithPath: c.model))
        let trainer = try Trainer(configuration: c, model: model, modelFolder: nil, train: try Self.examples(), valid: [], padding: 0)
        _ = try trainer.run()
        return try SafetensorsFile(url: URL(fileURLWithPath: c.output).appendingPathComponent("adapter_model.safetensors"))
    }

    /// One SGD step and three AdamW steps (weight decay 0.1) land on PyTorch + PEFT's adapters
    /// within 1e-5, with and without gradient checkpointing.
    @Test(arguments: ["none", "blocks"])
    func optimizerStepsMatchPyTorch(checkpointing: String) throws {
        let want = try SafetensorsFile(url: fixture("train/llama-gqa-steps.safetensors"))
        for (optimizer, steps, lr, prefix) in [("sgd", 1, 0.5, "sgd1."), ("adamw", 3, 1e-2, "adamw3.")] {
            let dir = temporaryFolder(); defer { try? FileManager.default.removeItem(at: dir) }
            var c = Self.configuration(output: dir)
            c.optimizer = optimizer; c.steps = steps; c.lr = lr; c.checkpointing = checkpointing
            c.weightDecay = optimizer == "adamw" ? 0.1 : 0
            let got = try train(c)
            let keys = want.entries.keys.filter { $0.hasPrefix(prefix) }
            #expect(keys.count == 28 && got.entries.count == 28)
            for key in keys {
                let name = String(key.dropFirst(prefix.count))
                expectClose(try got.tensor(name), try want.tensor(key), atol: 1e-5, "\(optimizer) \(checkpointing) \(name)")
            }
        }
    }

    /// 10 steps straight and 5 + resume + 5 give the same adapter bytes (dropout, accumulation,
    /// clipping, warm-up and cosine decay all in play).
    @Test func resumeIsBitIdentical() throws {
        let straight = temporaryFolder(), split = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: straight); try? FileManager.default.removeItem(at: split) }
        func config(_ out: URL) -> TrainingConfiguration {
            var c = Self.configuration(output: out)
            c.adapter = nil; c.rank = 4; c.alpha = 8; c.dropout = 0.1; c.seed = 7
            c.batchSize = 1; c.gradAccum = 2; c.steps = 10; c.lr = 1e-2; c.clip = 1.0
            c.schedule = "cosine"; c.warmup = 2; c.optimizer = "adamw"; c.weightDecay = 0.01; c.saveEvery = 3
            return c
        }
        let a = try train(config(straight))
        let examples = try Self.examples()
        let model = try LlamaModel(folder: URL(fileURLWithPath: config(split).model))
        let first = try Trainer(configuration: config(split), model: model, modelFolder: nil, train: examples, valid: [], padding: 0)
        let summary = try first.run { event in
            if case .step(let m) = event, m.step == 5 { return .stop }
            return .proceed
        }
        #expect(summary.interrupted && summary.steps == 5)
        #expect(Checkpoints.list(output: split).map(\.step) == [3, 5])
        let again = try LlamaModel(folder: URL(fileURLWithPath: config(split).model))
        let second = try Trainer(configuration: config(split), model: again, modelFolder: nil, train: examples, valid: [], padding: 0)
        let done = try second.run(resume: split)
        #expect(done.steps == 10)
        let b = try SafetensorsFile(url: split.appendingPathComponent("adapter_model.safetensors"))
        let bytesA = try Data(contentsOf: a.url), bytesB = try Data(contentsOf: b.url)
        #expect(bytesA == bytesB, "adapter bytes differ after resume")
        // metrics.jsonl holds each step exactly once.
        let lines = try String(contentsOf: split.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 10)
    }
}
