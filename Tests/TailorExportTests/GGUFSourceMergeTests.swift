import Foundation
import Testing
import TailorExport
import TailorModels
import TailorQuant
import TailorTape
import TailorTensor
import TailorTestSupport

/// Merging from a GGUF base: the model comes from TailorModels' loader (``Merge/loadBase(_:)``),
/// the Hugging Face `config.json` of a folder export from ``GGUFModel/configurationObject(_:)``.
@Suite struct GGUFSourceMergeTests {
    /// GGUF base + PEFT adapter → Hugging Face folder: the folder's configuration equals the
    /// original folder's (llama3 RoPE, explicit head_dim, tied head, biases survive the trip) and
    /// its logits equal transformers + PEFT within 1e-4.
    @Test(arguments: ["llama3-rope", "qwen2-tied", "llama-gqa", "qwen3-qknorm"])
    func ggufBaseToHuggingFaceFolder(variant: String) throws {
        let (m, file) = try Merge.loadBase(try baseGGUF(variant, type: "f32"))
        try PEFTAdapter.load(folder: fixture("models/\(variant)/adapter"), into: m)
        let out = temporaryFolder("tailor-gguf-to-hf")
        defer { try? FileManager.default.removeItem(at: out) }
        try HFFolderExport.write(Merge.tensors(of: m), config: try GGUFModel.configurationObject(try #require(file)),
                                 companionSource: nil, to: out)
        let reloaded = try LlamaModel(folder: out)
        let want = try ModelConfiguration(folder: fixture("models/\(variant)/model")), got = reloaded.configuration
        #expect(got.ropeScaling == want.ropeScaling && got.ropeTheta == want.ropeTheta && got.headDim == want.headDim)
        #expect(got.tieWordEmbeddings == want.tieWordEmbeddings && got.attentionBias == want.attentionBias)
        #expect(got.kvHeadCount == want.kvHeadCount && got.rmsNormEps == want.rmsNormEps && got.modelType == want.modelType)
        #expect(got.qkNorm == want.qkNorm)
        let (ids, expected) = try expectedLogits(variant)
        #expect(maxAbsDifference(logits(reloaded, ids), expected) < 1e-4)
    }

    /// A copy of the GGUF at `url` with its metadata changed by `change` and `extra` tensors appended (or put in place of their namesakes).
    func rewritten(_ url: URL, extra: [(String, Tensor)] = [], _ change: (inout [(String, GGUFValue)]) -> Void = { _ in }) throws -> URL {
        let f = try GGUFFile(path: url.path)
        var meta = f.metadataKeys.map { ($0, f.metadata[$0]!) }
        change(&meta)
        var w = GGUFWriter()
        for (k, v) in meta { w.set(k, v) }
        for info in f.tensors where !extra.contains(where: { $0.0 == info.name }) {  // extra replaces a tensor of its name
            try w.addTensor(info.name, try f.floats(info.name), type: .f32)
        }
        for (name, t) in extra { try w.addTensor(name, t, type: .f32) }
        let out = url.deletingLastPathComponent().appendingPathComponent("rewritten-\(UUID().uuidString).gguf")
        try w.write(to: out)
        return out
    }

    /// `--base-dtype stored` on an F16 GGUF: the matrices stay F16 in the mapped file, the norms are
    /// read as fp32, and the logits equal the fp32 load's.
    @Test func storedF16GGUFMatchesFP32() throws {
        let file = try GGUFFile(path: try baseGGUF("llama-gqa", type: "f16").path)
        let stored = try GGUFModel.load(file, frozen: .stored), f32 = try GGUFModel.load(file)
        #expect([stored.embedding, stored.outputHead, stored.blocks[0][.q].weight].allSatisfy { ($0 as? QuantizedMatrix)?.type == .f16 })
        #expect(f32.blocks[0][.q].weight.parameter != nil && stored.blocks[0].inputNorm.value.count == 64)
        let batch = Batch(sequences: [[1, 5, 9, 3, 7, 2], [4, 4, 8, 1, 6, 0]])
        expectClose(stored.logits(batch), f32.logits(batch), atol: 1e-5, rtol: 1e-5, "stored F16 GGUF logits")
    }

    /// A tensor the architecture does not have is refused by name (the merge would drop it).
    @Test func extraTensorIsRefused() throws {
        let url = try rewritten(try baseGGUF("llama-gqa", type: "f32"), extra: [("blk.7.ffn_up.weight", Tensor(zeros: [96, 64]))])
        let error = #expect(throws: TailorError.self) { try Merge.loadBase(url) }
        #expect(error?.message.hasPrefix("\(url.path): tensor blk.7.ffn_up.weight is not part of the llama model") == true, "\(error?.message ?? "")")
    }

    /// Llama 3.1 RoPE in a GGUF: `rope_freqs.weight` must agree with Tailor's `tailor.rope.llama3.*`
    /// keys; without them (as llama.cpp writes it) the scaling is recovered from the tensor, and a tensor
    /// no llama3 scaling makes is refused.
    @Test func ropeFrequenciesMustMatchTheirKeys() throws {
        let url = try baseGGUF("llama3-rope", type: "f32")
        #expect(try GGUFModel.configuration(GGUFFile(path: url.path)).ropeScaling == ModelConfiguration(folder: fixture("models/llama3-rope/model")).ropeScaling)
        let wrongFactor = try rewritten(url) { meta in
            meta = meta.map { $0.0 == "tailor.rope.llama3.factor" ? ($0.0, .float32(4)) : $0 }
        }
        let e1 = #expect(throws: TailorError.self) { try Merge.loadBase(wrongFactor) }
        #expect(e1?.message == "\(wrongFactor.path): rope_freqs.weight does not match its tailor.rope.llama3.* keys")
        let noKeys = try rewritten(url) { meta in meta.removeAll { $0.0.hasPrefix("tailor.rope.llama3.") } }
        #expect(try GGUFModel.load(GGUFFile(path: noKeys.path)).configuration.ropeScaling == ModelConfiguration(folder: fixture("models/llama3-rope/model")).ropeScaling)
        let linear = try rewritten(noKeys, extra: [("rope_freqs.weight", Tensor(shape: [8], values: [Float](repeating: 2, count: 8)))])
        let e2 = #expect(throws: TailorError.self) { try GGUFModel.load(GGUFFile(path: linear.path)) }
        #expect(e2?.message == "\(linear.path): rope_freqs.weight holds 8 frequency factors that are not Llama 3.1-style RoPE scaling (the only kind supported) for head size 16")
    }
}
