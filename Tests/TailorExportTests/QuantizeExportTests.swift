import Foundation
import Testing
import TailorData
import TailorExport
import TailorModels
import TailorQuant
import TailorTensor
import TailorTestSupport

/// `tailor quantize`: the saved GGUF base reloads in Tailor and scores like the folder.
@Suite struct QuantizeExportTests {
    func write(_ type: String) throws -> (folder: URL, file: GGUFFile) {
        let folder = try exportFixture("llama-gqa")
        let out = folder.appendingPathComponent("base-\(type).gguf")
        try QuantizeExport.write(folder: folder, target: QuantizeExport.types[type]!, to: out)
        return (folder, try GGUFFile(path: out.path))
    }

    /// Block projections take the type (K-quants fall back on 64/96-wide rows); embedding, head
    /// and norms stay F32; the tokenizer is there.
    @Test(arguments: ["f16", "q8_0", "q4_0", "q4_k"])
    func tensorTypes(type: String) throws {
        let (folder, f) = try write(type); defer { try? FileManager.default.removeItem(at: folder) }
        let want: GGMLType = type == "q4_k" ? .q5_0 : QuantizeExport.types[type]!.type
        #expect(try f.info("blk.0.attn_q.weight").type == want)
        #expect(try f.info("blk.1.ffn_down.weight").type == want)
        for name in ["token_embd.weight", "output.weight", "blk.0.attn_norm.weight", "output_norm.weight"] {
            #expect(try f.info(name).type == .f32, "\(name)")
        }
        #expect(f.metadata["tokenizer.ggml.tokens"]?.array?.count == 128)
        #expect(f.metadata["general.architecture"]?.string == "llama")
        #expect(try GGUFModel.tokenizer(f) != nil)
    }

    /// q8_0 and q4_0: the reloaded base gives the logits of the folder quantized at load time
    /// (`train --quantize`) within 1e-5 (same reference quantizer, same bytes); every type passes
    /// the merge export's parity tolerance against the fp32 folder.
    @Test(arguments: ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_k", "q4_k_m", "q5_k", "q5_k_m", "q6_k"])
    func roundTripScores(type: String) throws {
        let (folder, f) = try write(type); defer { try? FileManager.default.removeItem(at: folder) }
        let reloaded = try GGUFModel.load(f)
        let rows = [[1, 5, 9, 17, 33, 64, 100, 127], [3, 3, 40, 2, 90, 11, 7, 0]]
        if ["q8_0", "q4_0"].contains(type) {
            let q = try BaseQuantization(parsing: type)
            let atLoad = try LlamaModel(folder: folder, quantizing: q)
            expectClose(logits(reloaded, rows), logits(atLoad, rows), atol: 1e-5, "\(type) reloaded vs --quantize")
        }
        if type == "f32" {
            expectClose(logits(reloaded, rows), logits(try LlamaModel(folder: folder), rows), atol: 1e-5, "f32 reloaded")
        }
        let dense = try LlamaModel(folder: folder)
        let proof = ParityProof(model: dense, prompts: ParityProof.prompts(vocabularySize: 128))
        let result = try proof.compare(reloaded)
        #expect(result.passes(type), "\(type): \(result)")
    }

    /// Ids from the GGUF's `tokenizer.ggml.*` (written by the export code from the fixture's
    /// tokenizer.json) equal the Hugging Face tokenizer's, with and without special tokens.
    @Test func ggufTokenizerMatchesHF() throws {
        let (folder, f) = try write("q8_0"); defer { try? FileManager.default.removeItem(at: folder) }
        let hf = try Tokenizer(contentsOf: folder.appendingPathComponent("tokenizer.json"))
        let gguf = try #require(try GGUFModel.tokenizer(f))
        let texts = ["Hello world", "  two  spaces\nand\ttabs", "héllo — ünïcode ✓ 日本", "<|im_start|>user\nhi<|im_end|>",
                     "numbers 12345 and punctuation!?", "", " leading", "trailing "]
        for text in texts {
            for special in [true, false] {
                #expect(gguf.encode(text, addSpecialTokens: special) == hf.encode(text, addSpecialTokens: special), "\(text.debugDescription) special \(special)")
            }
        }
    }

    /// Quantizing at load refuses a projection whose input width is not a multiple of the block,
    /// naming the source and the tensor — from a folder (`train --quantize`) and from any loader
    /// (the benchmark's random models).
    @Test func quantizingAtLoadChecksTheBlockSize() throws {
        let folder = fixture("models/llama-gqa/model")
        let e1 = #expect(throws: TailorError.self) { try LlamaModel(folder: folder, quantizing: .q4_K) }
        #expect(e1?.message == "\(folder.path): model.layers.0.self_attn.q_proj.weight has 64 input features, not a multiple of the q4_k block size 256")
        let config = try ModelConfiguration(folder: folder)
        let e2 = #expect(throws: TailorError.self) {
            try LlamaModel(configuration: config, quantizing: .nf4, source: "random") { _, shape in Tensor(zeros: shape) }
        }
        #expect(e2?.message == "random: model.layers.0.mlp.down_proj.weight has 96 input features, not a multiple of the nf4 block size 64")
        let ok = try LlamaModel(configuration: config, quantizing: .q4_0, source: "random") { _, shape in Tensor(zeros: shape) }
        #expect(ok.hasQuantizedBase && ok.blocks[1][.down].weight is QuantizedMatrix)
    }
}
