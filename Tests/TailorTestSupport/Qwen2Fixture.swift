import Foundation
import TailorData

/// The Qwen2 fixture in `Tests/Fixtures/qwen2`, written by `make_qwen2_fixtures.py`: a tiny
/// Qwen2ForCausalLM that llama.cpp can run (head_dim × heads = hidden) with q/k/v biases, tied
/// embeddings, the byte-level BPE tokenizer of `tokenizers/qwen2` (vocabulary padded past it, as
/// Qwen2 checkpoints are), a PEFT rsLoRA adapter, and reference ids and log-probabilities from
/// `tokenizers` and transformers + PEFT.
public enum Qwen2Fixture {
    public static let model = fixture("qwen2/model")
    public static let adapter = fixture("qwen2/adapter")
    public static let vocabularySize = 1664

    public struct Expected: Sendable {
        public var texts: [String]
        /// `tokenizers` ids per text (no BOS: Qwen2 adds none).
        public var ids: [[Int]]
        /// A ChatML conversation's ids, special tokens included.
        public var scoreIDs: [Int]
        /// transformers log p(ids[i+1] | ids[...i]) of the base model and of PEFT's merge_and_unload.
        public var logprobsBase: [Float]
        public var logprobsMerged: [Float]
    }

    public static let expected: Expected = {
        let json = try! JSONValue(parsing: Data(contentsOf: fixture("qwen2/expected.json")))
        func ints(_ v: JSONValue) -> [Int] { v.arrayValue!.map { $0.intValue! } }
        func floats(_ k: String) -> [Float] { json[k]!.arrayValue!.map { Float($0.doubleValue!) } }
        return Expected(texts: json["texts"]!.arrayValue!.map { $0.stringValue! }, ids: json["ids"]!.arrayValue!.map(ints),
                        scoreIDs: ints(json["score_ids"]!), logprobsBase: floats("logprobs_base"),
                        logprobsMerged: floats("logprobs_merged"))
    }()
}
