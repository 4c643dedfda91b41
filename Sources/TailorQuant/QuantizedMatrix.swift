import CTailorKernels
import TailorTape
import TailorTensor

/// A frozen weight `W[out, in]` kept in a compact block format and multiplied tile by tile:
/// a few rows are dequantized into a small fp32 buffer and handed to sgemm, so the whole
/// matrix never exists in fp32 (QLoRA's memory saving).
///
/// Conformers supply ``dequantizeRows(_:into:)``; the products come from this protocol.
public protocol TiledMatrix: RowReadableWeight {
    /// Bytes held by the compact representation.
    var storageBytes: Int { get }
}

/// How block-format products are tiled.
public enum QuantizedTiles {
    /// Tile height, rows of W dequantized at once; nil (the default) chooses by width (``fp32Rows(inFeatures:)``
    /// for fp32 products, 256 for bf16 ones). Task-local, so a test can run its products with other tiles
    /// (`QuantizedTiles.$rows.withValue(7) { … }`) without changing the tiling of products running
    /// concurrently; read on the calling thread.
    @TaskLocal public static var rows: Int? = nil

    /// Rows of an fp32 tile for a matrix `inFeatures` wide: ``rows``, else as many as fit 16 MiB, at least
    /// 256. sgemm repacks the activations for every tile, so few tall tiles beat many short ones: at 256
    /// rows (4 MiB at width 4096) a TinyLlama step on a Q4_0 or stored-bf16 base spent 14 % of its time
    /// in that packing, and ran 7–13 % slower than at 2048 rows.
    public static func fp32Rows(inFeatures: Int) -> Int { rows ?? max(256, (1 << 22) / max(1, inFeatures)) }
}

extension TiledMatrix {
    public var parameter: Parameter? { nil }

    /// Dequantizes rows `lo..<hi` in parallel chunks.
    func dequantizeTile(_ lo: Int, _ hi: Int, _ buffer: UnsafeMutablePointer<Float>) {
        let n = hi - lo, width = inFeatures
        Parallel.forEachChunk(n, minChunk: max(1, 16384 / max(1, width))) { r in
            self.dequantizeRows((lo + r.lowerBound)..<(lo + r.upperBound), into: buffer + r.lowerBound * width)
        }
    }

    /// Calls `body(lo, hi, tile)` with rows `lo..<hi` of W dequantized into `tile` (`[hi − lo, in]`),
    /// for consecutive tiles covering `outputs`.
    func forEachTile(_ outputs: Range<Int>, _ body: (Int, Int, UnsafeMutablePointer<Float>) -> Void) {
        let tile = min(outputs.count, max(1, QuantizedTiles.fp32Rows(inFeatures: inFeatures)))
        if tile == 0 { return }
        BufferPool.withScratch(tile * inFeatures, of: Float.self) { buffer in  // [tile, in]
            for lo in stride(from: outputs.lowerBound, to: outputs.upperBound, by: tile) {
                let hi = min(outputs.upperBound, lo + tile)
                dequantizeTile(lo, hi, buffer)
                body(lo, hi, buffer)
            }
        }
    }

    public func multiply(_ x: UnsafePointer<Float>, rows: Int, outputs: Range<Int>, into y: UnsafeMutablePointer<Float>, ldy: Int) {
        // A decoding step reads the blocks in fp32 whatever the compute setting: packing AMX tiles for a row or
        // two cost 1.7× the time per token.
        if rows <= QuantizedMatrix.fewRowsLimit, let q = self as? QuantizedMatrix, q.multiplyFewRows(x, rows: rows, outputs: outputs, into: y, ldy: ldy) {
            return
        }
        if let m = self as? any BF16Computable, m.bf16Products { return m.multiplyBF16(x, rows: rows, outputs: outputs, into: y, ldy: ldy) }
        let k = inFeatures
        forEachTile(outputs) { lo, hi, tile in  // y[:, lo..<hi] = x · tileᵀ
            BLAS.gemm(transB: true, m: rows, n: hi - lo, k: k, a: x, lda: k, b: tile, ldb: k, c: y + (lo - outputs.lowerBound), ldc: ldy)
        }
    }

    public func inputGradient(_ dy: UnsafePointer<Float>, rows: Int, outputs: Range<Int>, ldDy: Int, into dx: UnsafeMutablePointer<Float>,
                              accumulate: Bool) {
        if outputs.isEmpty { if !accumulate { dx.update(repeating: 0, count: rows * inFeatures) }; return }
        if let m = self as? any BF16Computable, m.bf16Products {
            return m.inputGradientBF16(dy, rows: rows, outputs: outputs, ldDy: ldDy, into: dx, accumulate: accumulate)
        }
        let k = inFeatures
        forEachTile(outputs) { lo, hi, tile in  // dx (+)= dy[:, lo..<hi] · tile; every tile after the first adds
            let add = accumulate || lo > outputs.lowerBound
            BLAS.gemm(m: rows, n: k, k: hi - lo, a: dy + (lo - outputs.lowerBound), lda: ldDy, b: tile, ldb: k, beta: add ? 1 : 0, c: dx, ldc: k)
        }
    }

    /// The whole matrix in fp32 (tests, export; defeats the purpose for big models).
    public func dequantized() -> Tensor {
        let t = Tensor(uninitialized: [outFeatures, inFeatures])
        dequantizeRows(0..<outFeatures, into: t.pointer)
        return t
    }
}

/// A weight in a ggml block format (Q8_0, Q4_0, Q4_K, …), borrowed from a memory-mapped GGUF
/// file or owned after quantizing at load time.
public final class QuantizedMatrix: BF16Computable, @unchecked Sendable {
    public let name: String
    public var bf16Products = false
    public let outFeatures: Int
    public let inFeatures: Int
    public let type: GGMLType
    private let base: UnsafeRawPointer
    private let rowBytes: Int
    /// Keeps the bytes alive (a ``GGUFFile`` or an owned buffer).
    private let owner: AnyObject
    /// `rowOrder[i]` is the stored row that holds row i (undoes llama's Q/K permutation without a copy).
    public let rowOrder: [Int32]?

    /// Wraps `bytes` (`out` rows of `in` elements in `type`), kept alive by `owner`.
    public init(name: String, type: GGMLType, outFeatures: Int, inFeatures: Int, bytes: UnsafeRawBufferPointer,
                owner: AnyObject, rowOrder: [Int32]? = nil) throws {
        guard type.isDequantizable else { throw TailorError("\(name): tensor type \(type) is not supported for matmul") }
        guard let rb = type.rowBytes(columns: inFeatures) else {
            throw TailorError("\(name): \(inFeatures) columns are not a multiple of the \(type) block size \(type.blockSize)")
        }
        guard bytes.count == rb * outFeatures, let p = bytes.baseAddress ?? (outFeatures == 0 ? UnsafeRawPointer(bitPattern: 16) : nil) else {
            throw TailorError("\(name): \(bytes.count) bytes, \(type) [\(outFeatures), \(inFeatures)] needs \(rb * outFeatures)")
        }
        if let rowOrder {
            guard rowOrder.count == outFeatures, Set(rowOrder).count == outFeatures, rowOrder.allSatisfy({ $0 >= 0 && Int($0) < outFeatures }) else {
                throw TailorError("\(name): row order is not a permutation of \(outFeatures) rows")
            }
        }
        self.name = name; self.type = type; self.outFeatures = outFeatures; self.inFeatures = inFeatures
        self.base = p; self.rowBytes = rb; self.owner = owner; self.rowOrder = rowOrder
    }

    /// Quantizes a dense `[out, in]` tensor with ggml's reference quantizer for `type`.
    public convenience init(name: String, quantizing t: Tensor, as type: GGMLType) throws {
        guard t.shape.count == 2 else { throw TailorError("\(name): cannot quantize shape \(t.shape) (need [out, in])") }
        let bytes = try Quantize.encode(type, t.buffer)
        let box = ByteBox(bytes)
        try self.init(name: name, type: type, outFeatures: t.shape[0], inFeatures: t.shape[1],
                      bytes: UnsafeRawBufferPointer(start: box.pointer, count: box.count), owner: box)
    }

    public var storageBytes: Int { rowBytes * outFeatures }

    /// The formats that go straight to bf16 tiles: every block format ``Dequantize`` reads, and F16 and
    /// BF16 rows whose width is a multiple of 32 (F32 rows are dequantized, then packed).
    static let blockPackedTypes: Set<GGMLType> = [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q5_K, .q6_K, .f16, .bf16]

    /// Block formats go straight from their blocks to bf16 tiles, the same bits as dequantizing to
    /// an fp32 strip and packing it; for Q4_0 in about a quarter fewer cycles (7B QLoRA step in
    /// bf16 compute, perf).
    public func packStripBF16(_ rows: Range<Int>, transposed: Bool, tileRows: Int, strip: Int, scratch: UnsafeMutablePointer<Float>,
                              into packed: UnsafeMutablePointer<UInt16>) {
        guard Self.blockPackedTypes.contains(type), inFeatures % 32 == 0, rows.count <= 32, BF16MatMul.usesAMX else {  // the fused kernel needs AVX512-BF16
            return packStripByDequantizing(rows, transposed: transposed, tileRows: tileRows, strip: strip, scratch: scratch, into: packed)
        }
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        var starts = [UnsafePointer<UInt8>?](repeating: nil, count: 32)
        for (i, r) in rows.enumerated() { starts[i] = bytes + Int(rowOrder?[r] ?? Int32(r)) * rowBytes }
        tailor_block_pack_bf16(Int32(type.id), starts, nil, nil, Int32(rows.count), Int32(inFeatures), transposed ? 1 : 0,
                               Int32(tileRows), Int32(strip), packed)
    }

    /// Most rows of x that ``multiplyFewRows(_:rows:outputs:into:ldy:kernels:)`` takes: a decoding step's.
    static let fewRowsLimit = 4

    /// `y = x · W[outputs]ᵀ` for at most ``fewRowsLimit`` rows (a decoding step), reading W once in its own
    /// format instead of decoding it into fp32 tiles first (16 MiB tiles, written and read back, for one row of
    /// x). With AVX-512 each block is decoded in registers (the formats of ``blockPackedTypes``, width a
    /// multiple of 32); otherwise 16 rows at a time into a buffer that stays in cache, then dot products. False
    /// (nothing written) for F32, which the tiles copy at no decoding cost, and for more rows.
    public func multiplyFewRows(_ x: UnsafePointer<Float>, rows: Int, outputs: Range<Int>, into y: UnsafeMutablePointer<Float>, ldy: Int,
                                kernels: FastMath.KernelLevel = FastMath.kernels) -> Bool {
        guard type != .f32, rows <= Self.fewRowsLimit else { return false }
        let k = inFeatures, minChunk = max(1, 32768 / max(1, k))
        guard kernels == .avx512, Self.blockPackedTypes.contains(type), k % 32 == 0 else {
            Parallel.forEachChunk(outputs.count, minChunk: minChunk) { c in
                let strip = 16
                BufferPool.withScratch(strip * k, of: Float.self) { buffer in  // [strip, k]
                    for s in stride(from: c.lowerBound, to: c.upperBound, by: strip) {
                        let e = min(c.upperBound, s + strip)
                        dequantizeRows((outputs.lowerBound + s)..<(outputs.lowerBound + e), into: buffer)
                        for o in s..<e {
                            for r in 0..<rows { y[r * ldy + o] = BLAS.dot(k, x + r * k, buffer + (o - s) * k) }
                        }
                    }
                }
            }
            return true
        }
        let bytes = base.assumingMemoryBound(to: UInt8.self), t = Int32(type.id)
        Parallel.forEachChunk(outputs.count, minChunk: minChunk) { c in
            let lo = Int32(outputs.lowerBound + c.lowerBound), hi = Int32(outputs.lowerBound + c.upperBound)
            if let rowOrder {
                rowOrder.withUnsafeBufferPointer {
                    tailor_block_rows_dot(t, bytes, rowBytes, $0.baseAddress, lo, hi, Int32(k), x, Int32(rows), y + c.lowerBound, ldy)
                }
            } else {
                tailor_block_rows_dot(t, bytes, rowBytes, nil, lo, hi, Int32(k), x, Int32(rows), y + c.lowerBound, ldy)
            }
        }
        return true
    }

    /// The stored bytes of W, rows in storage order.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: storageBytes) }

    public func dequantizeRows(_ range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        if let rowOrder {
            for (i, r) in range.enumerated() {
                Dequantize.rows(type, UnsafeRawBufferPointer(start: base + Int(rowOrder[r]) * rowBytes, count: rowBytes), into: out + i * inFeatures, count: inFeatures)
            }
        } else {
            Dequantize.rows(type, UnsafeRawBufferPointer(start: base + range.lowerBound * rowBytes, count: range.count * rowBytes),
                            into: out, count: range.count * inFeatures)
        }
    }
}

/// An owned, aligned byte buffer.
final class ByteBox: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    let count: Int
    init(_ bytes: [UInt8]) {
        count = bytes.count
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(1, count), alignment: 64)
        bytes.withUnsafeBytes { if let b = $0.baseAddress { pointer.copyMemory(from: b, byteCount: count) } }
    }
    deinit { pointer.deallocate() }
}
