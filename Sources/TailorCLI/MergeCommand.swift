import ArgumentParser
import Foundation
import Tailor

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge a LoRA adapter into its base and export a GGUF (llama.cpp, Ollama) or a Hugging Face folder.",
        discussion: """
            W' = W + scale·B·A in fp32 (scale = alpha/r, alpha/√r with rsLoRA, after rank/alpha patterns). \
            --output ending in .gguf writes a GGUF in --type (f32 f16 bf16 q8_0 q4_0 q4_k q4_k_m q5_k q5_k_m q6_k); any other path \
            writes a Hugging Face folder (f32, f16 or bf16). --model may also be a GGUF file, kept memory-mapped: \
            each tensor is dequantized, merged, re-quantized and written before the next. After writing, the file is read back and compared with the model on fixed \
            prompts (max |Δ logprob|, mean KL, greedy agreement); beyond the type's tolerance the command fails.
            """
    )

    @Option(help: "Hugging Face model folder or GGUF file.") var model: String
    @Option(help: "PEFT LoRA adapter folder (omit to convert the base alone).") var adapter: String?
    @Option(help: "Output: a .gguf file, or a folder for Hugging Face safetensors.") var output: String
    @Option(help: "Output type: f32, f16, bf16, q8_0, q4_0, q4_k, q4_k_m, q5_k, q5_k_m, q6_k (_m: llama-quantize's mixes).") var type: String = "f32"
    @Flag(help: "Also write an Ollama Modelfile beside the GGUF.") var modelfile = false
    @Flag(help: "Skip the parity proof.") var noVerify = false

    func run() throws {
        try reportingErrors {
            let out = URL(fileURLWithPath: output)
            let gguf = out.pathExtension.lowercased() == "gguf"
            let t = type.lowercased()
            guard let target = GGUFExport.types[t] else {
                throw TailorError("--type \(type): choose from \(GGUFExport.types.keys.sorted().joined(separator: ", "))")
            }
            if !gguf, ![.f32, .f16, .bf16].contains(target) { throw TailorError("--type \(type): a Hugging Face folder holds f32, f16 or bf16 (give an output ending in .gguf to quantize)") }
            if modelfile, !gguf { throw TailorError("--modelfile needs a .gguf --output") }
            let proof = try export(to: out, gguf: gguf, target: target)
            if modelfile {
                let templ = try Modelfile.chatTemplateSource(model: URL(fileURLWithPath: model))
                let (text, family) = Modelfile.render(from: "./" + out.lastPathComponent, adapter: nil, chatTemplate: templ)
                let mf = out.deletingLastPathComponent().appendingPathComponent("Modelfile")
                try AtomicFile.write(Data(text.utf8), to: mf)
                print("wrote \(mf.path)" + (family.map { " (template: \($0.rawValue))" } ?? " (no TEMPLATE: chat template missing or not recognised)"))
            }
            guard let proof else { print("parity proof skipped (--no-verify)"); return }
            let got = try Merge.loadBase(out).model
            let result = try proof.compare(got)
            let tol = ParityProof.tolerance(t)
            print("parity (\(t)): \(result)  [tolerance: max Δ \(tol.maxDelta), mean KL \(tol.meanKL)]")
            guard result.passes(t) else {
                FileHandle.standardError.write(Data("error: \(out.path) does not match the merged model within the \(t) tolerance\n".utf8))
                throw ExitCode.failure
            }
        }
    }

    /// Loads, computes the reference, writes; the model is released on return.
    func export(to out: URL, gguf: Bool, target: GGUFExport.Target) throws -> ParityProof? {
        let source = URL(fileURLWithPath: model)
        let (base, sourceFile) = try Merge.loadBase(source)
        if let adapter { try PEFTAdapter.load(folder: URL(fileURLWithPath: adapter), into: base) }
        let c = base.configuration
        var proof: ParityProof?
        if !noVerify {
            var length = 24
            if let w = c.slidingWindow, w < length, gguf {
                length = max(2, w)
                print("note: llama.cpp runs \(c.modelType) without its sliding window (\(w)); the proof uses prompts of \(length) tokens")
            }
            proof = ParityProof(model: base, prompts: ParityProof.prompts(vocabularySize: c.vocabularySize, maxLength: length))
        }
        let tensors = Merge.tensors(of: base)
        print("merging \(base.adaptedLayers.count) adapted layers into \(tensors.count) tensors → \(out.path)")
        if gguf {
            let arch = try GGUFNames.architecture(modelType: c.modelType)
            var meta = GGUFExport.modelMetadata(c, architecture: arch, name: source.deletingPathExtension().lastPathComponent, fileType: GGUFExport.fileType(target))
            if let sourceFile {
                meta += sourceFile.metadataKeys.filter { $0.hasPrefix("tokenizer.") }.map { ($0, sourceFile.metadata[$0]!) }
            } else {
                meta += try GGUFVocabulary.metadata(folder: source, vocabularySize: c.vocabularySize, bosTokenId: c.bosTokenId, eosTokenIds: c.eosTokenIds)
            }
            var worst = 0.0
            try GGUFExport.write(tensors, configuration: c, metadata: meta, target: target, to: out) { r in
                var line = "  \(r.name) \(r.shape) \(r.type)"
                if let e = r.relativeError { line += String(format: "  rel. error %.3g", e); worst = max(worst, e) }
                if let from = r.fallbackFrom { line += "  (\(from) cannot take rows of \(r.shape.last!))" }
                print(line)
            }
            if target != .f32 { print(String(format: "largest relative re-quantization error %.3g", worst)) }
        } else {
            let config = try sourceFile.map(GGUFModel.configurationObject) ?? HFFolderExport.readConfig(folder: source)
            let dtype: SafetensorsDType = target == .f16 ? .f16 : target == .bf16 ? .bf16 : .f32
            let shards = try HFFolderExport.write(tensors, config: config, companionSource: sourceFile == nil ? source : nil, dtype: dtype, to: out)
            print("wrote \(shards.count) safetensors file(s), \(shards.reduce(0) { $0 + $1.bytes }) bytes of \(dtype.rawValue) weights")
        }
        return proof
    }
}
