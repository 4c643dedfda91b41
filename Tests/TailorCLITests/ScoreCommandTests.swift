import Foundation
import Testing
import TailorTensor
import TailorTestSupport

/// `tailor score` against transformers/PEFT log-probabilities (fixtures), with and without
/// PEFT-saved adapters, including rsLoRA (qwen2-tied) and rank/alpha patterns (mistral-mqa).
@Suite struct ScoreCommandTests {
    @Test(arguments: ["qwen2-tied", "mistral-mqa", "llama-gqa"])
    func scoreMatchesTransformers(variant: String) throws {
        let dir = fixture("models/\(variant)")
        let expected = try SafetensorsFile(url: dir.appendingPathComponent("expected.safetensors"))
        let ids = try expected.integers("score_ids").map(String.init).joined(separator: ",")
        for (adapter, key) in [(true, "score_logprobs"), (false, "score_logprobs_base")] {
            var args = ["score", "--model", dir.appendingPathComponent("model").path, "--ids", ids, "--json"]
            if adapter { args += ["--adapter", dir.appendingPathComponent("adapter").path] }
            let r = try runTailor(args)
            #expect(r.status == 0, "\(r.stderr)")
            let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            let logprobs = try #require(obj["logprobs"] as? [Double]).map(Float.init)
            let want = try expected.tensor(key).array
            expectClose(logprobs, want, atol: 1e-4, "\(variant) \(key)")
            let nll = try #require(obj["nll"] as? Double)
            #expect(abs(nll + want.reduce(0) { $0 + Double($1) } / Double(want.count)) < 1e-4)
            #expect((obj["ids"] as? [Int])?.map(String.init).joined(separator: ",") == ids)
        }
    }

    @Test func badInputExitsNonZeroWithAMessage() throws {
        let model = fixture("models/llama-linear/model").path
        let cases: [([String], String)] = [
            (["score", "--model", "/no/such/folder", "--ids", "1,2"], "/no/such/folder: no such model folder"),
            (["score", "--model", model, "--ids", "1,x"], "\"x\" is not a non-negative integer"),
            (["score", "--model", model, "--ids", "1"], "at least two"),
            (["score", "--model", model, "--ids", "1,999"], "outside the vocabulary"),
            (["score", "--model", model, "--ids", "1,2", "--adapter", "/no/adapter"], "/no/adapter/adapter_config.json"),
            (["inspect", "/no/such/folder"], "/no/such/folder"),
        ]
        for (args, message) in cases {
            let r = try runTailor(args)
            #expect(r.status != 0, "\(args) succeeded")
            #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
        }
    }

    /// The fixture's metadata names a tokenizer model but holds no tokens: ids need no tokenizer,
    /// text gets the problem with the file's name.
    @Test func unreadableTokenizerStopsOnlyText() throws {
        let gguf = fixture("gguf/qwen2-tied-q8_0.gguf").path
        let ids = try runTailor(["score", "--model", gguf, "--ids", "102,98,24", "--json"])
        #expect(ids.status == 0, "\(ids.stderr)")
        let text = try runTailor(["score", "--model", gguf, "--text", "hello"])
        #expect(text.status != 0)
        #expect(text.stderr.contains("\(gguf): missing metadata key tokenizer.ggml.tokens"), "\(text.stderr)")
    }

    @Test func inspectReportsTheModel() throws {
        let r = try runTailor(["inspect", fixture("models/qwen2-tied/model").path, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(obj["architecture"] as? String == "qwen2")
        #expect(obj["head_dim"] as? Int == 16)
        #expect(obj["tied_embeddings"] as? Bool == true)
        #expect(obj["tensors"] as? Int == 26)
        #expect((obj["dtypes"] as? [String: Int])?["BF16"] == 26)
    }
}
