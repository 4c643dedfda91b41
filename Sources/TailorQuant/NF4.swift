import CTailorKernels
import TailorTape
import TailorTensor

/// bitsandbytes' 4-bit NormalFloat (QLoRA's NF4; models.md §6): blocks of 64 consecutive
/// elements of the row-major weight, one fp32 absmax per block, each element the index of the
/// nearest of 16 code values (ties to the lower), element 2j in the high nibble; optionally the
/// absmax values double-quantized to 8 bits against bitsandbytes' dynamic map in blocks of 256.
public enum NF4 {
    /// Elements per block.
    public static let blockSize = 64
    /// Absmax values per double-quantization block.
    public static let nestedBlockSize = 256

    /// The NF4 code (index → value).
    public static let code: [Float] = [
        -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
        -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
        0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
        0.7229568362236023, 1.0,
    ]

    /// bitsandbytes' `create_dynamic_map()` (signed, 7 exponent bits), as float32 bit patterns.
    public static let dynamicMap: [Float] = [
        0xbf7e3333, 0xbf7a999a, 0xbf770000, 0xbf736666, 0xbf6fcccd, 0xbf6c3333, 0xbf68999a, 0xbf650000, 
        0xbf616666, 0xbf5dcccd, 0xbf5a3333, 0xbf56999a, 0xbf530000, 0xbf4f6666, 0xbf4bcccd, 0xbf483333, 
        0xbf44999a, 0xbf410000, 0xbf3d6666, 0xbf39cccd, 0xbf363334, 0xbf32999a, 0xbf2f0000, 0xbf2b6666, 
        0xbf27cccd, 0xbf243334, 0xbf20999a, 0xbf1d0000, 0xbf196666, 0xbf15cccd, 0xbf123334, 0xbf0e999a, 
        0xbf0b0000, 0xbf076666, 0xbf03cccc, 0xbf003333, 0xbef93332, 0xbef20000, 0xbeeacccc, 0xbee3999a, 
        0xbedc6666, 0xbed53333, 0xbece0000, 0xbec6cccc, 0xbebf999a, 0xbeb86666, 0xbeb13333, 0xbeaa0000, 
        0xbea2cccc, 0xbe9b999a, 0xbe946666, 0xbe8d3334, 0xbe860000, 0xbe7d9999, 0xbe6f3333, 0xbe60cccd, 
        0xbe526666, 0xbe440000, 0xbe35999a, 0xbe273333, 0xbe18cccd, 0xbe0a6666, 0xbdf80000, 0xbddb3334, 
        0xbdc9eb85, 0xbdc428f7, 0xbdbe6667, 0xbdb8a3d7, 0xbdb2e148, 0xbdad1eb8, 0xbda75c2a, 0xbda1999a, 
        0xbd9bd70a, 0xbd96147b, 0xbd9051eb, 0xbd8a8f5d, 0xbd84cccd, 0xbd7e147b, 0xbd728f5d, 0xbd670a3d, 
        0xbd5b851f, 0xbd500000, 0xbd447ae1, 0xbd38f5c3, 0xbd2d70a3, 0xbd21eb85, 0xbd166667, 0xbd0ae148, 
        0xbcfeb852, 0xbce7ae15, 0xbcd0a3d7, 0xbcb9999a, 0xbca28f5d, 0xbc8b851f, 0xbc68f5c3, 0xbc3ae148, 
        0xbc1f3b64, 0xbc160418, 0xbc0ccccd, 0xbc039581, 0xbbf4bc6a, 0xbbe24dd3, 0xbbcfdf3b, 0xbbbd70a4, 
        0xbbab020d, 0xbb989374, 0xbb8624dd, 0xbb676c8a, 0xbb428f5c, 0xbb1db22d, 0xbaf1a9fc, 0xbaa7ef9d, 
        0xba7765ff, 0xba59e83e, 0xba3c6a80, 0xba1eecc1, 0xba016f01, 0xb9c7e283, 0xb98ce705, 0xb923d70b, 
        0xb8ba1f4b, 0xb88aefb3, 0xb8378034, 0xb7b24206, 0xb70205ff, 0xb65a1a94, 0xb513a3b7, 0x00000000, 
        0x3513a3b7, 0x365a1a94, 0x370205ff, 0x37b24206, 0x38378034, 0x388aefb3, 0x38ba1f4b, 0x3923d70b, 
        0x398ce705, 0x39c7e283, 0x3a016f01, 0x3a1eecc1, 0x3a3c6a80, 0x3a59e83e, 0x3a7765ff, 0x3aa7ef9d, 
        0x3af1a9fc, 0x3b1db22d, 0x3b428f5c, 0x3b676c8a, 0x3b8624dd, 0x3b989374, 0x3bab020d, 0x3bbd70a4, 
        0x3bcfdf3b, 0x3be24dd3, 0x3bf4bc6a, 0x3c039581, 0x3c0ccccd, 0x3c160418, 0x3c1f3b64, 0x3c3ae148, 
        0x3c68f5c3, 0x3c8b851f, 0x3ca28f5d, 0x3cb9999a, 0x3cd0a3d7, 0x3ce7ae15, 0x3cfeb852, 0x3d0ae148, 
        0x3d166667, 0x3d21eb85, 0x3d2d70a3, 0x3d38f5c3, 0x3d447ae1, 0x3d500000, 0x3d5b851f, 0x3d670a3d, 
        0x3d728f5d, 0x3d7e147b, 0x3d84cccd, 0x3d8a8f5d, 0x3d9051eb, 0x3d96147b, 0x3d9bd70a, 0x3da1999a, 
        0x3da75c2a, 0x3dad1eb8, 0x3db2e148, 0x3db8a3d7, 0x3dbe6667, 0x3dc428f7, 0x3dc9eb85, 0x3ddb3334, 
        0x3df80000, 0x3e0a6666, 0x3e18cccd, 0x3e273333, 0x3e35999a, 0x3e440000, 0x3e526666, 0x3e60cccd, 
        0x3e6f3333, 0x3e7d9999, 0x3e860000, 0x3e8d3334, 0x3e946666, 0x3e9b999a, 0x3ea2cccc, 0x3eaa0000, 
        0x3eb13333, 0x3eb86666, 0x3ebf999a, 0x3ec6cccc, 0x3ece0000, 0x3ed53333, 0x3edc6666, 0x3ee3999a, 
        0x3eeacccc, 0x3ef20000, 0x3ef93332, 0x3f003333, 0x3f03cccc, 0x3f076666, 0x3f0b0000, 0x3f0e999a, 
        0x3f123334, 0x3f15cccd, 0x3f196666, 0x3f1d0000, 0x3f20999a, 0x3f243334, 0x3f27cccd, 0x3f2b6666, 
        0x3f2f0000, 0x3f32999a, 0x3f363334, 0x3f39cccd, 0x3f3d6666, 0x3f410000, 0x3f44999a, 0x3f483333, 
        0x3f4bcccd, 0x3f4f6666, 0x3f530000, 0x3f56999a, 0x3f5a3333, 0x3f5dcccd, 0x3f616666, 0x3f650000, 
        0x3f68999a, 0x3f6c3333, 0x3f6fcccd, 0x3f736666, 0x3f770000, 0x3f7a999a, 0x3f7e3333, 0x3f800000
    ].map { Float(bitPattern: $0) }

    /// Index of the nearest value of the ascending `table`, ties to the lower index.
    @inline(__always)
    static func nearest(_ x: Float, _ midpoints: [Float]) -> UInt8 {
        var lo = 0, hi = midpoints.count  // count of midpoints < x
        while lo < hi { let m = (lo + hi) / 2; if midpoints[m] < x { lo = m + 1 } else { hi = m } }
        return UInt8(lo)
    }

    static func midpoints(_ t: [Float]) -> [Float] { (0..<(t.count - 1)).map { (t[$0] + t[$0 + 1]) / 2 } }
    static let codeMidpoints = midpoints(code)
    static let mapMidpoints = midpoints(dynamicMap)

    /// Quantizes `values` (a multiple of 64): packed codes (count/2 bytes) and one absmax per block.
    /// x = clamp(w · (1/absmax), −1, 1); an all-zero block encodes as code 7 (0.0).
    public static func quantize(_ values: UnsafeBufferPointer<Float>) -> (packed: [UInt8], absmax: [Float]) {
        precondition(values.count % blockSize == 0, "NF4: \(values.count) values are not a multiple of \(blockSize)")
        let blocks = values.count / blockSize
        var packed = [UInt8](repeating: 0, count: values.count / 2), absmax = [Float](repeating: 0, count: blocks)
        for b in 0..<blocks {
            var m: Float = 0
            for i in 0..<blockSize { m = max(m, abs(values[b * blockSize + i])) }
            absmax[b] = m
            let inv: Float = m > 0 ? 1 / m : 0
            for j in 0..<(blockSize / 2) {
                let i = b * blockSize + 2 * j
                let hi = nearest(min(max(values[i] * inv, -1), 1), codeMidpoints)
                let lo = nearest(min(max(values[i + 1] * inv, -1), 1), codeMidpoints)
                packed[i / 2] = hi << 4 | lo
            }
        }
        return (packed, absmax)
    }

    /// Double quantization of the absmax values: offset = mean (float32 of the float64 mean), then
    /// per block of 256 the absmax of (v − offset) and each value's nearest dynamic-map index.
    public static func doubleQuantize(_ absmax: [Float]) -> (codes: [UInt8], nestedAbsmax: [Float], offset: Float) {
        let offset = Float(absmax.reduce(0.0) { $0 + Double($1) } / Double(max(1, absmax.count)))
        let v = absmax.map { $0 - offset }
        var codes = [UInt8](repeating: 0, count: v.count), nested: [Float] = []
        for start in stride(from: 0, to: v.count, by: nestedBlockSize) {
            let end = min(v.count, start + nestedBlockSize)
            let m = v[start..<end].reduce(Float(0)) { max($0, abs($1)) }
            nested.append(m)
            for i in start..<end { codes[i] = nearest(m > 0 ? v[i] / m : 0, mapMidpoints) }
        }
        return (codes, nested, offset)
    }

    /// The absmax values back from double quantization: dyn[q]·nested[i/256] + offset.
    public static func restoreAbsmax(codes: [UInt8], nestedAbsmax: [Float], offset: Float) -> [Float] {
        codes.enumerated().map { i, q in dynamicMap[Int(q)] * nestedAbsmax[i / nestedBlockSize] + offset }
    }

    /// Dequantizes `count` elements starting at block `firstBlock` (count a multiple of 64).
    @inline(__always)
    public static func dequantize(packed: UnsafePointer<UInt8>, absmax: UnsafePointer<Float>, firstBlock: Int, count: Int,
                                  into out: UnsafeMutablePointer<Float>) {
        code.withUnsafeBufferPointer { c in
            for b in 0..<(count / blockSize) {
                let a = absmax[firstBlock + b], p = packed + (firstBlock + b) * (blockSize / 2), o = out + b * blockSize
                for j in 0..<(blockSize / 2) {
                    o[2 * j] = c[Int(p[j] >> 4)] * a
                    o[2 * j + 1] = c[Int(p[j] & 15)] * a
                }
            }
        }
    }
}

/// A frozen weight in NF4 (QLoRA's format), dequantized tile by tile like QuantizedMatrix.
/// Rows must be a multiple of 64 wide so blocks never straddle rows.
public final class NF4Matrix: BF16Computable, @unchecked Sendable {
    public let name: String
    public var bf16Products = false
    public let outFeatures: Int
    public let inFeatures: Int
    /// Packed codes, `out·in/2` bytes.
    public let packed: [UInt8]
    /// Per-block absmax as used for dequantization (restored when double-quantized).
    public let absmax: [Float]
    /// Whether the absmax values went through double quantization.
    public let doubleQuantized: Bool

    /// Quantizes a dense `[out, in]` tensor.
    public init(name: String, quantizing t: Tensor, doubleQuantization: Bool = false) throws {
        guard t.shape.count == 2 else { throw TailorError("\(name): cannot quantize shape \(t.shape) to NF4 (need [out, in])") }
        guard t.shape[1] % NF4.blockSize == 0 else {
            throw TailorError("\(name): \(t.shape[1]) input features are not a multiple of the NF4 block size \(NF4.blockSize)")
        }
        let (p, a) = NF4.quantize(t.buffer)
        self.name = name; outFeatures = t.shape[0]; inFeatures = t.shape[1]; packed = p; doubleQuantized = doubleQuantization
        if doubleQuantization {
            let dq = NF4.doubleQuantize(a)
            absmax = NF4.restoreAbsmax(codes: dq.codes, nestedAbsmax: dq.nestedAbsmax, offset: dq.offset)
        } else {
            absmax = a
        }
    }

    /// Packed codes plus 4 bytes per block (the restored fp32 absmax; double quantization's
    /// 1-byte codes would be stored on disk, not in memory here).
    public var storageBytes: Int { packed.count + absmax.count * 4 }

    /// Straight from the codes to bf16 tiles, the same bits as dequantizing to an fp32 strip and
    /// packing it (``BF16Computable/packStripByDequantizing(_:transposed:tileRows:strip:scratch:into:)``).
    public func packStripBF16(_ rows: Range<Int>, transposed: Bool, tileRows: Int, strip: Int, scratch: UnsafeMutablePointer<Float>,
                              into packed: UnsafeMutablePointer<UInt16>) {
        guard rows.count <= 32, BF16MatMul.usesAMX else {  // the fused kernel needs AVX512-BF16
            return packStripByDequantizing(rows, transposed: transposed, tileRows: tileRows, strip: strip, scratch: scratch, into: packed)
        }
        let perRow = inFeatures / NF4.blockSize
        self.packed.withUnsafeBufferPointer { p in
            absmax.withUnsafeBufferPointer { a in
                NF4.code.withUnsafeBufferPointer { code in
                    var starts = [UnsafePointer<UInt8>?](repeating: nil, count: 32), scales = [UnsafePointer<Float>?](repeating: nil, count: 32)
                    for (i, r) in rows.enumerated() {
                        starts[i] = p.baseAddress! + r * inFeatures / 2
                        scales[i] = a.baseAddress! + r * perRow
                    }
                    tailor_block_pack_bf16(TAILOR_NF4, starts, scales, code.baseAddress, Int32(rows.count), Int32(inFeatures),
                                           transposed ? 1 : 0, Int32(tileRows), Int32(strip), packed)
                }
            }
        }
    }

    public func dequantizeRows(_ range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        let perRow = inFeatures / NF4.blockSize
        packed.withUnsafeBufferPointer { p in
            absmax.withUnsafeBufferPointer { a in
                NF4.dequantize(packed: p.baseAddress!, absmax: a.baseAddress!, firstBlock: range.lowerBound * perRow,
                               count: range.count * inFeatures, into: out)
            }
        }
    }
}
