import ArgumentParser
import Foundation
import Tailor

struct ExportAdapterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-adapter",
        abstract: "Write a PEFT LoRA adapter as a llama.cpp adapter GGUF (--lora, Ollama ADAPTER).",
        discussion: """
            adapter.lora.alpha is PEFT's lora_alpha (×√r with rsLoRA, so llama.cpp's alpha/r scale is right); per-module \
            scale differences are folded into lora_b; llama q/k lora_b rows are permuted. DoRA and embedding LoRA are \
            refused. After writing, the base with the re-read adapter is compared with the base with the PEFT adapter.
            """
    )

    @Option(help: "Base model: a Hugging Face folder or a GGUF file (kept memory-mapped, quantized weights stay quantized).") var model: String
    @Option(help: "PEFT LoRA adapter folder.") var adapter: String
    @Option(help: "Output .gguf file.") var output: String
    @Flag(help: "Also write an Ollama Modelfile beside the adapter (needs --from).") var modelfile = false
    @Option(help: "The Modelfile's FROM: the base as an Ollama model name or GGUF path.") var from: String?
    @Flag(help: "Skip the parity proof.") var noVerify = false

    func run() throws {
        try reportingErrors {
            let out = URL(fileURLWithPath: output)
            guard out.pathExtension.lowercased() == "gguf" else { throw TailorError("--output \(output): an adapter GGUF must end in .gguf") }
            if modelfile, from == nil { throw TailorError("--modelfile needs --from (the base model for Ollama's FROM line)") }
            if from != nil, !modelfile { throw TailorError("--from is only used with --modelfile") }
            let adapterURL = URL(fileURLWithPath: adapter), source = URL(fileURLWithPath: model)
            try AdapterGGUFExport.checkRepresentable(adapterFolder: adapterURL)
            let m = source.pathExtension.lowercased() == "gguf" ? try GGUFModel.load(GGUFFile(path: source.path), mapDenseMatrices: true) : try LlamaModel(folder: source)
            let config = try PEFTAdapter.load(folder: adapterURL, into: m)
            let c = m.configuration
            let prompts = ParityProof.prompts(vocabularySize: c.vocabularySize, maxLength: min(24, max(2, c.slidingWindow ?? 24)))
            let proof = noVerify ? nil : ParityProof(model: m, prompts: prompts)
            let s = try AdapterGGUFExport.write(m, config: config, name: adapterURL.lastPathComponent, to: out)
            print("wrote \(out.path): \(s.pairs) lora_a/lora_b pairs, adapter.lora.alpha \(s.alpha)\(config.useRSLoRA ? " (rsLoRA folded: α·√r)" : "")")
            for (module, f) in s.folded { print(String(format: "  %@: scale folded into lora_b (×%.6g)", module, f)) }
            if modelfile, let from {
                let templ = try Modelfile.chatTemplateSource(model: source)
                let (text, family) = Modelfile.render(from: from, adapter: "./" + out.lastPathComponent, chatTemplate: templ)
                let mf = out.deletingLastPathComponent().appendingPathComponent("Modelfile")
                try AtomicFile.write(Data(text.utf8), to: mf)
                print("wrote \(mf.path)" + (family.map { " (template: \($0.rawValue))" } ?? " (no TEMPLATE: chat template missing or not recognised)"))
            }
            guard let proof else { print("parity proof skipped (--no-verify)"); return }
            try AdapterGGUFExport.load(path: out.path, into: m)
            let result = try proof.compare(m)
            print("parity (f32 adapter): \(result)  [tolerance: max Δ \(ParityProof.tolerance("f32").maxDelta)]")
            guard result.passes("f32") else {
                FileHandle.standardError.write(Data("error: \(out.path) does not reproduce the PEFT adapter within the f32 tolerance\n".utf8))
                throw ExitCode.failure
            }
        }
    }
}
