import Foundation
import Testing
import TailorExport
import TailorModels
import TailorQuant
import TailorTape
import TailorTensor
import TailorTestSupport

/// Issue #6: merging to GGUF streams tensors to disk — each is merged, encoded and written before
/// the next is made — so the process never holds a second copy of the model.
///
/// Two measures, on a 74 MiB fp32 model whose largest tensor is 2 MiB (one extra copy would be
/// obvious): (1) deterministic ordering — when tensor i is encoded, every earlier tensor is already
/// in the output file, so the writer buffers nothing; (2) the anonymous resident memory
/// (`RssAnon`: heap and mapped tensor buffers, not the output file's page cache) sampled at every
/// tensor grows by less than half the model plus one tensor. Buffering the whole f32 file instead
/// grows it by 81 MiB (and fails both); the streaming merge grows it by 5–9 MiB. (2) is a
/// process-wide figure, so the suite is serialized: its two cases never measure each other.
@Suite(.serialized) struct StreamingMergeMemoryTests {
    static let config = """
        {"model_type": "llama", "hidden_size": 512, "intermediate_size": 1024, "num_hidden_layers": 8,
         "num_attention_heads": 8, "num_key_value_heads": 4, "vocab_size": 1024, "rms_norm_eps": 1e-5,
         "tie_word_embeddings": true}
        """

    /// A random model with LoRA (rank 8, every linear layer, B non-zero) on every block.
    static func adaptedModel() throws -> LlamaModel {
        let c = try ModelConfiguration(json: Data(config.utf8), source: "streaming-merge test")
        var rng = SeededGenerator(seed: 11)
        let model = try LlamaModel(configuration: c) { name, shape in
            let t = Tensor(uninitialized: shape)
            for i in 0..<t.count { t[i] = name.hasSuffix("norm.weight") ? 1 : rng.uniform(-0.05, 0.05) }
            return t
        }
        try model.addAdapters(LoRAConfiguration(rank: 8, alpha: 16, targets: LinearKind.allCases), seed: 12)
        for layer in model.adaptedLayers {
            let b = layer.lora!.b.value
            for i in 0..<b.count { b[i] = rng.uniform(-0.01, 0.01) }
        }
        return model
    }

    /// Anonymous resident bytes of this process (`RssAnon` in /proc/self/status).
    static func anonymousResidentBytes() throws -> Int {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("RssAnon:") }),
              let kib = Int(line.split(separator: " ").dropFirst().first ?? "") else {
            throw TailorError("/proc/self/status: no RssAnon line")
        }
        return kib * 1024
    }

    @Test(arguments: ["f32", "q8_0"])
    func mergeToGGUFHoldsOneModel(type: String) throws {
        let model = try Self.adaptedModel()
        let c = model.configuration
        let tensors = Merge.tensors(of: model)
        let elementCounts = tensors.map { $0.shape.reduce(1, *) }
        let modelBytes = 4 * elementCounts.reduce(0, +), largestBytes = 4 * elementCounts.max()!
        #expect(modelBytes > 70 << 20 && largestBytes <= 2 << 20)

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tailor-stream-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("merged.gguf")
        let partial = dir.appendingPathComponent(".merged.gguf.partial")  // GGUFWriter writes here, then renames
        let target = GGUFExport.types[type]!
        let meta = GGUFExport.modelMetadata(c, architecture: "llama", name: "stream", fileType: GGUFExport.fileType(target))

        BufferPool.trim()  // idle pooled pages would hide new allocations
        let baseline = try Self.anonymousResidentBytes()
        var peak = 0
        var sizeWhenEncoded: [String: Int] = [:]
        var sampleError: (any Error)?
        try GGUFExport.write(tensors, configuration: c, metadata: meta, target: target, to: url) { r in
            // Called once tensor r is encoded, while its fp32 and encoded copies are alive.
            do { peak = max(peak, try Self.anonymousResidentBytes() - baseline) } catch { sampleError = error }
            sizeWhenEncoded[r.name] = (try? FileManager.default.attributesOfItem(atPath: partial.path)[.size] as? Int) ?? -1
        }
        if let sampleError { throw sampleError }

        let f = try GGUFFile(path: url.path)
        #expect(f.tensors.count == tensors.count)
        for info in f.tensors {
            // Everything before this tensor was on disk when it was encoded: nothing is buffered.
            #expect(sizeWhenEncoded[info.name]! >= f.dataOffset + info.offset, "\(info.name)")
        }
        let limit = modelBytes / 2 + largestBytes
        #expect(peak < limit, "peak growth \(peak >> 20) MiB during a \(modelBytes >> 20) MiB merge (limit \(limit >> 20) MiB)")
        print("streaming merge (\(type)): model \(modelBytes >> 20) MiB, peak anonymous growth \(peak >> 20) MiB, limit \(limit >> 20) MiB")
    }
}
