import Foundation
import TailorExport
import TailorModels
import TailorTensor
import TailorTestSupport

/// A fixture model folder with the tiny byte-level tokenizer and ChatML template copied in.
func exportFixture(_ variant: String) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tailor-export-\(variant)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    for source in [fixture("models/\(variant)/model"), fixture("datasets/tiny")] {
        for name in try FileManager.default.contentsOfDirectory(atPath: source.path) {
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: dir.appendingPathComponent(name))
        }
    }
    return dir
}

/// The fixture model with its PEFT adapter loaded.
func adaptedModel(_ variant: String, folder: URL? = nil) throws -> (LlamaModel, LoRAConfiguration) {
    let m = try LlamaModel(folder: folder ?? fixture("models/\(variant)/model"))
    let c = try PEFTAdapter.load(folder: fixture("models/\(variant)/adapter"), into: m)
    return (m, c)
}

/// transformers + PEFT logits `[2·16, V]` with the adapter active, and the input ids.
func expectedLogits(_ variant: String) throws -> (ids: [[Int]], logits: Tensor) {
    let f = try SafetensorsFile(url: fixture("models/\(variant)/expected.safetensors"))
    let ids = try f.integers("input_ids")
    return ([Array(ids[0..<16]), Array(ids[16..<32])], try f.tensor("logits"))
}

func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.count == b.count)
    var m: Float = 0
    for i in 0..<a.count { m = max(m, abs(a[i] - b[i])) }
    return m
}

func logits(_ model: LlamaModel, _ rows: [[Int]]) -> Tensor { model.logits(Batch(sequences: rows)) }

/// The fixture model (no adapter) written by Tailor as a GGUF of `type` (with the tiny tokenizer).
func baseGGUF(_ variant: String, type: String) throws -> URL {
    let folder = try exportFixture(variant)
    let m = try LlamaModel(folder: folder)
    let c = m.configuration
    let target = GGUFExport.types[type]!
    let meta = GGUFExport.modelMetadata(c, architecture: try GGUFNames.architecture(modelType: c.modelType), name: variant,
                                        fileType: GGUFExport.fileType(target))
        + (try GGUFVocabulary.metadata(folder: folder, vocabularySize: c.vocabularySize, bosTokenId: c.bosTokenId, eosTokenIds: c.eosTokenIds))
    let url = folder.appendingPathComponent("base-\(type).gguf")
    try GGUFExport.write(Merge.tensors(of: m), configuration: c, metadata: meta, target: target, to: url)
    return url
}
