import Foundation
import Testing
import TailorModels
import TailorTensor
import TailorTestSupport

/// The KV-cache session against the full (training) forward, and the generation loop.
///
/// Reference: ``LlamaModel/logits(_:)`` on the whole sequence, itself checked against
/// transformers + PEFT by ``ParityTests``. Tolerance 1e-5 absolute over whole logit tensors.
@Suite struct GenerationTests {
    static let variants = ParityTests.variants

    static func model(_ variant: String, adapter: Bool = true) throws -> LlamaModel {
        let folder = fixture("models/\(variant)")
        let model = try LlamaModel(folder: folder.appendingPathComponent("model"))
        if adapter { _ = try PEFTAdapter.load(folder: folder.appendingPathComponent("adapter"), into: model) }
        return model
    }

    static func randomTokens(_ n: Int, vocab: Int, seed: UInt64) -> [Int] {
        var rng = TestRandom(seed: seed)
        return (0..<n).map { _ in rng.int(vocab) }
    }

    /// The last row `[vocab]` of the full forward on `ids`.
    static func lastLogits(_ model: LlamaModel, _ ids: [Int]) -> [Float] {
        Array(model.logits(Batch(sequences: [ids])).array.suffix(model.configuration.vocabularySize))
    }

    /// Greedy decoding by recomputing the whole sequence every step.
    static func greedyByRecompute(_ model: LlamaModel, prompt: [Int], steps: Int) -> [Int] {
        var seq = prompt, out: [Int] = []
        for _ in 0..<steps {
            let t = Sampler.argmax(lastLogits(model, seq))
            out.append(t); seq.append(t)
        }
        return out
    }

    /// Prefill chunks and single steps mixed: 5 at once, 4 steps, 7 at once (crossing Mistral's
    /// window of 6 inside one chunk), then single steps; the cache starts at 2 rows and grows.
    @Test(arguments: variants, [true, false])
    func incrementalLogitsMatchFullForward(variant: String, adapter: Bool) throws {
        let model = try Self.model(variant, adapter: adapter)
        let vocab = model.configuration.vocabularySize
        let seq = Self.randomTokens(24, vocab: vocab, seed: 11)
        let full = model.logits(Batch(sequences: [seq]))  // [24, vocab]
        let session = InferenceSession(model: model, capacity: 2)
        var rows: [Float] = []
        rows += try session.prefillLogits(Array(seq[0..<5])).array
        for t in 5..<9 { rows += try session.next(seq[t]).array }
        rows += try session.prefillLogits(Array(seq[9..<16])).array
        for t in 16..<24 {
            let logits = try session.next(seq[t])
            #expect(logits.shape == [vocab])
            rows += logits.array
        }
        #expect(session.count == 24 && session.tokens == seq && session.cache.capacity >= 24)
        expectClose(rows, full.array, atol: 1e-5, "\(variant) adapter \(adapter): cached logits vs full forward")

        // prefill returns the last position's row; a reset session starts over.
        session.reset()
        let last = try session.prefill(Array(seq[0..<10]))
        expectClose(last.array, Array(full.array[(9 * vocab)..<(10 * vocab)]), atol: 1e-5, "\(variant): prefill last row")
    }

    /// Chunks longer than the attention's query tile (64 rows), on the model with 128 positions.
    @Test func longPrefillAcrossQueryTiles() throws {
        let model = try Self.model("llama3-rope")
        let vocab = model.configuration.vocabularySize
        let seq = Self.randomTokens(128, vocab: vocab, seed: 5)
        let full = model.logits(Batch(sequences: [seq])).array
        let session = InferenceSession(model: model)
        var rows = try session.prefillLogits(Array(seq[0..<3])).array
        rows += try session.prefillLogits(Array(seq[3..<100])).array
        for t in 100..<128 { rows += try session.next(seq[t]).array }
        expectClose(rows, full, atol: 1e-5, "llama3-rope 128 positions")
        #expect(throws: TailorError.self) { try session.next(0) }  // position 128 does not exist
    }

    /// Keys are cached after RoPE: re-running the same prefix after truncation reproduces them.
    @Test func truncateRewindsTheCache() throws {
        let model = try Self.model("mistral-mqa")
        let seq = Self.randomTokens(12, vocab: model.configuration.vocabularySize, seed: 3)
        let session = InferenceSession(model: model)
        _ = try session.prefill(Array(seq[0..<8]))
        let keys = session.cache.keys(layer: 1).array
        _ = try session.prefill(Array(seq[8...]))
        session.truncate(to: 5)
        #expect(session.tokens == Array(seq[0..<5]))
        let again = try session.prefill(Array(seq[5..<8]))
        expectClose(session.cache.keys(layer: 1).array, keys, atol: 1e-6, "keys after rewind")
        expectClose(again.array, Self.lastLogits(model, Array(seq[0..<8])), atol: 1e-5, "logits after rewind")
    }

    @Test(arguments: variants)
    func greedyMatchesFullRecompute(variant: String) throws {
        let model = try Self.model(variant)
        let prompt = Self.randomTokens(5, vocab: model.configuration.vocabularySize, seed: 21)
        let got = try model.generate(prompt: prompt, maxTokens: 20)
        #expect(got == Self.greedyByRecompute(model, prompt: prompt, steps: 20), "\(variant)")
    }

    @Test func samplingIsReproducibleBySeed() throws {
        let model = try Self.model("qwen2-tied")
        let prompt = Self.randomTokens(4, vocab: model.configuration.vocabularySize, seed: 8)
        let p = SamplingParameters(temperature: 1.5)
        let a = try model.generate(prompt: prompt, maxTokens: 30, sampling: p, seed: 42)
        let b = try model.generate(prompt: prompt, maxTokens: 30, sampling: p, seed: 42)
        let c = try model.generate(prompt: prompt, maxTokens: 30, sampling: p, seed: 43)
        #expect(a.count == 30 && a == b)
        #expect(a != c, "different seeds gave the same 30 tokens")
        // top-k 1 is greedy whatever the temperature and seed.
        let k1 = try model.generate(prompt: prompt, maxTokens: 15, sampling: SamplingParameters(temperature: 2, topK: 1), seed: 9)
        #expect(k1 == (try model.generate(prompt: prompt, maxTokens: 15)))
    }

    /// Every sampled token lies in the top k of the logits the session produced for that step.
    @Test func sampledTokensRespectTopKAlongGeneration() throws {
        let model = try Self.model("llama-gqa")
        let prompt = Self.randomTokens(4, vocab: model.configuration.vocabularySize, seed: 2)
        let p = SamplingParameters(temperature: 3, topK: 3)
        let tokens = try model.generate(prompt: prompt, maxTokens: 30, sampling: p, seed: 1)
        var seq = prompt
        for t in tokens {
            let logits = Self.lastLogits(model, seq)
            let top3 = Set(logits.indices.sorted { logits[$0] > logits[$1] }.prefix(3))
            #expect(top3.contains(t), "token \(t) outside the top 3 \(top3)")
            seq.append(t)
        }
    }

    @Test func stopTokensEndGeneration() throws {
        let model = try Self.model("llama-gqa")
        let prompt = Self.randomTokens(5, vocab: model.configuration.vocabularySize, seed: 21)
        let free = try model.generate(prompt: prompt, maxTokens: 20, sampling: .init(temperature: 1), seed: 4)
        let i = try #require((1..<free.count).first { !free[..<$0].contains(free[$0]) }, "no fresh token in \(free)")
        var seen: [Int] = []
        let result = try model.generate(prompt: prompt, maxTokens: 20, sampling: .init(temperature: 1),
                                        stopTokens: [free[i], 1000], seed: 4) { seen.append($0); return .continue }
        #expect(result.tokens == Array(free[..<i]))
        #expect(result.finishReason == .stopToken(free[i]))
        #expect(seen == result.tokens)
        // The first token itself can stop.
        let none = try model.generate(prompt: prompt, maxTokens: 20, sampling: .init(temperature: 1), stopTokens: [free[0]], seed: 4)
        #expect(none.isEmpty)
    }

    @Test func callbackStopsAndMaxTokensBounds() throws {
        let model = try Self.model("mistral-mqa")
        let prompt = [3, 1, 4, 1, 5]
        var seen: [Int] = []
        let r = try model.generate(prompt: prompt, maxTokens: 50) { seen.append($0); return seen.count == 3 ? .stop : .continue }
        #expect(r.tokens.count == 3 && r.finishReason == .stopped && seen == r.tokens)
        let m = try model.generate(prompt: prompt, maxTokens: 7) { _ in .continue }
        #expect(m.tokens.count == 7 && m.finishReason == .maxTokens && Array(r.tokens) == Array(m.tokens.prefix(3)))
        #expect(try model.generate(prompt: prompt, maxTokens: 0).isEmpty)
    }

    /// The whole sequence never exceeds the context: 64 positions in these fixtures.
    @Test func contextLengthStopsOrThrows() throws {
        let model = try Self.model("llama-gqa")
        let limit = model.configuration.maxPositionEmbeddings
        #expect(limit == 64)
        let prompt = Self.randomTokens(60, vocab: model.configuration.vocabularySize, seed: 6)
        let r = try model.generate(prompt: prompt, maxTokens: 100) { _ in .continue }
        #expect(r.tokens.count == 4 && r.finishReason == .contextLength)
        #expect(r.tokens == Self.greedyByRecompute(model, prompt: prompt, steps: 4))
        let full = try model.generate(prompt: prompt + [1, 2, 3, 4], maxTokens: 5) { _ in .continue }
        #expect(full.tokens.isEmpty && full.finishReason == .contextLength)
        #expect(throws: TailorError.self) { try model.generate(prompt: prompt + [1, 2, 3, 4, 5], maxTokens: 1) }

        // A session's own, smaller limit.
        let session = InferenceSession(model: model, maxLength: 10)
        let s = try session.generate(prompt: Array(prompt[0..<6]), maxTokens: 100) { _ in .continue }
        #expect(s.tokens.count == 4 && s.finishReason == .contextLength && session.count == 9 && session.remaining == 1)
        #expect(throws: TailorError.self) { try session.prefill([1, 2]) }
        #expect(session.count == 9, "a refused call leaves the cache alone")
    }

    @Test func badInputsThrow() throws {
        let model = try Self.model("llama-linear")
        let vocab = model.configuration.vocabularySize
        #expect(throws: TailorError.self) { try model.generate(prompt: [], maxTokens: 3) }
        #expect(throws: TailorError.self) { try model.generate(prompt: [vocab], maxTokens: 3) }
        #expect(throws: TailorError.self) { try model.generate(prompt: [-1], maxTokens: 3) }
        #expect(throws: TailorError.self) { try model.generate(prompt: [1], maxTokens: -1) }
        for bad in [SamplingParameters(temperature: -1), .init(temperature: .nan), .init(topK: -2),
                    .init(topP: 0), .init(topP: 1.5), .init(minP: -0.1), .init(minP: 2)] {
            #expect(throws: TailorError.self, "\(bad)") { try model.generate(prompt: [1], maxTokens: 3, sampling: bad) }
        }
        let session = InferenceSession(model: model)
        #expect(throws: TailorError.self) { try session.next(vocab + 5) }
        #expect(session.count == 0)
    }
}
