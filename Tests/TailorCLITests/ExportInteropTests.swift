import Foundation
import Testing
import TailorTestSupport

/// Loads Tailor's exports in transformers/PEFT and (when llama-cpp-python imports) llama.cpp via
/// `Tests/Fixtures/check_export.py`. Opt-in: set TAILOR_INTEROP=1 and have `.venv` at the
/// repository root (or TAILOR_PYTHON); CI runs neither.
@Suite struct ExportInteropTests {
    static var python: String? {
        let env = ProcessInfo.processInfo.environment
        guard env["TAILOR_INTEROP"] == "1" else { return nil }
        let p = env["TAILOR_PYTHON"] ?? fixturesRoot.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".venv/bin/python").path
        return FileManager.default.isExecutableFile(atPath: p) ? p : nil
    }

    /// Runs the fixture script `script` with the tailor executable as its first argument, then `arguments`;
    /// expects exit 0.
    func check(_ script: String, _ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.python!)
        p.arguments = [fixture(script).path, try tailorExecutable().path] + arguments
        try p.run(); p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(script) \(arguments)", sourceLocation: sourceLocation)
    }

    @Test(.enabled(if: python != nil), arguments: ["llama-gqa", "qwen2-tied", "qwen3-qknorm"])
    func interop(variant: String) throws {
        let model = try TokenizeCommandTests.modelFolder()
        try? FileManager.default.removeItem(at: model.appendingPathComponent("model.safetensors"))
        for name in try FileManager.default.contentsOfDirectory(atPath: fixture("models/\(variant)/model").path) {
            let dst = model.appendingPathComponent(name)
            try? FileManager.default.removeItem(at: dst)
            try FileManager.default.copyItem(at: fixture("models/\(variant)/model/\(name)"), to: dst)
        }
        try check("check_export.py", [model.path, fixture("models/\(variant)/adapter").path, model.appendingPathComponent("interop").path])
    }

    /// The SentencePiece fixture (check_export.py with TEXTS_JSON): llama.cpp's tokenize() of Tailor's
    /// GGUF equals `tokenizers` on the fixture texts and the whole corpus; scores as above.
    @Test(.enabled(if: python != nil))
    func interopSentencePiece() throws {
        let work = temporaryFolder("tailor-interop-spm")
        defer { try? FileManager.default.removeItem(at: work) }
        try check("check_export.py", [SPMFixture.model.path, SPMFixture.adapter.path, work.path, fixture("spm/expected.json").path])
    }

    /// A GGUF from llama.cpp's converter with Llama 3.1 RoPE as `rope_freqs.weight` alone, merged by Tailor: the HF
    /// folder has the rope_scaling back and scores as PEFT does, llama.cpp runs the merged GGUF the same
    /// (check_converter_gguf.py).
    @Test(.enabled(if: python != nil))
    func interopConverterRopeFrequencies() throws {
        let work = temporaryFolder("tailor-interop-rope-freqs")
        defer { try? FileManager.default.removeItem(at: work) }
        try check("check_converter_gguf.py", [work.path])
    }

    /// `merge --type q4_k_m` / `q5_k_m` against llama.cpp's own quantizer of the f32 export (check_quant_mix.py):
    /// every tensor's type and bytes, tied and untied, with and without fallbacks.
    @Test(.enabled(if: python != nil))
    func interopQuantMix() throws {
        let work = temporaryFolder("tailor-interop-q4km")
        defer { try? FileManager.default.removeItem(at: work) }
        try check("check_quant_mix.py", [work.path])
    }

    /// The Qwen2 fixture (head_dim × heads = hidden, so llama.cpp's qwen2 runs it; pre `qwen2`, a padded
    /// vocabulary, rsLoRA): check_export.py on random ids.
    @Test(.enabled(if: python != nil))
    func interopQwen2() throws {
        let work = temporaryFolder("tailor-interop-qwen2")
        defer { try? FileManager.default.removeItem(at: work) }
        try check("check_export.py", [Qwen2Fixture.model.path, Qwen2Fixture.adapter.path, work.path])
    }
}
