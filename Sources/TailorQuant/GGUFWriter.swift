import Foundation
import TailorTensor

/// Writes GGUF v3 files the way ggml's own writer does: header, metadata, tensor infos with
/// offsets packed in order, zero padding to the alignment, then each tensor's bytes padded.
///
/// ```swift
/// var w = GGUFWriter()
/// w.set("general.architecture", .string("llama"))
/// w.addTensor("token_embd.weight", shape: [vocab, hidden], type: .f32, bytes: embeddingBytes)
/// try w.write(to: URL(fileURLWithPath: "out.gguf"))
/// ```
public struct GGUFWriter {
    public private(set) var metadata: [(String, GGUFValue)] = []
    /// Tensors in file order; `bytes` is called once, when the file is written (so a large
    /// model can be produced one tensor at a time).
    public private(set) var tensors: [(name: String, shape: [Int], type: GGMLType, byteCount: Int, bytes: () throws -> [UInt8])] = []
    /// `general.alignment`; must be a power of two.
    public var alignment = 32

    public init() {}

    /// Sets a metadata value (replacing an earlier value of the same key, keeping its position).
    public mutating func set(_ key: String, _ value: GGUFValue) {
        if let i = metadata.firstIndex(where: { $0.0 == key }) { metadata[i].1 = value } else { metadata.append((key, value)) }
    }

    /// Adds a tensor. `shape` is row-major (outermost first, like PyTorch); `bytes` must be its
    /// exact encoding in `type`.
    public mutating func addTensor(_ name: String, shape: [Int], type: GGMLType, bytes: [UInt8]) throws {
        try addTensor(name, shape: shape, type: type, byteCount: bytes.count) { bytes }
    }

    /// Adds a tensor whose bytes are produced when the file is written; the producer must return
    /// exactly `byteCount` bytes.
    public mutating func addTensor(_ name: String, shape: [Int], type: GGMLType, byteCount: Int, bytes: @escaping () throws -> [UInt8]) throws {
        guard name.utf8.count < 64 else { throw TailorError("GGUF writer: tensor name \(name) is \(name.utf8.count) bytes (must be < 64)") }
        guard !tensors.contains(where: { $0.name == name }) else { throw TailorError("GGUF writer: duplicate tensor \(name)") }
        guard (1...4).contains(shape.count), let row = type.rowBytes(columns: shape.last!) else {
            throw TailorError("GGUF writer: tensor \(name) shape \(shape) does not fit type \(type) (block \(type.blockSize))")
        }
        let expected = row * shape.dropLast().reduce(1, *)
        guard byteCount == expected else { throw TailorError("GGUF writer: tensor \(name) has \(byteCount) bytes, \(type) \(shape) needs \(expected)") }
        tensors.append((name, shape, type, byteCount, bytes))
    }

    /// Adds an fp32 tensor encoded (quantized if needed) as `type`.
    public mutating func addTensor(_ name: String, _ t: Tensor, type: GGMLType) throws {
        guard let cols = t.shape.last, type.rowBytes(columns: cols) != nil else {
            throw TailorError("GGUF writer: tensor \(name) shape \(t.shape): rows of \(t.shape.last ?? 0) are not a multiple of the \(type) block size \(type.blockSize)")
        }
        try addTensor(name, shape: t.shape, type: type, bytes: try Quantize.encode(type, t.buffer))
    }

    /// The header: everything before the data section, padded.
    func header() -> [UInt8] {
        var out: [UInt8] = []
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func str(_ s: String) { u64(UInt64(s.utf8.count)); out += Array(s.utf8) }
        func value(_ v: GGUFValue) {
            switch v {
            case .uint8(let x): out.append(x)
            case .int8(let x): out.append(UInt8(bitPattern: x))
            case .uint16(let x): withUnsafeBytes(of: x.littleEndian) { out += $0 }
            case .int16(let x): withUnsafeBytes(of: x.littleEndian) { out += $0 }
            case .uint32(let x): u32(x)
            case .int32(let x): u32(UInt32(bitPattern: x))
            case .float32(let x): u32(x.bitPattern)
            case .bool(let b): out.append(b ? 1 : 0)
            case .string(let s): str(s)
            case .uint64(let x): u64(x)
            case .int64(let x): u64(UInt64(bitPattern: x))
            case .float64(let x): u64(x.bitPattern)
            case .array(let t, let a): u32(t); u64(UInt64(a.count)); a.forEach(value)
            }
        }
        func pad() { while out.count % alignment != 0 { out.append(0) } }
        var meta = metadata
        if alignment != 32, !meta.contains(where: { $0.0 == "general.alignment" }) { meta.append(("general.alignment", .uint32(UInt32(alignment)))) }
        out += Array("GGUF".utf8)
        u32(3); u64(UInt64(tensors.count)); u64(UInt64(meta.count))
        for (k, v) in meta { str(k); u32(v.typeID); value(v) }
        var offset = 0
        for t in tensors {
            str(t.name); u32(UInt32(t.shape.count))
            for d in t.shape.reversed() { u64(UInt64(d)) }
            u32(t.type.id); u64(UInt64(offset))
            offset += GGUFFile.pad(t.byteCount, alignment)
        }
        if !tensors.isEmpty { pad() }
        return out
    }

    /// The whole file in memory (tests, small files).
    public func serialized() throws -> [UInt8] {
        var out = header()
        for t in tensors { try append(t, to: &out) }
        return out
    }

    private func append(_ t: (name: String, shape: [Int], type: GGMLType, byteCount: Int, bytes: () throws -> [UInt8]), to out: inout [UInt8]) throws {
        let b = try t.bytes()
        guard b.count == t.byteCount else { throw TailorError("GGUF writer: tensor \(t.name) produced \(b.count) bytes, expected \(t.byteCount)") }
        out += b
        out += [UInt8](repeating: 0, count: GGUFFile.pad(b.count, alignment) - b.count)
    }

    /// Writes the file, one tensor at a time, to a temporary name and renames it into place.
    public func write(to url: URL) throws {
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial")
        guard FileManager.default.createFile(atPath: tmp.path, contents: nil), let h = FileHandle(forWritingAtPath: tmp.path) else {
            throw TailorError("\(url.path): cannot create")
        }
        do {
            try h.write(contentsOf: header())
            for t in tensors {
                var chunk: [UInt8] = []
                try append(t, to: &chunk)
                try h.write(contentsOf: chunk)
            }
            try h.close()
            _ = try? FileManager.default.removeItem(at: url)
            try FileManager.default.moveItem(at: tmp, to: url)
        } catch {
            try? h.close()
            try? FileManager.default.removeItem(at: tmp)
            throw (error as? TailorError) ?? TailorError("\(url.path): cannot write (\(error.localizedDescription))")
        }
    }
}
