import Foundation
import Testing
import TailorModels
import TailorQuant
import TailorTestSupport

@Suite struct ExportCommandTests {
    @Test func mergeToGGUFWithModelfileProvesParity() throws {
        let model = try TokenizeCommandTests.modelFolder()
        let out = model.appendingPathComponent("merged.gguf")
        let r = try runTailor(["merge", "--model", model.path, "--adapter", fixture("models/llama-gqa/adapter").path,
                               "--output", out.path, "--type", "q8_0", "--modelfile"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("parity (q8_0): max |Δ logprob|") && r.stdout.contains("rel. error"))
        let mf = try String(contentsOf: model.appendingPathComponent("Modelfile"), encoding: .utf8)
        #expect(mf.hasPrefix("FROM ./merged.gguf\n") && mf.contains("PARAMETER stop \"<|im_end|>\""))
    }

    @Test func exportAdapterAndRefusals() throws {
        let model = try TokenizeCommandTests.modelFolder()
        let out = model.appendingPathComponent("adapter.gguf")
        let r = try runTailor(["export-adapter", "--model", model.path, "--adapter", fixture("models/llama-gqa/adapter").path, "--output", out.path])
        #expect(r.status == 0 && r.stdout.contains("parity (f32 adapter)"), "\(r.stderr)")
        let bad = try runTailor(["merge", "--model", model.path, "--output", model.appendingPathComponent("x").path, "--type", "q4_0"])
        #expect(bad.status != 0 && bad.stderr.contains("a Hugging Face folder holds f32, f16 or bf16"))
        let noFrom = try runTailor(["export-adapter", "--model", model.path, "--adapter", fixture("models/llama-gqa/adapter").path, "--output", out.path, "--modelfile"])
        #expect(noFrom.status != 0 && noFrom.stderr.contains("--modelfile needs --from"))
        let dora = model.appendingPathComponent("dora")
        try FileManager.default.createDirectory(at: dora, withIntermediateDirectories: true)
        try Data(#"{"peft_type":"LORA","r":4,"lora_alpha":8,"use_dora":true}"#.utf8).write(to: dora.appendingPathComponent("adapter_config.json"))
        let d = try runTailor(["export-adapter", "--model", model.path, "--adapter", dora.path, "--output", out.path])
        #expect(d.status != 0 && d.stderr.contains("DoRA") && d.stderr.contains("tailor merge"))
    }

    /// With a GGUF as --model, the Modelfile's TEMPLATE and stops come from the GGUF's
    /// `tokenizer.chat_template` (here ChatML, carried over from the fixture folder), for both
    /// `merge` and `export-adapter`.
    @Test func modelfileTemplateFromGGUFSource() throws {
        let folder = try TokenizeCommandTests.modelFolder()
        let base = folder.appendingPathComponent("base.gguf")
        let convert = try runTailor(["merge", "--model", folder.path, "--output", base.path, "--no-verify"])
        #expect(convert.status == 0, "\(convert.stderr)")
        // Outputs go to their own folder, so each Modelfile read below is the one just written.
        let work = folder.appendingPathComponent("from-gguf")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let chatml = Self.chatMLTemplateLines.joined(separator: "\n")

        let merged = work.appendingPathComponent("merged.gguf")
        let m = try runTailor(["merge", "--model", base.path, "--adapter", fixture("models/llama-gqa/adapter").path,
                               "--output", merged.path, "--type", "q8_0", "--modelfile"])
        #expect(m.status == 0, "\(m.stderr)")
        #expect(m.stdout.contains("(template: chatml)"), "\(m.stdout)")
        let mergedModelfile = try String(contentsOf: work.appendingPathComponent("Modelfile"), encoding: .utf8)
        #expect(mergedModelfile == "FROM ./merged.gguf\n" + chatml + "\n")

        let adapterOut = work.appendingPathComponent("adapter.gguf")
        let a = try runTailor(["export-adapter", "--model", base.path, "--adapter", fixture("models/llama-gqa/adapter").path,
                               "--output", adapterOut.path, "--modelfile", "--from", "../base.gguf"])
        #expect(a.status == 0, "\(a.stderr)")
        #expect(a.stdout.contains("(template: chatml)") && a.stdout.contains("parity (f32 adapter)"), "\(a.stdout)")
        let adapterModelfile = try String(contentsOf: work.appendingPathComponent("Modelfile"), encoding: .utf8)
        #expect(adapterModelfile == "FROM ../base.gguf\nADAPTER ./adapter.gguf\n" + chatml + "\n")
    }

    /// Ollama's ChatML TEMPLATE and stop lines, as a Modelfile spells them.
    static let chatMLTemplateLines = [
        "TEMPLATE \"\"\"{{- range .Messages }}<|im_start|>{{ .Role }}",
        "{{ .Content }}<|im_end|>",
        "{{ end }}<|im_start|>assistant",
        "\"\"\"",
        "PARAMETER stop \"<|im_start|>\"",
        "PARAMETER stop \"<|im_end|>\"",
    ]

    /// `tailor merge` of the SentencePiece fixture, from its HF folder and from llama.cpp's converter
    /// GGUF: the GGUF written carries the `llama` vocabulary, tokenizes every fixture text and corpus
    /// line like the reference, and scores like PEFT's merge_and_unload within 1e-4.
    @Test(arguments: ["spm/model", "spm/llama-spm-f16.gguf"])
    func mergeSentencePieceModel(source: String) throws {
        let folder = temporaryFolder("tailor-spm-merge")
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("merged.gguf")
        let r = try runTailor(["merge", "--model", fixture(source).path, "--adapter", SPMFixture.adapter.path, "--output", out.path])
        #expect(r.status == 0 && r.stdout.contains("parity (f32)"), "\(r.stderr)")
        let file = try GGUFFile(path: out.path)
        #expect(file.metadata["tokenizer.ggml.model"] == .string("llama") && file.metadata["tokenizer.ggml.scores"]?.array?.count == 768)
        let bad = SPMFixture.mismatches(try #require(try GGUFModel.tokenizer(file)))
        #expect(bad.isEmpty, "\(bad.count) mismatches:\n\(bad.prefix(12).joined(separator: "\n"))")
        let e = SPMFixture.expected
        expectClose(try GGUFModel.load(file).logProbabilities(e.scoreIDs), e.logprobsMerged, atol: 1e-4, "\(source) merged log-probabilities")
    }

    /// `tailor merge` of the Qwen2 fixture (a Qwen2-style byte-level tokenizer, the vocabulary padded past it):
    /// the GGUF says `gpt2` with pre `qwen2`, fills the padding with `[PAD{i}]`, and writes the added token
    /// "café" (NFD in tokenizer.json, `normalized: true`) in its NFC form, since llama.cpp matches added
    /// tokens in the raw text; its tokenizer gives the `tokenizers` ids of every fixture text, and the merged
    /// model scores like PEFT's merge_and_unload within 1e-4 (the folder alone: like transformers).
    @Test func mergeQwen2Model() throws {
        let folder = temporaryFolder("tailor-qwen2-merge")
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("merged.gguf")
        let r = try runTailor(["merge", "--model", Qwen2Fixture.model.path, "--adapter", Qwen2Fixture.adapter.path, "--output", out.path])
        #expect(r.status == 0 && r.stdout.contains("parity (f32)"), "\(r.stderr)")
        let file = try GGUFFile(path: out.path)
        #expect(file.metadata["tokenizer.ggml.model"] == .string("gpt2") && file.metadata["tokenizer.ggml.pre"] == .string("qwen2"))
        let tokens = file.metadata["tokenizer.ggml.tokens"]?.array?.compactMap(\.string) ?? []
        #expect(tokens.count == Qwen2Fixture.vocabularySize && tokens.last == "[PAD1663]")
        #expect(tokens.count > 1605 && Array(tokens[1605].utf8) == Array("caf\u{E9}".utf8), "bytes of token 1605: \(Array(tokens.count > 1605 ? tokens[1605].utf8 : "".utf8))")
        let e = Qwen2Fixture.expected
        let tokenizer = try #require(try GGUFModel.tokenizer(file))
        for (text, ids) in zip(e.texts, e.ids) { #expect(tokenizer.encode(text) == ids, "\(text.debugDescription)") }
        expectClose(try GGUFModel.load(file).logProbabilities(e.scoreIDs), e.logprobsMerged, atol: 1e-4, "merged log-probabilities")
        expectClose(try LlamaModel(folder: Qwen2Fixture.model).logProbabilities(e.scoreIDs), e.logprobsBase, atol: 1e-4, "base log-probabilities")
    }
}
