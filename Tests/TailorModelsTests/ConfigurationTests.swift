import Foundation
import Testing
import TailorModels
import TailorTensor
import TailorTestSupport

@Suite struct ConfigurationTests {
    func parse(_ json: String) throws -> ModelConfiguration {
        try ModelConfiguration(json: Data(json.utf8), source: "config.json")
    }

    let base = #""hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 128"#

    @Test func transformers4And5SpellingsGiveTheSameRoPE() throws {
        let v4 = try parse(#"{"model_type": "llama", \#(base), "rope_theta": 500000, "torch_dtype": "bfloat16", "rope_scaling": {"type": "llama3", "factor": 8.0, "low_freq_factor": 1, "high_freq_factor": 4, "original_max_position_embeddings": 8192}}"#)
        let v5 = try parse(#"{"model_type": "llama", \#(base), "dtype": "bfloat16", "rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}}"#)
        #expect(v4 == v5)
        #expect(v4.ropeTheta == 500000)
        #expect(v4.ropeScaling == .llama3(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContext: 8192))
        #expect(v4.dtype == "bfloat16")
    }

    @Test func defaultsAndVariants() throws {
        let c = try parse(#"{"model_type": "mistral", \#(base), "eos_token_id": [1, 7], "head_dim": 32, "sliding_window": 4096, "rope_scaling": {"type": "linear", "factor": 2}}"#)
        #expect(c.kvHeadCount == 4)            // missing num_key_value_heads = heads
        #expect(c.headDim == 32)               // explicit head_dim wins over hidden / heads
        #expect(c.eosTokenIds == [1, 7])
        #expect(c.slidingWindow == 4096)
        #expect(c.ropeScaling == .linear(factor: 2))
        #expect(c.ropeTheta == 10000)
        #expect(c.rmsNormEps == 1e-6)
        #expect(!c.tieWordEmbeddings)
        let q = try parse(#"{"model_type": "qwen2", \#(base), "eos_token_id": 2, "sliding_window": 32768, "use_sliding_window": false}"#)
        #expect(q.attentionBias)                // Qwen2 always has q/k/v biases
        #expect(q.slidingWindow == nil)
        #expect(q.eosTokenIds == [2])
    }

    @Test func unsupportedThingsAreNamed() {
        let cases: [(String, String)] = [
            (#"{"model_type": "gemma", \#(base)}"#, "model_type \"gemma\" is not supported"),
            (#"{"model_type": "llama", \#(base), "rope_scaling": {"rope_type": "yarn", "factor": 4}}"#, "rope type \"yarn\""),
            (#"{"model_type": "llama", "hidden_size": 64}"#, "missing \"intermediate_size\""),
            (#"{"model_type": "llama", \#(base), "num_key_value_heads": 3}"#, "not a multiple"),
            (#"{"model_type": "llama", \#(base), "hidden_act": "gelu"}"#, "hidden_act \"gelu\""),
            (#"[1, 2]"#, "not a JSON object"),
        ]
        for (json, message) in cases {
            #expect { try parse(json) } throws: { ($0 as? TailorError)?.message.contains(message) == true && ($0 as? TailorError)?.message.contains("config.json") == true }
        }
    }
}

@Suite struct LoadingErrorTests {
    /// Copies a fixture model folder so that a test can damage it.
    func copyOfModel(_ variant: String) throws -> URL {
        let dir = temporaryFolder()
        let dest = dir.appendingPathComponent("model")
        try FileManager.default.copyItem(at: fixture("models/\(variant)/model"), to: dest)
        return dest
    }

    @Test func missingOrMisshapenTensorsAreNamed() throws {
        let folder = try copyOfModel("llama-linear")
        defer { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        let configURL = folder.appendingPathComponent("config.json")
        var config = try String(contentsOf: configURL, encoding: .utf8)
        config = config.replacingOccurrences(of: "\"intermediate_size\": 64", with: "\"intermediate_size\": 65")
        try config.write(to: configURL, atomically: true, encoding: .utf8)
        #expect { try LlamaModel(folder: folder) } throws: {
            ($0 as? TailorError)?.message.contains("gate_proj.weight has shape [64, 32], config.json implies [65, 32]") == true
        }
    }

    @Test func truncatedWeightsAreRejected() throws {
        let folder = try copyOfModel("llama-linear")
        defer { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        let file = folder.appendingPathComponent("model.safetensors")
        let data = try Data(contentsOf: file)
        try data.prefix(data.count / 2).write(to: file)
        #expect { try LlamaModel(folder: folder) } throws: { ($0 as? TailorError)?.message.contains(file.path) == true }
    }

    @Test func missingShardIsNamed() throws {
        let folder = try copyOfModel("qwen2-tied")
        defer { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        try FileManager.default.removeItem(at: folder.appendingPathComponent("model-00002-of-00003.safetensors"))
        #expect { try LlamaModel(folder: folder) } throws: { ($0 as? TailorError)?.message.contains("model-00002-of-00003.safetensors") == true }
    }
}
