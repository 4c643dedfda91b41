import Foundation
import TailorModels
import TailorQuant
import TailorTensor

/// `tailor quantize`: a Hugging Face folder saved as a GGUF QLoRA base. The seven block
/// projections take the requested type (with llama-quantize's fallbacks for rows the block size
/// does not divide); the token embedding and output head keep their stored precision (F32, F16 or
/// BF16) and norms are F32, as ``LlamaModel/init(folder:quantizing:frozen:)`` keeps them at load time.
/// Metadata and tokenizer are the merge export's; tensors are read, encoded and written one at a
/// time, under a temporary name renamed into place.
public enum QuantizeExport {
    /// The `--type` values.
    public static let types: [String: GGUFExport.Target] = GGUFExport.types

    /// Writes `folder` as a GGUF in `target` to `url`; `report` is called per tensor.
    @discardableResult
    public static func write(folder: URL, target: GGUFExport.Target, to url: URL,
                             report: @escaping (GGUFExport.TensorReport) -> Void = { _ in }) throws -> [GGUFExport.TensorReport] {
        let c = try ModelConfiguration(folder: folder)
        let files = try WeightFiles(folder: folder)
        let arch = try GGUFNames.architecture(modelType: c.modelType)
        var meta = GGUFExport.modelMetadata(c, architecture: arch, name: folder.lastPathComponent, fileType: GGUFExport.fileType(target))
        meta += try GGUFVocabulary.metadata(folder: folder, vocabularySize: c.vocabularySize, bosTokenId: c.bosTokenId, eosTokenIds: c.eosTokenIds)
        var stored: [String: GGMLType] = [:]  // GGUF name → the source dtype, for tensors kept as they are
        var tensors: [MergedTensor] = []
        for name in files.names.sorted(by: hfOrder) {
            guard let gguf = GGUFNames.gguf(name) else { continue }  // e.g. rotary inv_freq buffers
            let e = try files.entry(name)
            switch e.dtype {
            case .f16: stored[gguf] = .f16
            case .bf16: stored[gguf] = .bf16
            case .f32: stored[gguf] = .f32
            default: throw TailorError("\(folder.path): tensor \(name) is \(e.dtype.rawValue); tailor quantize reads f32, f16 or bf16")
            }
            let shape = e.shape
            tensors.append(MergedTensor(name: name, shape: shape, isMerged: false) {
                // Header, dtype and byte range were validated when the files were opened and above.
                do { return try files.tensor(name, shape: shape) } catch { preconditionFailure("\(error)") }
            })
        }
        return try GGUFExport.write(tensors, configuration: c, metadata: meta, target: target, to: url, typeFor: { name, shape in
            guard shape.count == 2 else { return .f32 }
            if isBlockProjection(name) { return GGUFExport.ruleType(name, shape: shape, target: target, layers: c.layerCount, tiedHead: false) }
            return stored[name] ?? .f32
        }, report: report)
    }

    /// `blk.N.{attn_q,attn_k,attn_v,attn_output,ffn_gate,ffn_up,ffn_down}.weight`.
    public static func isBlockProjection(_ ggufName: String) -> Bool {
        guard ggufName.hasPrefix("blk."), ggufName.hasSuffix(".weight") else { return false }
        return ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"].contains { ggufName.hasSuffix(".\($0).weight") }
    }

    /// Embedding first, then layers in numeric order, then the rest.
    static func hfOrder(_ a: String, _ b: String) -> Bool {
        func key(_ n: String) -> (Int, Int, String) {
            if n.hasPrefix("model.embed_tokens") { return (0, 0, n) }
            let p = n.split(separator: ".")
            if p.count > 2, p[1] == "layers", let i = Int(p[2]) { return (1, i, n) }
            return (2, 0, n)
        }
        return key(a) < key(b)
    }
}
