import Foundation
import Testing
import TailorExport
import TailorModels
import TailorQuant
import TailorTape
import TailorTensor
import TailorTestSupport

@Suite struct GGUFExportTests {
    func tmp(_ name: String) -> URL { FileManager.default.temporaryDirectory.appendingPathComponent("tailor-\(UUID().uuidString)-\(name)") }

    /// Writes a merged GGUF and reads it back: every KV equal to what was written, every tensor
    /// at its llama.cpp name, shape and type, with bytes equal to encoding the (permuted) merged
    /// weight; the reloaded model's logits match the adapter model and transformers + PEFT.
    @Test(arguments: [("llama-gqa", "q8_0"), ("qwen2-tied", "f32"), ("llama3-rope", "f16"), ("llama-gqa", "f32"), ("qwen3-qknorm", "q8_0"),
                      ("qwen3-qknorm", "f32")])
    func roundTripEveryKVAndTensor(variant: String, type: String) throws {
        let folder = try exportFixture(variant)
        let (m, _) = try adaptedModel(variant, folder: folder)
        let c = m.configuration
        let arch = try GGUFNames.architecture(modelType: c.modelType)
        let target = GGUFExport.types[type]!
        let meta = GGUFExport.modelMetadata(c, architecture: arch, name: variant, fileType: GGUFExport.fileType(target))
            + (try GGUFVocabulary.metadata(folder: folder, vocabularySize: c.vocabularySize, bosTokenId: c.bosTokenId, eosTokenIds: c.eosTokenIds))
        let url = tmp("\(variant).gguf")
        defer { try? FileManager.default.removeItem(at: url) }
        let tensors = Merge.tensors(of: m)
        try GGUFExport.write(tensors, configuration: c, metadata: meta, target: target, to: url)
        let f = try GGUFFile(path: url.path)
        #expect(f.metadataKeys == meta.map(\.0))
        for (k, v) in meta { #expect(f.metadata[k] == v, "\(k)") }
        #expect(f.metadata["\(arch).attention.layer_norm_rms_epsilon"].map { if case .float32 = $0 { true } else { false } } == true)
        #expect(f.metadata["general.file_type"] == .uint32(GGUFExport.fileType(target)))
        for t in tensors {
            let name = try #require(GGUFNames.gguf(t.name) as String?)
            let info = try f.info(name)
            let want = GGUFExport.tensorType(name, shape: t.shape, target: target, tiedHead: c.tieWordEmbeddings)
            #expect(info.shape == t.shape && info.type == want, "\(name)")
            var v = t.produce()
            if let g = GGUFNames.permutationGroups(t.name, c, architecture: arch) { v = GGUFNames.permuteRows(v, groups: g) }
            let bytes = Array(f.bytes(info))
            #expect(bytes == (try Quantize.encode(want == .q5_0 ? .f32 : want, v.array)) || want == .q5_0, "\(name)")
        }
        #expect(f.contains("rope_freqs.weight") == (variant == "llama3-rope"))
        #expect(f.contains("output.weight") == !c.tieWordEmbeddings)
        #expect(f.contains("blk.1.attn_k_norm.weight") == c.qkNorm && f.metadata["general.architecture"] == .string(arch))
        if c.qkNorm { #expect(try f.info("blk.0.attn_q_norm.weight").type == .f32 && f.floats("blk.0.attn_q_norm.weight").array == m.blocks[0].qNorm!.value.array) }
        let reread = try Merge.loadBase(url).model
        let (ids, expected) = try expectedLogits(variant)
        let tol: Float = type == "f32" ? 1e-4 : 0.1
        #expect(maxAbsDifference(logits(reread, ids), expected) < tol)
        #expect(maxAbsDifference(logits(reread, ids), logits(m, ids)) < (type == "f32" ? 1e-5 : 0.1))
    }

    @Test func byteLevelVocabularyMetadata() throws {
        let folder = try exportFixture("llama-gqa")
        let meta = Dictionary(uniqueKeysWithValues: try GGUFVocabulary.metadata(folder: folder, vocabularySize: 130, bosTokenId: nil, eosTokenIds: []))
        #expect(meta["tokenizer.ggml.model"] == .string("gpt2") && meta["tokenizer.ggml.pre"] == .string("gpt-2"))
        let tokens = meta["tokenizer.ggml.tokens"]?.array?.compactMap(\.string) ?? []
        #expect(tokens.count == 130 && tokens[0] == "<s>" && tokens[129] == "[PAD129]" && Set(tokens).count == 130)
        let types = meta["tokenizer.ggml.token_type"]?.array?.compactMap(\.integer) ?? [0, 0, 0, 0]
        #expect(types[0] == 3 && types[3] == 3 && types[50] == 1 && types[128] == 5)
        #expect(meta["tokenizer.ggml.merges"]?.array?.count == 27)
        #expect(meta["tokenizer.ggml.bos_token_id"] == .uint32(0) && meta["tokenizer.ggml.eos_token_id"] == .uint32(1))
        #expect(meta["tokenizer.ggml.add_bos_token"] == .bool(true) && meta["tokenizer.ggml.add_eos_token"] == .bool(false))
        #expect(meta["tokenizer.chat_template"]?.string?.contains("<|im_start|>") == true)
        #expect(throws: TailorError.self) { try GGUFVocabulary.metadata(folder: folder, vocabularySize: 100, bosTokenId: nil, eosTokenIds: []) }
    }

    /// Adapter GGUF: FLOAT32 alpha with rsLoRA folded (α·√r), llama.cpp names, lora_a = PEFT A,
    /// lora_b = PEFT B with Q/K rows permuted (llama), pattern scales folded into B; re-applied
    /// with llama.cpp's alpha/r rule it reproduces the PEFT model.
    @Test(arguments: ["qwen2-tied", "llama-gqa", "mistral-mqa", "qwen3-qknorm"])
    func adapterGGUF(variant: String) throws {
        let (m, config) = try adaptedModel(variant)
        let url = tmp("\(variant)-adapter.gguf")
        defer { try? FileManager.default.removeItem(at: url) }
        let s = try AdapterGGUFExport.write(m, config: config, name: variant, to: url)
        let f = try GGUFFile(path: url.path)
        #expect(f.metadata["general.type"] == .string("adapter") && f.metadata["adapter.type"] == .string("lora"))
        let alpha = variant == "qwen2-tied" ? Float(4) * Float(8).squareRoot() : config.alpha
        #expect(f.metadata["adapter.lora.alpha"] == .float32(alpha) && s.alpha == alpha)
        let arch = try GGUFNames.architecture(modelType: m.configuration.modelType)
        #expect(f.metadata["general.architecture"] == .string(arch) && arch == ["qwen2-tied": "qwen2", "qwen3-qknorm": "qwen3"][variant, default: "llama"])
        let k = m.blocks[1][.k]
        if let lora = k.lora {
            #expect(try f.floats("blk.1.attn_k.weight.lora_a").array == lora.a.value.array)
            let b = try f.floats("blk.1.attn_k.weight.lora_b")
            let want = arch != "llama" ? lora.b.value : GGUFNames.permuteRows(lora.b.value, groups: m.configuration.kvHeadCount)
            #expect(b.array == want.array)
        }
        #expect(s.folded.map(\.0) == (variant == "mistral-mqa" ? ["model.layers.1.self_attn.o_proj"] : []))
        let (ids, expected) = try expectedLogits(variant)
        let fresh = try LlamaModel(folder: fixture("models/\(variant)/model"))
        try AdapterGGUFExport.load(path: url.path, into: fresh)
        #expect(maxAbsDifference(logits(fresh, ids), expected) < 1e-4)
    }

    /// The proof passes for a faithful export and fails when the export lost the adapter.
    @Test func parityProofCanFail() throws {
        let (m, _) = try adaptedModel("llama-gqa")
        let proof = ParityProof(model: m, prompts: ParityProof.prompts(vocabularySize: 128, maxLength: 12))
        #expect(try proof.compare(m).passes("f32"))
        let base = try LlamaModel(folder: fixture("models/llama-gqa/model"))
        let r = try proof.compare(base)
        #expect(!r.passes("f32") && !r.passes("q8_0") && r.maxDelta > 0.1, "\(r)")
    }

    @Test func modelfileTemplates() {
        let chatml = try! String(contentsOf: fixture("datasets/tiny/chat_template.jinja"), encoding: .utf8)
        let (text, fam) = Modelfile.render(from: "./m.gguf", adapter: "./a.gguf", chatTemplate: chatml)
        #expect(fam == .chatml)
        #expect(text.hasPrefix("FROM ./m.gguf\nADAPTER ./a.gguf\nTEMPLATE \"\"\"{{- range .Messages }}<|im_start|>"))
        #expect(text.contains("PARAMETER stop \"<|im_end|>\""))
        #expect(Modelfile.family(of: "{{ '<|start_header_id|>' }}") == .llama3)
        #expect(Modelfile.family(of: "[INST] <<SYS>>") == .llama2 && Modelfile.family(of: "[INST]") == .mistral)
        #expect(Modelfile.family(of: "<|user|> <|assistant|>") == .zephyr && Modelfile.family(of: "plain") == nil)
        #expect(!Modelfile.render(from: "x", adapter: nil, chatTemplate: nil).text.contains("TEMPLATE"))
    }

    /// The Modelfile's template source: a GGUF's `tokenizer.chat_template` (absent: nil; not a
    /// string: an error naming the file), or a folder's `chat_template.jinja`.
    @Test func modelfileTemplateSourceFromGGUFOrFolder() throws {
        let chatml = try String(contentsOf: fixture("datasets/tiny/chat_template.jinja"), encoding: .utf8)
        var written: [URL] = []
        defer { for url in written { try? FileManager.default.removeItem(at: url) } }
        func gguf(_ template: GGUFValue?) throws -> URL {
            var w = GGUFWriter()
            w.set("general.architecture", .string("llama"))
            if let template { w.set("tokenizer.chat_template", template) }
            let url = tmp("template.gguf")
            written.append(url)
            try w.write(to: url)
            return url
        }
        let source = try Modelfile.chatTemplateSource(model: try gguf(.string(chatml)))
        #expect(source == chatml)
        let (text, fam) = Modelfile.render(from: "./m.gguf", adapter: nil, chatTemplate: source)
        #expect(fam == .chatml && text.contains("PARAMETER stop \"<|im_start|>\"\nPARAMETER stop \"<|im_end|>\"\n"))
        #expect(try Modelfile.chatTemplateSource(model: try gguf(nil)) == nil)
        let bad = try gguf(.uint32(7))
        let error = #expect(throws: TailorError.self) { try Modelfile.chatTemplateSource(model: bad) }
        #expect(error?.message == "\(bad.path): tokenizer.chat_template is not a string")
        #expect(try Modelfile.chatTemplateSource(model: fixture("datasets/tiny")) == chatml)
    }
}
