import ArgumentParser
import Foundation
import Tailor

/// `tailor quantize`: save a QLoRA base as a GGUF (also loadable by llama.cpp).
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Save a Hugging Face model as a GGUF base with its block projections quantized.",
        discussion: """
            The seven block projections (q, k, v, o, gate, up, down) take --type (f32 f16 bf16 q8_0 q4_0 \
            q4_k q5_k q6_k; K-quants fall back to q5_0/q5_1/q8_0 on rows not a multiple of 256) with ggml's \
            reference rounding, exactly what `train --quantize` does at load time for the types it takes (q4_k_m, \
            q5_k_m: llama-quantize's mixes, q6_k for attn_v and ffn_down in the layers it picks); the embedding and output head keep \
            their stored precision and norms are f32. The file carries llama.cpp's metadata and tokenizer, \
            is written under a temporary name and renamed into place, and is then reloaded and scored \
            against the folder quantized at load time.
            """
    )

    @Option(help: "Hugging Face model folder (f32, f16 or bf16 safetensors).") var model: String
    @Option(help: "Block projection type: f32, f16, bf16, q8_0, q4_0, q4_k, q4_k_m, q5_k, q5_k_m, q6_k (_m: llama-quantize's mixes, Q6_K for some attn_v and ffn_down).") var type: String
    @Option(help: "Output .gguf path.") var output: String

    func run() throws {
        try reportingErrors {
            guard let target = QuantizeExport.types[type.lowercased()] else {
                throw TailorError("--type \(type): choose from \(QuantizeExport.types.keys.sorted().joined(separator: ", "))")
            }
            guard output.lowercased().hasSuffix(".gguf") else { throw TailorError("--output \(output): give a path ending in .gguf") }
            let folder = URL(fileURLWithPath: model), out = URL(fileURLWithPath: output)
            var bytes = 0
            try QuantizeExport.write(folder: folder, target: target, to: out) { r in
                bytes += r.type.rowBytes(columns: r.shape.last ?? 1).map { $0 * r.shape.dropLast().reduce(1, *) } ?? 0
                var line = "  \(r.name) \(r.shape) \(r.type)"
                if let e = r.relativeError { line += String(format: "  rel. error %.3g", e) }
                if let from = r.fallbackFrom { line += "  (\(from) cannot take rows of \(r.shape.last!))" }
                print(line)
            }
            print("wrote \(out.path) (\(bytes) bytes of tensors)")
        }
    }
}
