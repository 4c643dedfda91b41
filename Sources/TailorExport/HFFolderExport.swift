import Foundation
import TailorModels
import TailorTensor

/// Writes a merged model as a Hugging Face folder: `config.json`, safetensors (one file, or
/// shards named `model-0000k-of-0000n.safetensors` with `model.safetensors.index.json` once the
/// weights pass `maxShardBytes`), and the tokenizer / template / generation files of the source.
///
/// Tensors are converted and written one at a time. The folder is assembled under a temporary
/// sibling name and renamed into place, so it appears whole or not at all.
public enum HFFolderExport {
    /// transformers' default `max_shard_size` ("5GB").
    public static let defaultMaxShardBytes = 5_000_000_000

    /// One written shard.
    public struct Shard: Sendable {
        public let file: String
        public let tensors: [String]
        public let bytes: Int
    }

    /// Writes `tensors` (see ``Merge/tensors(of:)``) to `folder`.
    /// - Parameters:
    ///   - config: the `config.json` object to write (its `dtype`/`torch_dtype` are set to `dtype`).
    ///   - companionSource: a folder whose tokenizer, template and generation files are copied.
    ///   - dtype: F32, F16 or BF16.
    /// - Throws: when `folder` exists and is not empty, or on I/O errors (naming the file).
    @discardableResult
    public static func write(_ tensors: [MergedTensor], config: [String: Any], companionSource: URL?,
                             dtype: SafetensorsDType = .f32, to folder: URL,
                             maxShardBytes: Int = defaultMaxShardBytes) throws -> [Shard] {
        guard [.f32, .f16, .bf16].contains(dtype) else { throw TailorError("HF folder export: dtype \(dtype.rawValue) is not writable (F32, F16, BF16)") }
        let fm = FileManager.default
        if let existing = try? fm.contentsOfDirectory(atPath: folder.path), !existing.isEmpty {
            throw TailorError("\(folder.path): exists and is not empty; choose a new output folder")
        }
        let tmp = folder.deletingLastPathComponent().appendingPathComponent(".\(folder.lastPathComponent).partial-\(getpid())")
        try? fm.removeItem(at: tmp)
        try fm.createDirectory(at: tmp, withIntermediateDirectories: true)
        do {
            // Group tensors into shards in order, like transformers' `split_torch_state_dict_into_shards`.
            var groups: [[MergedTensor]] = [[]]
            var size = 0
            for t in tensors {
                let bytes = Tensor.elementCount(t.shape) * dtype.size
                if !groups[groups.count - 1].isEmpty, size + bytes > maxShardBytes { groups.append([]); size = 0 }
                groups[groups.count - 1].append(t)
                size += bytes
            }
            var shards: [Shard] = []
            for (i, group) in groups.enumerated() {
                let name = groups.count == 1 ? "model.safetensors" : String(format: "model-%05d-of-%05d.safetensors", i + 1, groups.count)
                let bytes = try writeSafetensors(group, dtype: dtype, to: tmp.appendingPathComponent(name))
                shards.append(Shard(file: name, tensors: group.map(\.name), bytes: bytes))
            }
            if shards.count > 1 {
                var map: [String: String] = [:]
                for s in shards { for t in s.tensors { map[t] = s.file } }
                let total = shards.reduce(0) { $0 + $1.bytes }
                let index: [String: Any] = ["metadata": ["total_size": total], "weight_map": map]
                try JSONSerialization.data(withJSONObject: index, options: [.prettyPrinted, .sortedKeys])
                    .write(to: tmp.appendingPathComponent("model.safetensors.index.json"))
            }
            var cfg = config
            let dtypeName = ["F32": "float32", "F16": "float16", "BF16": "bfloat16"][dtype.rawValue]!
            cfg["dtype"] = dtypeName
            if cfg["torch_dtype"] != nil { cfg["torch_dtype"] = dtypeName }
            try JSONSerialization.data(withJSONObject: cfg, options: [.prettyPrinted, .sortedKeys])
                .write(to: tmp.appendingPathComponent("config.json"))
            if let src = companionSource {
                for name in LlamaModel.companionFiles where name != "config.json" {
                    let from = src.appendingPathComponent(name)
                    if fm.fileExists(atPath: from.path) { try fm.copyItem(at: from, to: tmp.appendingPathComponent(name)) }
                }
            }
            if fm.fileExists(atPath: folder.path) { try fm.removeItem(at: folder) }  // empty, checked above
            try fm.moveItem(at: tmp, to: folder)
            return shards
        } catch {
            try? fm.removeItem(at: tmp)
            throw (error as? TailorError) ?? TailorError("\(folder.path): cannot write (\(error.localizedDescription))")
        }
    }

    /// Writes one safetensors file, producing each tensor only when its bytes are written.
    /// Returns the data size in bytes.
    static func writeSafetensors(_ tensors: [MergedTensor], dtype: SafetensorsDType, to url: URL) throws -> Int {
        var header = "{\"__metadata__\":{\"format\":\"pt\"}"
        var offset = 0
        for t in tensors {
            let bytes = Tensor.elementCount(t.shape) * dtype.size
            header += ",\"\(t.name)\":{\"dtype\":\"\(dtype.rawValue)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}"
            offset += bytes
        }
        header += "}"
        while header.utf8.count % 8 != 0 { header += " " }
        guard FileManager.default.createFile(atPath: url.path, contents: nil), let h = FileHandle(forWritingAtPath: url.path) else {
            throw TailorError("\(url.path): cannot create")
        }
        defer { try? h.close() }
        var prefix = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { prefix.append(contentsOf: $0) }
        prefix.append(contentsOf: Array(header.utf8))
        try h.write(contentsOf: prefix)
        for t in tensors {
            let v = t.produce()
            guard v.shape == t.shape else { throw TailorError("\(url.path): tensor \(t.name) produced shape \(v.shape), expected \(t.shape)") }
            switch dtype {
            case .f16, .bf16:
                var halves = [UInt16](repeating: 0, count: v.count)
                if dtype == .f16 { for i in 0..<v.count { halves[i] = HalfFloat.floatToF16(v[i]).littleEndian } } else {
                    for i in 0..<v.count { halves[i] = HalfFloat.floatToBF16(v[i]).littleEndian }
                }
                try halves.withUnsafeBytes { try h.write(contentsOf: Data($0)) }
            default:
                try h.write(contentsOf: Data(buffer: v.buffer))
            }
        }
        try h.synchronize()
        return offset
    }

    /// The source folder's `config.json` as an object.
    public static func readConfig(folder: URL) throws -> [String: Any] {
        let url = folder.appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: url.path),
              let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw TailorError("\(url.path): missing or not a JSON object")
        }
        return obj
    }
}
