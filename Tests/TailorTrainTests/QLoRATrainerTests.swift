import Foundation
import Testing
import TailorModels
import TailorTensor
import TailorTestSupport
import TailorTrain

/// QLoRA against PyTorch + PEFT on a base whose block projections are dequant(quant(W)) with
/// ggml's reference rounding (fixtures: Tests/Fixtures/make_qlora_fixtures.py).
@Suite struct QLoRATrainerTests {
    /// One SGD step and three AdamW steps on a `--quantize q4_0` / `q8_0` base land on PyTorch's
    /// adapters within 1e-5 (the training issue's tolerance), checkpointing on.
    @Test(arguments: ["q4_0", "q8_0"])
    func optimizerStepsMatchPyTorch(quantize: String) throws {
        let want = try SafetensorsFile(url: fixture("train/llama-gqa-qlora-steps.safetensors"))
        for (optimizer, steps, lr, prefix) in [("sgd", 1, 0.5, "\(quantize).sgd1."), ("adamw", 3, 1e-2, "\(quantize).adamw3.")] {
            let dir = temporaryFolder(); defer { try? FileManager.default.removeItem(at: dir) }
            var c = TrainerTests.configuration(output: dir)
            c.optimizer = optimizer; c.steps = steps; c.lr = lr; c.checkpointing = "blocks"
            c.weightDecay = optimizer == "adamw" ? 0.1 : 0
            c.quantize = quantize
            let model = try LlamaModel(folder: URL(fileURLWithPath: c.model), quantizing: try BaseQuantization(parsing: quantize))
            #expect(model.hasQuantizedBase)
            let trainer = try Trainer(configuration: c, model: model, modelFolder: nil, train: try TrainerTests.examples(), valid: [], padding: 0)
            _ = try trainer.run()
            let got = try SafetensorsFile(url: dir.appendingPathComponent("adapter_model.safetensors"))
            let keys = want.entries.keys.filter { $0.hasPrefix(prefix) }
            #expect(keys.count == 28 && got.entries.count == 28)
            for key in keys {
                let name = String(key.dropFirst(prefix.count))
                expectClose(try got.tensor(name), try want.tensor(key), atol: 1e-5, "\(quantize) \(optimizer) \(name)")
            }
        }
    }

    /// `--quantize` reaches a GGUF model too (`ModelBundle.load`, as `train` and `score` call it), an
    /// F16 file with its tokenizer here: every projection comes out frozen in the asked format.
    @Test(arguments: [BaseQuantization.q8_0, .bf16])
    func quantizeAppliesToAGGUFModel(_ q: BaseQuantization) throws {
        let bundle = try ModelBundle.load(fixture("spm/llama-spm-f16.gguf").path, quantize: q)
        #expect(bundle.tokenizer != nil)
        #expect(bundle.model.blocks.allSatisfy { b in LinearKind.allCases.allSatisfy { b[$0].weight.parameter == nil } })
        #expect(bundle.model.bf16Attention == (q == .bf16))
    }
}
