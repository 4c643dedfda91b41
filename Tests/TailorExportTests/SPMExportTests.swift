import Foundation
import Testing
import TailorData
import TailorExport
import TailorModels
import TailorQuant
import TailorTestSupport

/// Tailor's SentencePiece (`llama`) vocabulary export against llama.cpp's converter, on the
/// Llama-2-style fixture of `Tests/Fixtures/spm` (make_spm_fixtures.py).
@Suite struct SPMExportTests {
    static let tokenizerKeys = ["tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                                "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token",
                                "tokenizer.chat_template"]

    /// Tokens (as bytes: `String ==` would equate canonically equivalent tokens), token types and
    /// special ids / flags equal the converter's; scores within `scoreTolerance` when given.
    static func expectConverterVocabulary(_ mine: [String: GGUFValue], scoreTolerance: Float?,
                                          sourceLocation: SourceLocation = #_sourceLocation) throws {
        let theirs = try GGUFFile(path: SPMFixture.converterGGUF.path).metadata
        for k in tokenizerKeys { #expect(mine[k] == theirs[k], "\(k): \(String(describing: mine[k]))", sourceLocation: sourceLocation) }
        func bytes(_ m: [String: GGUFValue]) -> [[UInt8]] { m["tokenizer.ggml.tokens"]?.array?.map { Array(($0.string ?? "?").utf8) } ?? [] }
        func ints(_ m: [String: GGUFValue]) -> [Int] { m["tokenizer.ggml.token_type"]?.array?.compactMap(\.integer) ?? [] }
        let tokens = bytes(mine), want = bytes(theirs)
        #expect(tokens.count == SPMFixture.vocabularySize && tokens == want,
                "tokens differ at \(zip(tokens, want).enumerated().filter { $0.1.0 != $0.1.1 }.map(\.offset).prefix(8))", sourceLocation: sourceLocation)
        #expect(ints(mine) == ints(theirs), "token types differ at \(zip(ints(mine), ints(theirs)).enumerated().filter { $0.1.0 != $0.1.1 }.map(\.offset).prefix(8))",
                sourceLocation: sourceLocation)
        if let scoreTolerance {
            let s = mine["tokenizer.ggml.scores"]?.array?.compactMap(\.number).map(Float.init) ?? []
            let t = theirs["tokenizer.ggml.scores"]?.array?.compactMap(\.number).map(Float.init) ?? []
            expectClose(s, t, atol: scoreTolerance, "tokenizer.ggml.scores", sourceLocation: sourceLocation)
        }
    }

    static func vocabularyMetadata(_ folder: URL) throws -> [String: GGUFValue] {
        Dictionary(uniqueKeysWithValues: try GGUFVocabulary.metadata(folder: folder, vocabularySize: SPMFixture.vocabularySize,
                                                                      bosTokenId: 1, eosTokenIds: [2]))
    }

    /// With `tokenizer.model` beside `tokenizer.json`: exactly the converter's tokens, SentencePiece
    /// scores and types (incl. the canonically equivalent pair "▁Å" U+212B / "▁Å" A+U+030A).
    @Test func vocabularyEqualsConverter() throws {
        let meta = try Self.vocabularyMetadata(SPMFixture.model)
        try Self.expectConverterVocabulary(meta, scoreTolerance: 0)
        let tokens = meta["tokenizer.ggml.tokens"]!.array!.map { $0.string! }
        #expect(tokens[515].unicodeScalars.map(\.value) == [0x2581, 0x212B] && tokens[533].unicodeScalars.map(\.value) == [0x2581, 0x41, 0x30A])
    }

    /// Without `tokenizer.model` (or with one that does not match `tokenizer.json`) the scores are
    /// −(merge rank): other numbers, the same order, so the GGUF still tokenizes like the reference.
    @Test(arguments: ["absent", "stale"])
    func vocabularyWithoutMatchingTokenizerModel(_ variant: String) throws {
        let folder = temporaryFolder("tailor-spm")
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in ["tokenizer.json", "tokenizer_config.json"] {
            try FileManager.default.copyItem(at: SPMFixture.model.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        if variant == "stale" {  // another model's pieces: the llama-2-style tokenizer fixture's ids differ
            let bytes: [UInt8] = [0x0A, 0x09, 0x0A, 0x05] + Array("<unk>".utf8) + [0x18, 0x02, 0x0A, 0x05, 0x0A, 0x01, 0x78, 0x18, 0x01]
            let proto = Data(bytes)
            try proto.write(to: folder.appendingPathComponent("tokenizer.model"))
            #expect(try SentencePieceModel(data: proto, source: "stale").pieces.map(\.text) == ["<unk>", "x"])
        }
        let meta = try Self.vocabularyMetadata(folder)
        try Self.expectConverterVocabulary(meta, scoreTolerance: nil)
        let tokenizer = try #require(try GGUFModel.tokenizer(metadata: meta, source: "exported"))
        let bad = SPMFixture.mismatches(tokenizer)
        #expect(bad.isEmpty, "\(bad.count) mismatches:\n\(bad.prefix(12).joined(separator: "\n"))")
    }

    /// `tailor merge` to GGUF (f32) and back: the vocabulary equals the converter's, the GGUF's
    /// tokenizer gives the reference ids on every text and corpus line, and the merged model's
    /// log-probabilities equal PEFT's merge_and_unload within 1e-4.
    @Test func mergedGGUFRoundTrip() throws {
        let model = try LlamaModel(folder: SPMFixture.model)
        _ = try PEFTAdapter.load(folder: SPMFixture.adapter, into: model)
        let c = model.configuration
        let arch = try GGUFNames.architecture(modelType: c.modelType)
        let meta = GGUFExport.modelMetadata(c, architecture: arch, name: "llama-spm", fileType: GGUFExport.fileType(.f32))
            + (try GGUFVocabulary.metadata(folder: SPMFixture.model, vocabularySize: c.vocabularySize, bosTokenId: c.bosTokenId, eosTokenIds: c.eosTokenIds))
        let url = temporaryFolder("tailor-spm").appendingPathComponent("merged.gguf")
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        try GGUFExport.write(Merge.tensors(of: model), configuration: c, metadata: meta, target: .f32, to: url)

        let file = try GGUFFile(path: url.path)
        try Self.expectConverterVocabulary(file.metadata, scoreTolerance: 0)
        #expect(file.metadata["tokenizer.ggml.add_space_prefix"] == .bool(true))
        let tokenizer = try #require(try GGUFModel.tokenizer(file))
        let bad = SPMFixture.mismatches(tokenizer)
        #expect(bad.isEmpty, "\(bad.count) mismatches:\n\(bad.prefix(12).joined(separator: "\n"))")
        let e = SPMFixture.expected
        let lp = try GGUFModel.load(file).logProbabilities(e.scoreIDs)
        expectClose(lp, e.logprobsMerged, atol: 1e-4, "merged GGUF log-probabilities vs PEFT merge_and_unload")
        print("SPM merged GGUF: max |Δ logprob| vs PEFT merge = \(maxAbsDifference(lp, e.logprobsMerged).value)")
    }
}
