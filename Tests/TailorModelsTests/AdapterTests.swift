import Foundation
import Testing
import TailorModels
import TailorTape
import TailorTensor
import TailorTestSupport

@Suite struct AdapterTests {
    /// Save → load keeps every tensor, rank and scale (including per-module patterns).
    @Test func saveAndLoadRoundTrip() throws {
        let dir = temporaryFolder(); defer { try? FileManager.default.removeItem(at: dir) }
        let model = try LlamaModel(folder: fixture("models/mistral-mqa/model"))
        let config = try PEFTAdapter.load(folder: fixture("models/mistral-mqa/adapter"), into: model)
        let before = model.logits(Batch(sequences: [[1, 2, 3, 4, 5, 6, 7, 8]]))
        try PEFTAdapter.save(model, config: config, to: dir)
        let again = try LlamaModel(folder: fixture("models/mistral-mqa/model"))
        try PEFTAdapter.load(folder: dir, into: again)
        #expect(again.adaptedLayers.map(\.modulePath) == model.adaptedLayers.map(\.modulePath))
        #expect(again.adaptedLayers.map { $0.lora!.scale } == [4, 8, 1])  // q, v, o: α/r with patterns
        expectClose(again.logits(Batch(sequences: [[1, 2, 3, 4, 5, 6, 7, 8]])), before, "logits after round trip")
    }

    /// New adapters follow PEFT's initialisation: A in ±1/√in, B zero, so the model is unchanged.
    @Test func freshAdaptersStartAsANoOp() throws {
        let model = try LlamaModel(folder: fixture("models/llama-gqa/model"))
        let batch = Batch(sequences: [[3, 1, 4, 1, 5, 9, 2, 6]])
        let base = model.logits(batch)
        try model.addAdapters(LoRAConfiguration(rank: 4, alpha: 8, targets: [.q, .v, .down], layers: [1]), seed: 1)
        #expect(model.adaptedLayers.map(\.modulePath) == ["model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj", "model.layers.1.mlp.down_proj"])
        let down = model.blocks[1][.down].lora!
        #expect(down.a.value.array.allSatisfy { abs($0) <= 1 / Float(96).squareRoot() })
        #expect(down.b.value.array.allSatisfy { $0 == 0 })
        #expect(model.trainableParameters.count == 6)
        expectClose(model.logits(batch), base, "fresh adapter is a no-op")
    }

    @Test func unsupportedAdaptersAreRejected() throws {
        let dir = temporaryFolder(); defer { try? FileManager.default.removeItem(at: dir) }
        let model = try LlamaModel(folder: fixture("models/llama-gqa/model"))
        let src = fixture("models/llama-gqa/adapter")
        let configText = try String(contentsOf: src.appendingPathComponent("adapter_config.json"), encoding: .utf8)
        try FileManager.default.copyItem(at: src.appendingPathComponent("adapter_model.safetensors"), to: dir.appendingPathComponent("adapter_model.safetensors"))
        let cases: [(String, String, String)] = [
            ("\"use_dora\": false", "\"use_dora\": true", "use_dora"),
            ("\"bias\": \"none\"", "\"bias\": \"all\"", "bias \"all\""),
            ("\"peft_type\": \"LORA\"", "\"peft_type\": \"IA3\"", "peft_type IA3"),
        ]
        for (from, to, message) in cases {
            try configText.replacingOccurrences(of: from, with: to).write(to: dir.appendingPathComponent("adapter_config.json"), atomically: true, encoding: .utf8)
            #expect { try PEFTAdapter.load(folder: dir, into: model) } throws: { ($0 as? TailorError)?.message.contains(message) == true }
        }
        // An adapter for another model: shapes do not fit.
        let other = try LlamaModel(folder: fixture("models/qwen2-tied/model"))
        #expect { try PEFTAdapter.load(folder: src, into: other) } throws: { ($0 as? TailorError)?.message.contains("do not fit") == true }
    }
}
