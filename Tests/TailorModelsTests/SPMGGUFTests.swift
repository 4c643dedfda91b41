import Foundation
import Testing
import TailorData
import TailorModels
import TailorQuant
import TailorTestSupport

/// A GGUF that llama.cpp's convert_hf_to_gguf.py made from a tiny Llama with a real SentencePiece
/// `tokenizer.model` (`tokenizer.ggml.model = llama`: tokens, scores, token types; make_spm_fixtures.py).
/// Tailor's tokenizer from it must give the reference ids (= HF `tokenizers` = llama.cpp = sentencepiece).
@Suite struct SPMGGUFTests {
    static func converterFile() throws -> GGUFFile { try GGUFFile(path: SPMFixture.converterGGUF.path) }

    @Test func converterVocabularyIsSentencePiece() throws {
        let f = try Self.converterFile()
        #expect(f.metadata["tokenizer.ggml.model"] == .string("llama"))
        #expect(f.metadata["tokenizer.ggml.tokens"]?.array?.count == SPMFixture.vocabularySize)
        #expect(f.metadata["tokenizer.ggml.scores"]?.array?.count == SPMFixture.vocabularySize)
        #expect(f.metadata["tokenizer.ggml.merges"] == nil)
    }

    /// Whole id arrays on the edge-case texts (leading/multiple spaces, newlines, byte fallback for
    /// emoji and rare scripts, digits, empty string, special-token text) and every corpus line.
    @Test func converterGGUFTokenizerMatchesReference() throws {
        let tokenizer = try #require(try GGUFModel.tokenizer(Self.converterFile()))
        let bad = SPMFixture.mismatches(tokenizer)
        #expect(bad.isEmpty, "\(bad.count) mismatches:\n\(bad.prefix(12).joined(separator: "\n"))")
        #expect(tokenizer.encode("") == [1] && tokenizer.encode(" hello") == SPMFixture.expected.ids[2])
    }

    @Test func folderTokenizerMatchesReference() throws {
        let tokenizer = try Tokenizer(contentsOf: SPMFixture.model.appendingPathComponent("tokenizer.json"))
        let bad = SPMFixture.mismatches(tokenizer)
        #expect(bad.isEmpty, "\(bad.count) mismatches:\n\(bad.prefix(12).joined(separator: "\n"))")
    }

    /// `tokenizer.ggml.add_space_prefix = false` (e.g. from `add_prefix_space: false`) turns off the
    /// dummy "▁" as in llama.cpp; absent or true keeps it.
    @Test func addSpacePrefixFlagIsHonoured() throws {
        let f = try Self.converterFile()
        func vocabulary(addSpacePrefix: Bool?) throws -> Tokenizer {
            var m = f.metadata
            m["tokenizer.ggml.add_space_prefix"] = addSpacePrefix.map { .bool($0) }
            return try #require(try GGUFModel.tokenizer(metadata: m, source: "test"))
        }
        let with = try vocabulary(addSpacePrefix: nil), without = try vocabulary(addSpacePrefix: false)
        #expect(try vocabulary(addSpacePrefix: true).encode(" hello world") == with.encode(" hello world"))
        // Without the prefix, " hello world" is exactly what "hello world" is with it.
        #expect(without.encode(" hello world") == with.encode("hello world"))
        #expect(without.encode("hello") != with.encode("hello"))
        #expect(without.decode(without.encode(" hello world"), skipSpecialTokens: true) == " hello world")
    }

    /// The converter's GGUF (F16 weights, permuted Q/K) scores like transformers within 1e-4,
    /// as does Tailor on the HF folder itself.
    @Test func converterGGUFScoresLikeTransformers() throws {
        let e = SPMFixture.expected
        let gguf = try GGUFModel.load(Self.converterFile())
        expectClose(gguf.logProbabilities(e.scoreIDs), e.logprobsBase, atol: 1e-4, "converter GGUF log-probabilities")
        let folder = try LlamaModel(folder: SPMFixture.model)
        expectClose(folder.logProbabilities(e.scoreIDs), e.logprobsBase, atol: 1e-4, "HF folder log-probabilities")
        print("SPM converter GGUF: max |Δ logprob| vs transformers = \(maxAbsDifference(gguf.logProbabilities(e.scoreIDs), e.logprobsBase).value)")
    }
}
