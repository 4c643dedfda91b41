import CTailorKernels
import TailorTensor

/// Block dequantization, ported line by line from ggml's `dequantize_row_*` (ggml-quants.c at
/// llama.cpp 0c1e570), including the order of float operations, so results are bit-identical.
///
/// Every function takes the raw blocks and writes `count` floats; `count` must be a multiple of
/// the type's block size and `src` must hold `count / blockSize · blockBytes` bytes (callers
/// validate this once, e.g. ``GGUFFile`` or ``QuantizedMatrix``).
public enum Dequantize {
    /// The ids of the types handled here.
    static let supported: Set<UInt32> = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 30]

    /// Dequantizes `count` elements of `type` from `src` into `dst`.
    public static func rows(_ type: GGMLType, _ src: UnsafeRawBufferPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
        precondition(count % type.blockSize == 0 && src.count >= count / type.blockSize * type.blockBytes,
                     "dequantize \(type): \(src.count) bytes for \(count) elements")
        guard let p = src.baseAddress, count > 0 else { return }
        let blocks = count / type.blockSize
        switch type.id {
        case 0: for i in 0..<count { dst[i] = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
        case 1: for i in 0..<count { dst[i] = f16(p, 2 * i) }
        case 30: for i in 0..<count { dst[i] = HalfFloat.bf16ToFloat(u16(p, 2 * i)) }
        case 2 where FastMath.usesAVX512: tailor_dequant_q4_0(p.assumingMemoryBound(to: UInt8.self), blocks, dst)
        case 2: for b in 0..<blocks { q4_0(p + 18 * b, dst + 32 * b) }
        case 3: for b in 0..<blocks { q4_1(p + 20 * b, dst + 32 * b) }
        case 6: for b in 0..<blocks { q5_0(p + 22 * b, dst + 32 * b) }
        case 7: for b in 0..<blocks { q5_1(p + 24 * b, dst + 32 * b) }
        case 8: for b in 0..<blocks { q8_0(p + 34 * b, dst + 32 * b) }
        case 12: for b in 0..<blocks { q4_K(p + 144 * b, dst + 256 * b) }
        case 13: for b in 0..<blocks { q5_K(p + 176 * b, dst + 256 * b) }
        case 14: for b in 0..<blocks { q6_K(p + 210 * b, dst + 256 * b) }
        default: preconditionFailure("dequantize: type \(type) is not supported")
        }
    }

    /// ``rows(_:_:into:count:)`` in plain Swift for every type (the reference for the AVX-512 Q4_0
    /// loop the fast path takes).
    public static func rowsReference(_ type: GGMLType, _ src: UnsafeRawBufferPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
        guard let p = src.baseAddress, count > 0 else { return }
        let blocks = count / type.blockSize
        switch type.id {
        case 2: for b in 0..<blocks { q4_0(p + 18 * b, dst + 32 * b) }
        default: rows(type, src, into: dst, count: count)
        }
    }

    /// Convenience: dequantizes a byte array of `type` into a new array.
    public static func floats(_ type: GGMLType, _ bytes: [UInt8], count: Int) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { src in out.withUnsafeMutableBufferPointer { rows(type, src, into: $0.baseAddress!, count: count) } }
        return out
    }

    @inline(__always) static func u16(_ p: UnsafeRawPointer, _ o: Int) -> UInt16 { UInt16(littleEndian: p.loadUnaligned(fromByteOffset: o, as: UInt16.self)) }
    @inline(__always) static func f16(_ p: UnsafeRawPointer, _ o: Int) -> Float { HalfFloat.f16ToFloat(u16(p, o)) }

    @inline(__always) static func q4_0(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = f16(x, 0), qs = x + 2
        for j in 0..<16 {
            let q = qs.load(fromByteOffset: j, as: UInt8.self)
            y[j] = Float(Int(q & 0x0F) - 8) * d
            y[j + 16] = Float(Int(q >> 4) - 8) * d
        }
    }

    @inline(__always) static func q4_1(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = f16(x, 0), m = f16(x, 2), qs = x + 4
        for j in 0..<16 {
            let q = qs.load(fromByteOffset: j, as: UInt8.self)
            y[j] = Float(q & 0x0F) * d + m
            y[j + 16] = Float(q >> 4) * d + m
        }
    }

    @inline(__always) static func q5_0(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = f16(x, 0), qh = UInt32(littleEndian: x.loadUnaligned(fromByteOffset: 2, as: UInt32.self)), qs = x + 6
        for j in 0..<16 {
            let q = UInt32(qs.load(fromByteOffset: j, as: UInt8.self))
            let h0 = ((qh >> UInt32(j)) << 4) & 0x10, h1 = (qh >> UInt32(j + 12)) & 0x10
            y[j] = Float(Int32((q & 0x0F) | h0) - 16) * d
            y[j + 16] = Float(Int32((q >> 4) | h1) - 16) * d
        }
    }

    @inline(__always) static func q5_1(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = f16(x, 0), m = f16(x, 2), qh = UInt32(littleEndian: x.loadUnaligned(fromByteOffset: 4, as: UInt32.self)), qs = x + 8
        for j in 0..<16 {
            let q = UInt32(qs.load(fromByteOffset: j, as: UInt8.self))
            let h0 = ((qh >> UInt32(j)) << 4) & 0x10, h1 = (qh >> UInt32(j + 12)) & 0x10
            y[j] = Float((q & 0x0F) | h0) * d + m
            y[j + 16] = Float((q >> 4) | h1) * d + m
        }
    }

    @inline(__always) static func q8_0(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = f16(x, 0)
        for j in 0..<32 { y[j] = Float(x.load(fromByteOffset: 2 + j, as: Int8.self)) * d }
    }

    /// `get_scale_min_k4`: the 6-bit scale and min of sub-block j from the 12 packed bytes.
    @inline(__always) static func scaleMin(_ j: Int, _ s: UnsafeRawPointer) -> (UInt8, UInt8) {
        let b = { (i: Int) in s.load(fromByteOffset: i, as: UInt8.self) }
        if j < 4 { return (b(j) & 63, b(j + 4) & 63) }
        return ((b(j + 4) & 0xF) | ((b(j - 4) >> 6) << 4), (b(j + 4) >> 4) | ((b(j) >> 6) << 4))
    }

    @inline(__always) static func q4_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = f16(x, 0), dmin = f16(x, 2), scales = x + 4, qs = x + 16
        for c in 0..<4 {
            let (sc1, m1i) = scaleMin(2 * c, scales), (sc2, m2i) = scaleMin(2 * c + 1, scales)
            let d1 = d * Float(sc1), m1 = dmin * Float(m1i), d2 = d * Float(sc2), m2 = dmin * Float(m2i)
            let q = qs + 32 * c, out = y + 64 * c
            for l in 0..<32 {
                let v = q.load(fromByteOffset: l, as: UInt8.self)
                out[l] = d1 * Float(v & 0xF) - m1
                out[l + 32] = d2 * Float(v >> 4) - m2
            }
        }
    }

    @inline(__always) static func q5_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = f16(x, 0), dmin = f16(x, 2), scales = x + 4, qh = x + 16, qs = x + 48
        for c in 0..<4 {
            let (sc1, m1i) = scaleMin(2 * c, scales), (sc2, m2i) = scaleMin(2 * c + 1, scales)
            let d1 = d * Float(sc1), m1 = dmin * Float(m1i), d2 = d * Float(sc2), m2 = dmin * Float(m2i)
            let u1 = UInt8(1) << (2 * c), u2 = UInt8(2) << (2 * c)
            let ql = qs + 32 * c, out = y + 64 * c
            for l in 0..<32 {
                let v = ql.load(fromByteOffset: l, as: UInt8.self), h = qh.load(fromByteOffset: l, as: UInt8.self)
                out[l] = d1 * Float(Int(v & 0xF) + (h & u1 != 0 ? 16 : 0)) - m1
                out[l + 32] = d2 * Float(Int(v >> 4) + (h & u2 != 0 ? 16 : 0)) - m2
            }
        }
    }

    @inline(__always) static func q6_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = f16(x, 208)
        for n in 0..<2 {
            let ql = x + 64 * n, qh = x + 128 + 32 * n, sc = x + 192 + 8 * n, out = y + 128 * n
            for l in 0..<32 {
                let i = l / 16
                let a = ql.load(fromByteOffset: l, as: UInt8.self), b = ql.load(fromByteOffset: l + 32, as: UInt8.self)
                let h = qh.load(fromByteOffset: l, as: UInt8.self)
                let q1 = Int(Int8(bitPattern: (a & 0xF) | ((h & 3) << 4))) - 32
                let q2 = Int(Int8(bitPattern: (b & 0xF) | (((h >> 2) & 3) << 4))) - 32
                let q3 = Int(Int8(bitPattern: (a >> 4) | (((h >> 4) & 3) << 4))) - 32
                let q4 = Int(Int8(bitPattern: (b >> 4) | (((h >> 6) & 3) << 4))) - 32
                let s = { (k: Int) in Float(sc.load(fromByteOffset: i + k, as: Int8.self)) }
                out[l] = d * s(0) * Float(q1)
                out[l + 32] = d * s(2) * Float(q2)
                out[l + 64] = d * s(4) * Float(q3)
                out[l + 96] = d * s(6) * Float(q4)
            }
        }
    }
}
