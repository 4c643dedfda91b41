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

/// Encodes fp32 values as any type an export can produce (TailorQuant's types plus Q5_0).
enum ExportEncoder {
    static func encode(_ type: GGMLType, _ t: Tensor) throws -> [UInt8] {
        if type == .q5_0 { return Q5_0.encode(t.buffer) }
        return try Quantize.encode(type, t.buffer)
    }
}
