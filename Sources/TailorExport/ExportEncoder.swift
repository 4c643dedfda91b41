import Foundation
import TailorQuant
import TailorTensor

/// ggml's `quantize_row_q5_0_ref` (not in TailorQuant's encoder), needed because llama-quantize
/// falls back from Q4_K to Q5_0 for rows that are not a multiple of 256 (gguf.md §2.5, §2.11).
enum Q5_0 {
    /// Encodes `x` (a multiple of 32 values) as Q5_0 blocks of 22 bytes: f16 `d`, `qh`, 16 nibble pairs.
    static func encode(_ x: UnsafeBufferPointer<Float>) -> [UInt8] {
        FiveBit.blocks(x, bytes: 22) { v, o, out in
            var amax: Float = 0, mx: Float = 0
            for j in 0..<32 where amax < abs(v[j]) { amax = abs(v[j]); mx = v[j] }
            let d = mx / -16
            let id: Float = d != 0 ? 1 / d : 0
            FiveBit.putF16(d, &out, o)
            FiveBit.pack({ UInt8(min(31, Int8(truncatingIfNeeded: Int(v[$0] * id + 16.5)))) }, &out, qh: o + 2, qs: o + 6)
        }
    }
}

/// ggml's `quantize_row_q5_1_ref`: llama-quantize's fallback from Q5_K for rows that are not a multiple
/// of 256.
enum Q5_1 {
    /// Encodes `x` (a multiple of 32 values) as Q5_1 blocks of 24 bytes: f16 `d`, f16 `m`, `qh`, 16 nibble pairs.
    static func encode(_ x: UnsafeBufferPointer<Float>) -> [UInt8] {
        FiveBit.blocks(x, bytes: 24) { v, o, out in
            var mn = Float.greatestFiniteMagnitude, mx = -Float.greatestFiniteMagnitude
            for j in 0..<32 { mn = min(mn, v[j]); mx = max(mx, v[j]) }
            let d = (mx - mn) / 31
            let id: Float = d != 0 ? 1 / d : 0
            FiveBit.putF16(d, &out, o)
            FiveBit.putF16(mn, &out, o + 2)
            FiveBit.pack({ UInt8(truncatingIfNeeded: Int((v[$0] - mn) * id + 0.5)) }, &out, qh: o + 4, qs: o + 8)
        }
    }
}

/// The layout Q5_0 and Q5_1 share.
enum FiveBit {
    /// An output of `bytes` per block of 32 values of `x`, filled by `body(values, offset, &out)` block by block.
    static func blocks(_ x: UnsafeBufferPointer<Float>, bytes: Int, _ body: (UnsafePointer<Float>, Int, inout [UInt8]) -> Void) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: x.count / 32 * bytes)
        for b in 0..<(x.count / 32) { body(x.baseAddress! + 32 * b, bytes * b, &out) }
        return out
    }

    /// Stores the levels of a block's 32 values (`level(j)`, 0...31): the low nibbles of j and j + 16 in byte
    /// `qs + j`, the fifth bits in the little-endian UInt32 at `qh` (bit j, and bit j + 16).
    static func pack(_ level: (Int) -> UInt8, _ out: inout [UInt8], qh qhAt: Int, qs: Int) {
        var qh: UInt32 = 0
        for j in 0..<16 {
            let q0 = level(j), q1 = level(16 + j)
            out[qs + j] = (q0 & 0x0F) | ((q1 & 0x0F) << 4)
            qh |= UInt32((q0 & 0x10) >> 4) << j
            qh |= UInt32((q1 & 0x10) >> 4) << (j + 16)
        }
        for k in 0..<4 { out[qhAt + k] = UInt8((qh >> (8 * k)) & 0xFF) }
    }

    /// `v` as little-endian f16 at `out[at]`.
    static func putF16(_ v: Float, _ out: inout [UInt8], _ at: Int) {
        let h = HalfFloat.floatToF16(v)
        out[at] = UInt8(h & 0xFF); out[at + 1] = UInt8(h >> 8)
    }
}

/// Encodes fp32 values as any type an export can produce (TailorQuant's types plus Q5_0 and Q5_1).
enum ExportEncoder {
    static func encode(_ type: GGMLType, _ t: Tensor) throws -> [UInt8] {
        if type == .q5_0 { return Q5_0.encode(t.buffer) }
        if type == .q5_1 { return Q5_1.encode(t.buffer) }
        return try Quantize.encode(type, t.buffer)
    }
}
