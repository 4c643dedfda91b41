import Foundation
import TailorQuant
import TailorTape
import TailorTensor

/// The safetensors weights of a Hugging Face model folder: `model.safetensors`, or the shards
/// named by `model.safetensors.index.json`.
public final class WeightFiles: @unchecked Sendable {
    private var files: [String: SafetensorsFile] = [:]  // tensor name → file
    public let folder: URL

    public init(folder: URL) throws {
        self.folder = folder
        let fm = FileManager.default
        let single = folder.appendingPathComponent("model.safetensors")
        let index = folder.appendingPathComponent("model.safetensors.index.json")
        if fm.fileExists(atPath: index.path) {
            guard let data = fm.contents(atPath: index.path),
                  let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
                  let map = obj["weight_map"] as? [String: Any]
            else { throw TailorError("\(index.path): not a safetensors index (needs a \"weight_map\" object)") }
            var opened: [String: SafetensorsFile] = [:]
            for (tensor, fileAny) in map {
                guard let file = fileAny as? String, !file.contains("/"), !file.hasPrefix(".") else {
                    throw TailorError("\(index.path): weight_map[\(tensor)] is not a file name in the folder")
                }
                if opened[file] == nil { opened[file] = try SafetensorsFile(url: folder.appendingPathComponent(file)) }
                guard opened[file]!.entries[tensor] != nil else {
                    throw TailorError("\(folder.appendingPathComponent(file).path): no tensor \(tensor) (named by \(index.lastPathComponent))")
                }
                files[tensor] = opened[file]
            }
        } else if fm.fileExists(atPath: single.path) {
            let f = try SafetensorsFile(url: single)
            for name in f.entries.keys { files[name] = f }
        } else {
            throw TailorError("\(folder.path): no model.safetensors or model.safetensors.index.json")
        }
    }

    /// Every tensor name.
    public var names: [String] { Array(files.keys) }

    public func contains(_ name: String) -> Bool { files[name] != nil }

    /// The header entry of a tensor.
    public func entry(_ name: String) throws -> SafetensorsFile.Entry {
        guard let f = files[name] else { throw TailorError("\(folder.path): missing tensor \(name)") }
        return try f.entry(name)
    }

    /// The file and header entry of a tensor, checked against the expected shape.
    private func checked(_ name: String, shape: [Int]) throws -> (SafetensorsFile, SafetensorsFile.Entry) {
        guard let f = files[name] else { throw TailorError("\(folder.path): missing tensor \(name)") }
        let e = try f.entry(name)
        guard e.shape == shape else {
            throw TailorError("\(f.url.path): tensor \(name) has shape \(e.shape), config.json implies \(shape)")
        }
        return (f, e)
    }

    /// A tensor as fp32, checked against the expected shape.
    public func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        try checked(name, shape: shape).0.tensor(name)
    }

    /// The matrix `name` as the file stores it when that is F16 or BF16: a frozen ``QuantizedMatrix`` over the
    /// mapped file (2 bytes a weight, converted to fp32 a tile of rows at a time); nil for other dtypes.
    public func storedMatrix(_ name: String, shape: [Int]) throws -> QuantizedMatrix? {
        let (f, e) = try checked(name, shape: shape)
        let type: GGMLType
        switch e.dtype {
        case .f16: type = .f16
        case .bf16: type = .bf16
        default: return nil
        }
        return try QuantizedMatrix(name: name, type: type, outFeatures: shape[0], inFeatures: shape[1], bytes: f.bytes(e), owner: f)
    }

    /// What a model loader asks for the frozen matrices under `frozen`: ``storedMatrix(_:shape:)`` for
    /// ``FrozenStorage/stored``, nothing (fp32) for ``FrozenStorage/f32``.
    func frozenLoader(_ frozen: FrozenStorage) -> ((String, [Int]) throws -> (any LinearWeight)?)? {
        frozen == .stored ? { name, shape in try self.storedMatrix(name, shape: shape) } : nil
    }

    /// The dtypes present, with tensor counts.
    public var dtypeCounts: [String: Int] {
        var counts: [String: Int] = [:]
        for (name, f) in files { if let e = f.entries[name] { counts[e.dtype.rawValue, default: 0] += 1 } }
        return counts
    }
}
