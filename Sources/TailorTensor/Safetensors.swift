import Foundation

/// Element types that a safetensors file can hold.
public enum SafetensorsDType: String, Sendable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", u16 = "U16", u32 = "U32", u64 = "U64"
    case bool = "BOOL"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f64, .i64, .u64: 8
        case .f32, .i32, .u32: 4
        case .f16, .bf16, .i16, .u16: 2
        case .i8, .u8, .bool: 1
        }
    }
}

/// A safetensors file, memory-mapped and validated against its size before any tensor is read.
///
/// Layout: u64 little-endian header length N, N bytes of JSON, then the data; every entry's
/// `data_offsets` are relative to the data start and must tile it exactly.
public final class SafetensorsFile: @unchecked Sendable {
    /// One tensor's description in the header.
    public struct Entry: Sendable {
        public let name: String
        public let dtype: SafetensorsDType
        public let shape: [Int]
        /// Byte range inside the data section.
        public let range: Range<Int>
    }

    public let url: URL
    /// Tensors by name.
    public let entries: [String: Entry]
    /// The `__metadata__` map.
    public let metadata: [String: String]
    private let base: UnsafeRawPointer  // the whole file, memory-mapped
    private let size: Int
    private let dataStart: Int

    /// The largest header accepted (the reference reader's limit).
    public static let maxHeaderBytes = 100_000_000

    /// Maps and validates the file at `url`.
    public convenience init(url: URL) throws {
        let name = url.path
        let fd = open(name, O_RDONLY)
        guard fd >= 0 else { throw TailorError("\(name): cannot read (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { throw TailorError("\(name): cannot read (not a regular file)") }
        let size = Int(st.st_size)
        guard size >= 8 else { throw TailorError("\(name): not a safetensors file (\(size) bytes, too short for a header)") }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw TailorError("\(name): cannot memory-map (\(String(cString: strerror(errno))))")
        }
        do { try self.init(url: url, mapping: UnsafeRawPointer(p), size: size) } catch { munmap(p, size); throw error }
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), size) }

    private init(url: URL, mapping base: UnsafeRawPointer, size: Int) throws {
        let name = url.path
        let n = base.loadUnaligned(as: UInt64.self).littleEndian
        guard n <= UInt64(Self.maxHeaderBytes), n <= UInt64(size - 8) else {
            throw TailorError("\(name): header length \(n) exceeds the file size \(size) (truncated or not safetensors)")
        }
        dataStart = 8 + Int(n)
        let headerBytes = Data(bytes: base + 8, count: Int(n))
        guard let header = try? JSONSerialization.jsonObject(with: headerBytes) as? [String: Any] else {
            throw TailorError("\(name): header is not a JSON object")
        }
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (key, value) in header {
            if key == "__metadata__" {
                guard let m = value as? [String: Any] else { throw TailorError("\(name): __metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v as? String else { throw TailorError("\(name): __metadata__[\(k)] is not a string") }
                    metadata[k] = s
                }
                continue
            }
            entries[key] = try Self.parseEntry(key, value, file: name)
        }
        // Entries must tile the data section exactly: no overlap, no gap, nothing past the end.
        var end = 0
        for e in entries.values.sorted(by: { ($0.range.lowerBound, $0.range.upperBound) < ($1.range.lowerBound, $1.range.upperBound) }) {
            guard e.range.lowerBound == end else {
                throw TailorError("\(name): tensor \(e.name) starts at data offset \(e.range.lowerBound), expected \(end) (overlapping or gapped offsets)")
            }
            end = e.range.upperBound
        }
        guard dataStart + end == size else {
            throw TailorError("\(name): tensors cover \(end) data bytes but the file holds \(size - dataStart) (truncated or padded file)")
        }
        self.url = url; self.base = base; self.size = size
        self.entries = entries
        self.metadata = metadata
    }

    private static func parseEntry(_ key: String, _ value: Any, file: String) throws -> Entry {
        guard let obj = value as? [String: Any],
              let dtypeName = obj["dtype"] as? String,
              let shapeAny = obj["shape"] as? [Any],
              let offsetsAny = obj["data_offsets"] as? [Any], offsetsAny.count == 2
        else { throw TailorError("\(file): tensor \(key): header entry needs dtype, shape and two data_offsets") }
        guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
            throw TailorError("\(file): tensor \(key): unsupported dtype \(dtypeName)")
        }
        let shape = try shapeAny.map { d -> Int in
            guard let n = d as? NSNumber, let i = Int(exactly: n.doubleValue), i >= 0, i < 1 << 40 else {
                throw TailorError("\(file): tensor \(key): bad dimension \(d)")
            }
            return i
        }
        let offsets = try offsetsAny.map { d -> Int in
            guard let n = d as? NSNumber, let i = Int(exactly: n.doubleValue), i >= 0, i < 1 << 50 else {
                throw TailorError("\(file): tensor \(key): bad data offset \(d)")
            }
            return i
        }
        var numel = 1
        for d in shape {
            let (p, overflow) = numel.multipliedReportingOverflow(by: d)
            guard !overflow, p < 1 << 50 else { throw TailorError("\(file): tensor \(key): shape \(shape) is too large") }
            numel = p
        }
        guard offsets[0] <= offsets[1], offsets[1] - offsets[0] == numel * dtype.size else {
            throw TailorError("\(file): tensor \(key): data_offsets \(offsets) hold \(offsets[1] - offsets[0]) bytes, shape \(shape) of \(dtypeName) needs \(numel * dtype.size)")
        }
        return Entry(name: key, dtype: dtype, shape: shape, range: offsets[0]..<offsets[1])
    }

    /// The entry named `name`, or an error naming the file and tensor.
    public func entry(_ name: String) throws -> Entry {
        guard let e = entries[name] else { throw TailorError("\(url.path): no tensor named \(name)") }
        return e
    }

    /// The tensor converted to fp32 (from F32, F16, BF16, F64 or any integer type).
    public func tensor(_ name: String) throws -> Tensor {
        let e = try entry(name)
        let t = Tensor(uninitialized: e.shape)
        withBytes(e) { raw in Self.convert(raw, e.dtype, count: t.count, into: t.pointer) }
        return t
    }

    /// An integer tensor's values (I64, I32, …) as `Int`s.
    public func integers(_ name: String) throws -> [Int] {
        let t = try tensor(name)
        return t.array.map { Int($0) }
    }

    /// Calls `body` with the entry's raw little-endian bytes.
    public func withBytes<R>(_ e: Entry, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(bytes(e))
    }

    /// The entry's raw little-endian bytes in the mapped file, valid while this file lives (hold it as the
    /// owner of anything that keeps them, as a weight kept in its stored type does).
    public func bytes(_ e: Entry) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + dataStart + e.range.lowerBound, count: e.range.count)
    }

    static func convert(_ raw: UnsafeRawBufferPointer, _ dtype: SafetensorsDType, count: Int, into out: UnsafeMutablePointer<Float>) {
        switch dtype {
        case .f32: for i in 0..<count { out[i] = Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
        case .f16: for i in 0..<count { out[i] = HalfFloat.f16ToFloat(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case .bf16: for i in 0..<count { out[i] = HalfFloat.bf16ToFloat(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case .f64: for i in 0..<count { out[i] = Float(raw.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
        case .i64: for i in 0..<count { out[i] = Float(raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)) }
        case .u64: for i in 0..<count { out[i] = Float(raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)) }
        case .i32: for i in 0..<count { out[i] = Float(raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)) }
        case .u32: for i in 0..<count { out[i] = Float(raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
        case .i16: for i in 0..<count { out[i] = Float(raw.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)) }
        case .u16: for i in 0..<count { out[i] = Float(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case .i8: for i in 0..<count { out[i] = Float(raw.load(fromByteOffset: i, as: Int8.self)) }
        case .u8, .bool: for i in 0..<count { out[i] = Float(raw[i]) }
        }
    }
}

/// Writes safetensors files atomically (temporary file, then rename).
public enum SafetensorsWriter {
    /// Writes `tensors` as F32 (or the given dtype per tensor: F32, F16 or BF16) with
    /// `__metadata__`, header space-padded to 8 bytes like the reference writer.
    public static func write(
        _ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = ["format": "pt"],
        dtype: SafetensorsDType = .f32, to url: URL
    ) throws {
        precondition([.f32, .f16, .bf16].contains(dtype), "SafetensorsWriter: dtype \(dtype) not writable")
        let sorted = tensors.sorted { $0.name < $1.name }
        var header = "{"
        if !metadata.isEmpty {
            header += "\"__metadata__\":" + jsonObject(metadata.sorted { $0.key < $1.key }.map { ($0.key, "\"\(escape($0.value))\"") })
        }
        var offset = 0
        for (i, (name, t)) in sorted.enumerated() {
            let bytes = t.count * dtype.size
            header += (i > 0 || !metadata.isEmpty ? "," : "")
                + "\"\(escape(name))\":{\"dtype\":\"\(dtype.rawValue)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}"
            offset += bytes
        }
        header += "}"
        while (header.utf8.count) % 8 != 0 { header += " " }
        var out = Data(capacity: 8 + header.utf8.count + offset)
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: Array(header.utf8))
        for (_, t) in sorted {
            switch dtype {
            case .f16:
                var halves = [UInt16](repeating: 0, count: t.count)
                for i in 0..<t.count { halves[i] = HalfFloat.floatToF16(t[i]).littleEndian }
                halves.withUnsafeBytes { out.append(contentsOf: $0) }
            case .bf16:
                var halves = [UInt16](repeating: 0, count: t.count)
                for i in 0..<t.count { halves[i] = HalfFloat.floatToBF16(t[i]).littleEndian }
                halves.withUnsafeBytes { out.append(contentsOf: $0) }
            default:
                out.append(UnsafeBufferPointer(start: t.pointer, count: t.count))
            }
        }
        try AtomicFile.write(out, to: url)
    }

    private static func jsonObject(_ pairs: [(String, String)]) -> String {
        "{" + pairs.map { "\"\(escape($0.0))\":\($0.1)" }.joined(separator: ",") + "}"
    }

    static func escape(_ s: String) -> String {
        var r = ""
        for c in s.unicodeScalars {
            switch c {
            case "\"": r += "\\\""
            case "\\": r += "\\\\"
            case "\n": r += "\\n"
            default:
                if c.value < 0x20 { r += String(format: "\\u%04x", c.value) } else { r.unicodeScalars.append(c) }
            }
        }
        return r
    }
}

/// Atomic file replacement: write a temporary sibling, fsync it, rename it over the target and
/// fsync the folder, so readers (and a machine that loses power) see either the old file or the
/// whole new one. A failed write (full disk, file size limit, unwritable folder) throws an error
/// naming the file and the system's reason, removes the temporary file and leaves the target as
/// it was.
public enum AtomicFile {
    public static func write(_ data: Data, to url: URL) throws {
        let dir = url.deletingLastPathComponent()
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        func failure(_ what: String) -> TailorError {
            TailorError("\(url.path): cannot \(what) (\(String(cString: strerror(errno))))")
        }
        let fd = open(tmp.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("write") }
        var ok = false
        defer { if !ok { unlink(tmp.path) } }
        do {
            defer { close(fd) }
            try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                var done = 0
                while done < raw.count {
                    let n = posixWrite(fd, raw.baseAddress! + done, raw.count - done)
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else { throw failure("write") }
                    done += n
                }
            }
            guard fsync(fd) == 0 else { throw failure("flush") }
        }
        guard rename(tmp.path, url.path) == 0 else { throw failure("replace") }
        ok = true
        syncFolder(dir)
    }

    /// Flushes a folder's entries (a rename inside it) to disk; best effort.
    public static func syncFolder(_ url: URL) {
        let fd = open(url.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
    }
}

/// `write(2)`, named so that `AtomicFile.write` does not shadow it.
private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { write(fd, buffer, count) }
