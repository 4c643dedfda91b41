import Foundation
import Tailor

/// `tailor inspect file.gguf`: header, metadata (arrays summarized) and tensor types.
enum InspectGGUF {
    static func describe(_ v: GGUFValue) -> String {
        if case .array(_, let items) = v {
            let head = items.prefix(3).map(describe).joined(separator: ", ")
            return "[\(items.count) items\(items.isEmpty ? "" : ": " + head)\(items.count > 3 ? ", …" : "")]"
        }
        if let s = v.string { return s.count > 80 ? "\"\(s.prefix(77))…\" (\(s.count) chars)" : "\"\(s)\"" }
        if let i = v.integer { return "\(i)" }
        if let d = v.number { return "\(d)" }
        if case .bool(let b) = v { return "\(b)" }
        return "\(v)"
    }

    /// The fields shown (also the `--json` object).
    static func fields(_ f: GGUFFile) -> [(String, Any)] {
        var typeCounts: [String: Int] = [:], typeBytes: [String: Int] = [:]
        for t in f.tensors { typeCounts["\(t.type)", default: 0] += 1; typeBytes["\(t.type)", default: 0] += t.byteCount }
        let metadata = Dictionary(uniqueKeysWithValues: f.metadataKeys.map { ($0, describe(f.metadata[$0]!)) })
        return [
            ("file", f.path), ("gguf_version", Int(f.version)), ("file_bytes", f.fileSize), ("alignment", f.alignment),
            ("metadata_count", f.metadataKeys.count), ("tensor_count", f.tensors.count),
            ("tensor_types", typeCounts), ("tensor_bytes_by_type", typeBytes), ("metadata", metadata),
        ]
    }

    static func run(path: String, json: Bool) throws {
        let f = try GGUFFile(path: path)
        if json { print(TailorCLI.json(fields(f))); return }
        for (key, value) in fields(f) where key != "metadata" {
            let text = (value as? [String: Int]).map { $0.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ") } ?? "\(value)"
            print("\(key.padding(toLength: 24, withPad: " ", startingAt: 0)) \(text)")
        }
        print("metadata:")
        for k in f.metadataKeys { print("  \(k) = \(describe(f.metadata[k]!))") }
        print("tensors:")
        for t in f.tensors { print("  \(t.name) \(t.shape) \(t.type)") }
    }
}
