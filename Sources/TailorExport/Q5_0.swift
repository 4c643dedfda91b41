import Foundation
import TailorQuant
import TailorTensor

/// ggml's `quantize_row_q5_0_ref` (not in TailorQuant's encoder), needed because llama-quantize
/// falls back from Q4_K to Q5_0 for rows that are not a multiple of 256 (gguf.md §2.5, §2.11).
enum Q5_0 {
    /// Encodes `x` (a multiple of 32 values) as Q5_0 blocks of 22 bytes.
    static func encode(_ x: UnsafeBufferPointer<Float>) -> [UInt8] {
        let blocks = x.count / 32
        var out = [UInt8](repeating: 0, count: blocks * 22)
        for b in 0..<blocks {
            let v = x.baseAddress! + 32 * b
            var amax: Float = 0, mx: Float = 0
            for j in 0..<32 where amax < abs(v[j]) { amax = abs(v[j]); mx = v[j] }
            let d = mx / -16
            let id: Float = d != 0 ? 1 / d : 0
            let h = HalfFloat.floatToF16(d)
            out[22 * b] = UInt8(h & 0xFF); out[22 * b + 1] = UInt8(h >> 8)
            var qh: UInt32 = 0
            for j in 0..<16 {
                let x0 = v[j] * id, x1 = v[16 + j] * id
                let q0 = UInt8(min(31, Int8(truncatingIfNeeded: Int(x0 + 16.5)))), q1 = UInt8(min(31, Int8(truncatingIfNeeded: Int(x1 + 16.5))))
                out[22 * b + 6 + j] = (q0 & 0x0F) | ((q1 & 0x0F) << 4)
                qh |= UInt32((q0 & 0x10) >> 4) << j
                qh |= UInt32((q1 & 0x10) >> 4) << (j + 16)
            }
            for k in 0..<4 { out[22 * b + 2 + k] = UInt8((qh >> (8 * k)) & 0xFF) }
        }
        return out
    }
}

/// ggml's `quantize_row_q5_1_ref`: llama-quantize's fallback from Q5_K for rows that are not a multiple
/// of 256.
enum Q5_1 {
    /// Encodes `x` (a multiple of 32 values) as Q5_1 blocks of 24 bytes: f16 `d`, f16 `m`, `qh`, 16 nibble pairs.
    static func encode(_ x: UnsafeBufferPointer<Float>) -> [UInt8] {
        let blocks = x.count / 32
        var out = [UInt8](repeating: 0, count: blocks * 24)
        for b in 0..<blocks {
            let v = x.baseAddress! + 32 * b
            var mn = Float.greatestFiniteMagnitude, mx = -Float.greatestFiniteMagnitude
            for j in 0..<32 { mn = min(mn, v[j]); mx = max(mx, v[j]) }
            let d = (mx - mn) / 31
            let id: Float = d != 0 ? 1 / d : 0
            for (k, h) in [HalfFloat.floatToF16(d), HalfFloat.floatToF16(mn)].enumerated() {
                out[24 * b + 2 * k] = UInt8(h & 0xFF); out[24 * b + 2 * k + 1] = UInt8(h >> 8)
            }
            var qh: UInt32 = 0
            for j in 0..<16 {
                let q0 = UInt8(truncatingIfNeeded: Int((v[j] - mn) * id + 0.5)), q1 = UInt8(truncatingIfNeeded: Int((v[16 + j] - mn) * id + 0.5))
                out[24 * b + 8 + j] = (q0 & 0x0F) | ((q1 & 0x0F) << 4)
                qh |= UInt32((q0 & 0x10) >> 4) << j
                qh |= UInt32((q1 & 0x10) >> 4) << (j + 16)
            }
            for k in 0..<4 { out[24 * b + 4 + k] = UInt8((qh >> (8 * k)) & 0xFF) }
        }
        return out
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
