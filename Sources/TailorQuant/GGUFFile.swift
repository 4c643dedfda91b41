import Foundation
import TailorTensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A GGUF file (versions 2 and 3), memory-mapped and validated before any tensor is touched.
///
/// Everything the header claims is checked against the file size first: counts, string and array
/// lengths, dimensions, type ids, alignment, offsets (packed in tensor-info order, as ggml
/// requires) and tensor byte sizes. A truncated or hostile file throws a ``TailorError`` naming
/// the file and the key or tensor at fault; nothing is read past the mapping and no allocation
/// is sized by an unchecked count.
///
/// ```swift
/// let file = try GGUFFile(path: "model.gguf")
/// let arch = file.metadata["general.architecture"]?.string
/// let weights = try file.floats("blk.0.attn_q.weight")
/// ```
public final class GGUFFile: @unchecked Sendable {
    /// One tensor-info record.
    public struct TensorInfo: Sendable {
        public let name: String
        /// ggml order: `dims[0]` is the innermost (contiguous) dimension.
        public let dims: [Int]
        public let type: GGMLType
        /// Offset relative to the start of the data section.
        public let offset: Int
        public let byteCount: Int
        /// Elements.
        public var count: Int { dims.reduce(1, *) }
        /// Row-major shape, outermost first (`[out, in]` for a linear weight).
        public var shape: [Int] { dims.reversed() }
    }

    public let path: String
    public let version: UInt32
    /// Key/value metadata in file order.
    public let metadataKeys: [String]
    public let metadata: [String: GGUFValue]
    /// Tensor infos in file order.
    public let tensors: [TensorInfo]
    public let alignment: Int
    /// File offset of the data section.
    public let dataOffset: Int
    public let fileSize: Int
    private let byName: [String: Int]
    private let base: UnsafeMutableRawPointer?

    /// Limits on what a header may claim (ggml's own caps).
    static let maxStringBytes = 1 << 30
    static let maxArrayCount = 1 << 30
    static let maxNameBytes = 64

    /// Maps and validates the file at `path`.
    public convenience init(path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw TailorError("\(path): cannot open (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw TailorError("\(path): cannot stat") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw TailorError("\(path): not a regular file") }
        let size = Int(st.st_size)
        guard size >= 24 else { throw TailorError("\(path): \(size) bytes is too short for a GGUF header (24 bytes)") }
        // Private writable mapping: pages stay shared with the page cache until written.
        guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw TailorError("\(path): cannot memory-map (\(String(cString: strerror(errno))))")
        }
        do {
            try self.init(mapping: p, size: size, path: path)
        } catch {
            munmap(p, size)
            throw error
        }
    }

    /// Parses GGUF bytes held in memory (tests, fuzzing). The bytes are copied.
    public convenience init(bytes: [UInt8], source: String = "<memory>") throws {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 64)
        bytes.withUnsafeBytes { if let b = $0.baseAddress { p.copyMemory(from: b, byteCount: bytes.count) } }
        do { try self.init(mapping: p, size: bytes.count, path: source, owned: true) } catch { p.deallocate(); throw error }
    }

    private let ownedAllocation: Bool

    private init(mapping p: UnsafeMutableRawPointer, size: Int, path: String, owned: Bool = false) throws {
        self.path = path
        self.fileSize = size
        self.ownedAllocation = owned
        var r = ByteReader(base: UnsafeRawPointer(p), size: size, source: path)
        guard size >= 24 else { throw TailorError("\(path): \(size) bytes is too short for a GGUF header (24 bytes)") }
        let magic = try r.u32("magic")
        guard magic == 0x4655_4747 else { throw TailorError("\(path): not a GGUF file (magic \(String(format: "%08x", magic)))") }
        let v = try r.u32("version")
        if v & 0xFFFF == 0 && v != 0 { throw TailorError("\(path): big-endian GGUF is not supported") }
        guard v == 2 || v == 3 else { throw TailorError("\(path): GGUF version \(v) is not supported (2 and 3 are)") }
        version = v
        let nTensors = try r.u64("tensor count"), nKV = try r.u64("metadata count")
        // Each KV needs ≥ 8 (key length) + 1 (key) + 4 (type) + 1 bytes; each tensor info ≥ 8+1+4+8+4+8.
        guard nKV <= UInt64(size / 14) else { throw TailorError("\(path): header claims \(nKV) metadata entries, more than \(size) bytes can hold") }
        guard nTensors <= UInt64(size / 33) else { throw TailorError("\(path): header claims \(nTensors) tensors, more than \(size) bytes can hold") }

        var keys: [String] = [], meta: [String: GGUFValue] = [:]
        for _ in 0..<Int(nKV) {
            let key = try r.string("metadata key")
            guard !key.isEmpty else { throw TailorError("\(path): empty metadata key at byte \(r.offset)") }
            guard meta[key] == nil else { throw TailorError("\(path): duplicate metadata key \(key)") }
            let type = try r.u32("type of \(key)")
            meta[key] = try r.value(type: type, key: key, allowArray: true)
            keys.append(key)
        }
        metadataKeys = keys
        metadata = meta
        if let a = meta["general.alignment"] {
            guard case .uint32(let al) = a else { throw TailorError("\(path): general.alignment must be UINT32, is \(GGUFValue.typeName(a.typeID))") }
            guard al > 0, al & (al - 1) == 0 else { throw TailorError("\(path): general.alignment \(al) is not a power of two") }
            alignment = Int(al)
        } else {
            alignment = 32
        }

        var infos: [TensorInfo] = [], names: [String: Int] = [:]
        var expected = 0
        for i in 0..<Int(nTensors) {
            let name = try r.string("tensor \(i) name")
            guard name.utf8.count < Self.maxNameBytes else { throw TailorError("\(path): tensor name \"\(name.prefix(80))\" is \(name.utf8.count) bytes (must be < 64)") }
            guard names[name] == nil else { throw TailorError("\(path): duplicate tensor \(name)") }
            let nDims = try r.u32("dims of \(name)")
            guard (1...4).contains(nDims) else { throw TailorError("\(path): tensor \(name) has \(nDims) dimensions (1…4 allowed)") }
            var dims: [Int] = []
            var elements = 1
            for _ in 0..<Int(nDims) {
                let d = try r.i64("dims of \(name)")
                guard d >= 0 else { throw TailorError("\(path): tensor \(name) has negative dimension \(d)") }
                let (m, overflow) = elements.multipliedReportingOverflow(by: Int(d))
                guard !overflow else { throw TailorError("\(path): tensor \(name) dimensions overflow") }
                elements = m
                dims.append(Int(d))
            }
            let typeID = try r.u32("type of \(name)")
            guard let type = GGMLType(id: typeID) else { throw TailorError("\(path): tensor \(name) has unknown ggml type id \(typeID)") }
            guard dims[0] % type.blockSize == 0 else {
                throw TailorError("\(path): tensor \(name): row length \(dims[0]) is not a multiple of the \(type) block size \(type.blockSize)")
            }
            let off = try r.u64("offset of \(name)")
            let (bytes, o2) = (elements / type.blockSize).multipliedReportingOverflow(by: type.blockBytes)
            guard !o2, bytes <= size else { throw TailorError("\(path): tensor \(name) (\(type) \(dims)) needs more bytes than the file has (\(size))") }
            guard off == UInt64(expected) else {
                throw TailorError("\(path): tensor \(name) has offset \(off), expected \(expected) (tensor data must be packed in order)")
            }
            infos.append(TensorInfo(name: name, dims: dims, type: type, offset: expected, byteCount: bytes))
            names[name] = i
            expected += Self.pad(bytes, alignment)
            guard expected <= size else { throw TailorError("\(path): tensor \(name) ends past the end of the file (\(size) bytes)") }
        }
        tensors = infos
        byName = names
        let dataStart = infos.isEmpty ? r.offset : Self.pad(r.offset, alignment)
        dataOffset = dataStart
        if let last = infos.last {
            let end = dataStart + last.offset + last.byteCount
            guard end <= size else {
                throw TailorError("\(path): tensor \(last.name) ends at byte \(end) but the file has \(size) bytes (truncated?)")
            }
        }
        base = p
    }

    deinit {
        guard let base else { return }
        if ownedAllocation { base.deallocate() } else { munmap(base, fileSize) }
    }

    static func pad(_ n: Int, _ a: Int) -> Int { (n + a - 1) / a * a }

    /// The info of a tensor by its GGUF name.
    public func info(_ name: String) throws -> TensorInfo {
        guard let i = byName[name] else { throw TailorError("\(path): no tensor \(name)") }
        return tensors[i]
    }

    public func contains(_ name: String) -> Bool { byName[name] != nil }

    /// The raw bytes of a tensor (valid while the file object lives).
    public func bytes(_ info: TensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base! + dataOffset + info.offset, count: info.byteCount)
    }

    /// A tensor converted to fp32 (row-major shape, outermost first).
    public func floats(_ name: String) throws -> Tensor {
        let info = try info(name)
        guard info.type.isDequantizable else { throw TailorError("\(path): tensor \(name) has type \(info.type), which Tailor cannot read") }
        let t = Tensor(uninitialized: info.shape)
        Dequantize.rows(info.type, bytes(info), into: t.pointer, count: info.count)
        return t
    }

    /// A metadata value, or an error naming the key.
    public func require(_ key: String) throws -> GGUFValue {
        guard let v = metadata[key] else { throw TailorError("\(path): missing metadata key \(key)") }
        return v
    }
}

/// A bounds-checked little-endian cursor over the mapped header.
struct ByteReader {
    let base: UnsafeRawPointer
    let size: Int
    let source: String
    var offset = 0

    mutating func take(_ n: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawPointer {
        guard n >= 0, n <= size - offset else {
            throw TailorError("\(source): truncated at byte \(offset) reading \(what()) (needs \(n) bytes, \(size - offset) left)")
        }
        defer { offset += n }
        return base + offset
    }

    mutating func u32(_ what: @autoclosure () -> String) throws -> UInt32 { UInt32(littleEndian: try take(4, what()).loadUnaligned(as: UInt32.self)) }
    mutating func u64(_ what: @autoclosure () -> String) throws -> UInt64 { UInt64(littleEndian: try take(8, what()).loadUnaligned(as: UInt64.self)) }
    mutating func i64(_ what: @autoclosure () -> String) throws -> Int64 { Int64(littleEndian: try take(8, what()).loadUnaligned(as: Int64.self)) }

    mutating func string(_ what: @autoclosure () -> String) throws -> String {
        let n = try u64("length of \(what())")
        guard n <= UInt64(GGUFFile.maxStringBytes), n <= UInt64(size - offset) else {
            throw TailorError("\(source): \(what()): string length \(n) at byte \(offset - 8) exceeds the \(size - offset) bytes left")
        }
        let p = try take(Int(n), what())
        return String(decoding: UnsafeRawBufferPointer(start: p, count: Int(n)), as: UTF8.self)
    }

    mutating func value(type: UInt32, key: String, allowArray: Bool) throws -> GGUFValue {
        switch type {
        case 0: return .uint8(try take(1, key).load(as: UInt8.self))
        case 1: return .int8(try take(1, key).load(as: Int8.self))
        case 2: return .uint16(UInt16(littleEndian: try take(2, key).loadUnaligned(as: UInt16.self)))
        case 3: return .int16(Int16(littleEndian: try take(2, key).loadUnaligned(as: Int16.self)))
        case 4: return .uint32(try u32(key))
        case 5: return .int32(Int32(bitPattern: try u32(key)))
        case 6: return .float32(Float(bitPattern: try u32(key)))
        case 7:
            let b = try take(1, key).load(as: UInt8.self)
            guard b <= 1 else { throw TailorError("\(source): metadata \(key): bool byte \(b) is not 0 or 1") }
            return .bool(b == 1)
        case 8: return .string(try string(key))
        case 10: return .uint64(try u64(key))
        case 11: return .int64(try i64(key))
        case 12: return .float64(Double(bitPattern: try u64(key)))
        case 9 where allowArray:
            let et = try u32("element type of \(key)")
            guard et != 9 else { throw TailorError("\(source): metadata \(key): arrays of arrays are not allowed") }
            guard et <= 12 else { throw TailorError("\(source): metadata \(key): unknown element type \(et)") }
            let n = try u64("length of \(key)")
            let minElement = UInt64(GGUFValue.scalarSize(et) ?? 8)  // a string is at least its 8-byte length
            guard n <= UInt64(GGUFFile.maxArrayCount), n <= UInt64(size - offset) / minElement else {
                throw TailorError("\(source): metadata \(key): array of \(n) elements exceeds the \(size - offset) bytes left")
            }
            var out: [GGUFValue] = []
            out.reserveCapacity(Int(n))
            for _ in 0..<Int(n) { out.append(try value(type: et, key: key, allowArray: false)) }
            return .array(elementType: et, out)
        default:
            throw TailorError("\(source): metadata \(key): unknown value type \(type)")
        }
    }
}
