import Foundation
import TailorTensor

/// ggml's reference quantizers (`quantize_row_*_ref` in ggml-quants.c at llama.cpp 0c1e570),
/// ported with the same rounding (`roundf` for Q8_0, truncation of `x + 8.5` for Q4_0,
/// `nearest_int` round-to-nearest-even for the K-quants) and the same float operation order.
/// These are what `llama-quantize` runs without an importance matrix.
public enum Quantize {
    /// The types ``encode(_:_:)`` can produce.
    public static let supported: [GGMLType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_K, .q5_K, .q6_K]

    /// Encodes `values` (a whole number of blocks) as `type`.
    public static func encode(_ type: GGMLType, _ values: UnsafeBufferPointer<Float>) throws -> [UInt8] {
        guard values.count % type.blockSize == 0 else {
            throw TailorError("quantize \(type): \(values.count) values are not a multiple of the block size \(type.blockSize)")
        }
        if type.id != 0 && type.id != 1 && type.id != 30, let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw TailorError("quantize \(type): value \(values[bad]) at index \(bad) is not finite")
        }
        let blocks = values.count / type.blockSize
        var out = [UInt8](repeating: 0, count: blocks * type.blockBytes)
        guard let x = values.baseAddress else { return out }
        out.withUnsafeMutableBytes { raw in
            let y = raw.baseAddress!
            switch type.id {
            case 0: for i in 0..<values.count { y.storeBytes(of: x[i].bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
            case 1: for i in 0..<values.count { y.storeBytes(of: HalfFloat.floatToF16(x[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
            case 30: for i in 0..<values.count { y.storeBytes(of: HalfFloat.floatToBF16(x[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
            case 8: for b in 0..<blocks { q8_0(x + 32 * b, y + 34 * b) }
            case 2: for b in 0..<blocks { q4_0(x + 32 * b, y + 18 * b) }
            case 12: for b in 0..<blocks { q4_K(x + 256 * b, y + 144 * b) }
            case 13: for b in 0..<blocks { q5_K(x + 256 * b, y + 176 * b) }
            case 14: for b in 0..<blocks { q6_K(x + 256 * b, y + 210 * b) }
            default: break
            }
        }
        guard [0, 1, 30, 8, 2, 12, 13, 14].contains(type.id) else {
            throw TailorError("quantize: type \(type) is not supported (supported: \(supported.map(\.name).joined(separator: ", ")))")
        }
        return out
    }

    /// Convenience for arrays.
    public static func encode(_ type: GGMLType, _ values: [Float]) throws -> [UInt8] {
        try values.withUnsafeBufferPointer { try encode(type, $0) }
    }

    @inline(__always) static func putF16(_ y: UnsafeMutableRawPointer, _ o: Int, _ v: Float) {
        y.storeBytes(of: HalfFloat.floatToF16(v).littleEndian, toByteOffset: o, as: UInt16.self)
    }

    /// ggml's `nearest_int`: round to nearest, ties to even, via the 1.5·2²³ trick.
    @inline(__always) static func nearestInt(_ f: Float) -> Int {
        let v = f + 12582912.0
        return Int(Int32(bitPattern: v.bitPattern) & 0x007F_FFFF) - 0x0040_0000
    }

    static func q8_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        var amax: Float = 0
        for j in 0..<32 { amax = max(amax, abs(x[j])) }
        let d = amax / 127
        let id: Float = d != 0 ? 1 / d : 0
        putF16(y, 0, d)
        for j in 0..<32 {
            let q = Int8((x[j] * id).rounded(.toNearestOrAwayFromZero))
            y.storeBytes(of: q, toByteOffset: 2 + j, as: Int8.self)
        }
    }

    static func q4_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        var amax: Float = 0, mx: Float = 0
        for j in 0..<32 where amax < abs(x[j]) { amax = abs(x[j]); mx = x[j] }
        let d = mx / -8
        let id: Float = d != 0 ? 1 / d : 0
        putF16(y, 0, d)
        for j in 0..<16 {
            let a = min(15, Int(Int8(truncatingIfNeeded: Int((x[j] * id + 8.5).rounded(.towardZero)))))
            let b = min(15, Int(Int8(truncatingIfNeeded: Int((x[j + 16] * id + 8.5).rounded(.towardZero)))))
            y.storeBytes(of: UInt8(truncatingIfNeeded: a) | UInt8(truncatingIfNeeded: b) << 4, toByteOffset: 2 + j, as: UInt8.self)
        }
    }

    /// `make_qkx2_quants`: a scale and (non-positive) min fitted by weighted least squares over
    /// `nstep + 1` candidate roundings. Returns the scale; `theMin` receives `-min ≥ 0`.
    static func makeQKX2(_ n: Int, _ nmax: Int, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ L: UnsafeMutablePointer<UInt8>,
                         _ theMin: inout Float, _ rmin: Float, _ rdelta: Float, _ nstep: Int) -> Float {
        var mn = x[0], mx = x[0], sumW = w[0], sumX = sumW * x[0]
        for i in 1..<n {
            if x[i] < mn { mn = x[i] }
            if x[i] > mx { mx = x[i] }
            sumW += w[i]
            sumX += w[i] * x[i]
        }
        if mn > 0 { mn = 0 }
        if mx == mn {
            for i in 0..<n { L[i] = 0 }
            theMin = -mn
            return 0
        }
        let fmax = Float(nmax)
        var iscale = fmax / (mx - mn)
        var scale = 1 / iscale
        var bestError: Float = 0
        for i in 0..<n {
            let l = nearestInt(iscale * (x[i] - mn))
            L[i] = UInt8(max(0, min(nmax, l)))
            let diff = scale * Float(L[i]) + mn - x[i]
            bestError += w[i] * (diff * diff)
        }
        var aux = [UInt8](repeating: 0, count: n)
        for step in 0...nstep {
            iscale = (rmin + rdelta * Float(step) + fmax) / (mx - mn)
            var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
            for i in 0..<n {
                let l = max(0, min(nmax, nearestInt(iscale * (x[i] - mn))))
                aux[i] = UInt8(l)
                let fl = Float(l)
                sumL += w[i] * fl
                sumL2 += w[i] * fl * fl
                sumXL += w[i] * fl * x[i]
            }
            let D = sumW * sumL2 - sumL * sumL
            if D > 0 {
                var thisScale = (sumW * sumXL - sumX * sumL) / D
                var thisMin = (sumL2 * sumX - sumL * sumXL) / D
                if thisMin > 0 {
                    thisMin = 0
                    thisScale = sumXL / sumL2
                }
                var cur: Float = 0
                for i in 0..<n {
                    let diff = thisScale * Float(aux[i]) + thisMin - x[i]
                    cur += w[i] * (diff * diff)
                }
                if cur < bestError {
                    for i in 0..<n { L[i] = aux[i] }
                    bestError = cur
                    scale = thisScale
                    mn = thisMin
                }
            }
        }
        theMin = -mn
        return scale
    }

    static func q4_K(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        let L = kLevels(x, y, nmax: 15, rmin: -1, nstep: 20)  // [256], 0...15
        for c in 0..<4 {
            for l in 0..<32 { y.storeBytes(of: L[64 * c + l] | (L[64 * c + l + 32] << 4), toByteOffset: 16 + 32 * c + l, as: UInt8.self) }
        }
    }

    /// Q5_K: the levels' low nibbles as Q4_K packs them (at byte 48), their fifth bits in `qh` (32 bytes at 16).
    static func q5_K(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        let L = kLevels(x, y, nmax: 31, rmin: -0.5, nstep: 15)  // [256], 0...31
        var qh = [UInt8](repeating: 0, count: 32)
        for c in 0..<4 {
            for l in 0..<32 {
                let a = L[64 * c + l], b = L[64 * c + l + 32]
                qh[l] |= ((a >> 4) & 1) << (2 * c) | ((b >> 4) & 1) << (2 * c + 1)
                y.storeBytes(of: (a & 0xF) | ((b & 0xF) << 4), toByteOffset: 48 + 32 * c + l, as: UInt8.self)
            }
        }
        for l in 0..<32 { y.storeBytes(of: qh[l], toByteOffset: 16 + l, as: UInt8.self) }
    }

    /// Q4_K's and Q5_K's shared part: a scale and a min per sub-block of 32 (`make_qkx2_quants`), written as 6-bit
    /// values under the f16 `d` and `dmin` (bytes 0–15), then every value's level in `0...nmax` against the
    /// scales as stored.
    static func kLevels(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, nmax: Int, rmin: Float, nstep: Int) -> [UInt8] {
        var L = [UInt8](repeating: 0, count: 256)
        var weights = [Float](repeating: 0, count: 32)
        var mins = [Float](repeating: 0, count: 8), scales = [Float](repeating: 0, count: 8)
        var maxScale: Float = 0, maxMin: Float = 0
        L.withUnsafeMutableBufferPointer { Lp in
            for j in 0..<8 {
                var sumX2: Float = 0
                for l in 0..<32 { sumX2 += x[32 * j + l] * x[32 * j + l] }
                let av = (sumX2 / 32).squareRoot()
                for l in 0..<32 { weights[l] = av + abs(x[32 * j + l]) }
                scales[j] = weights.withUnsafeBufferPointer {
                    makeQKX2(32, nmax, x + 32 * j, $0.baseAddress!, Lp.baseAddress! + 32 * j, &mins[j], rmin, 0.1, nstep)
                }
                if scales[j] > maxScale { maxScale = scales[j] }
                if mins[j] > maxMin { maxMin = mins[j] }
            }
        }
        let invScale: Float = maxScale > 0 ? 63 / maxScale : 0
        let invMin: Float = maxMin > 0 ? 63 / maxMin : 0
        var sc = [UInt8](repeating: 0, count: 12)
        for j in 0..<8 {
            let ls = min(63, UInt8(truncatingIfNeeded: nearestInt(invScale * scales[j])))
            let lm = min(63, UInt8(truncatingIfNeeded: nearestInt(invMin * mins[j])))
            if j < 4 {
                sc[j] = ls; sc[j + 4] = lm
            } else {
                sc[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4)
                sc[j - 4] |= (ls >> 4) << 6
                sc[j] |= (lm >> 4) << 6
            }
        }
        putF16(y, 0, maxScale / 63)
        putF16(y, 2, maxMin / 63)
        for i in 0..<12 { y.storeBytes(of: sc[i], toByteOffset: 4 + i, as: UInt8.self) }
        let dStored = Dequantize.f16(y, 0), dminStored = Dequantize.f16(y, 2)
        for j in 0..<8 {
            let (s, m) = Dequantize.scaleMin(j, y + 4)
            let d = dStored * Float(s)
            if d == 0 { continue }
            let dm = dminStored * Float(m)
            for ii in 0..<32 { L[32 * j + ii] = UInt8(max(0, min(nmax, nearestInt((x[32 * j + ii] + dm) / d)))) }
        }
        return L
    }

    /// `make_qx_quants` with `rmse_type = 1` (weights x²), no importance weights.
    static func makeQX(_ n: Int, _ nmax: Int, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<Int8>) -> Float {
        var mx: Float = 0, amax: Float = 0
        for i in 0..<n where abs(x[i]) > amax { amax = abs(x[i]); mx = x[i] }
        if amax < 1e-15 {
            for i in 0..<n { L[i] = 0 }
            return 0
        }
        let fmax = Float(nmax)
        var iscale = -fmax / mx
        var sumLX: Float = 0, sumL2: Float = 0
        for i in 0..<n {
            let l = max(-nmax, min(nmax - 1, nearestInt(iscale * x[i])))
            L[i] = Int8(l + nmax)
            let w = x[i] * x[i], fl = Float(l)
            sumLX += w * x[i] * fl
            sumL2 += w * fl * fl
        }
        var scale: Float = sumL2 != 0 ? sumLX / sumL2 : 0
        var best = scale * sumLX
        for step in -9...9 where step != 0 {
            iscale = -(fmax + 0.1 * Float(step)) / mx
            sumLX = 0; sumL2 = 0
            for i in 0..<n {
                let l = max(-nmax, min(nmax - 1, nearestInt(iscale * x[i])))
                let w = x[i] * x[i], fl = Float(l)
                sumLX += w * x[i] * fl
                sumL2 += w * fl * fl
            }
            if sumL2 > 0 && sumLX * sumLX > best * sumL2 {
                for i in 0..<n { L[i] = Int8(nmax + max(-nmax, min(nmax - 1, nearestInt(iscale * x[i])))) }
                scale = sumLX / sumL2
                best = scale * sumLX
            }
        }
        return scale
    }

    static func q6_K(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        var L = [Int8](repeating: 0, count: 256)
        var scales = [Float](repeating: 0, count: 16)
        var maxScale: Float = 0, maxAbs: Float = 0
        L.withUnsafeMutableBufferPointer { Lp in
            for ib in 0..<16 {
                let s = makeQX(16, 32, x + 16 * ib, Lp.baseAddress! + 16 * ib)
                scales[ib] = s
                if abs(s) > maxAbs { maxAbs = abs(s); maxScale = s }
            }
        }
        if maxAbs < 1e-15 {
            y.initializeMemory(as: UInt8.self, repeating: 0, count: 210)
            return
        }
        let iscale = -128 / maxScale
        putF16(y, 208, 1 / iscale)
        var sc = [Int8](repeating: 0, count: 16)
        for ib in 0..<16 { sc[ib] = Int8(truncatingIfNeeded: min(127, nearestInt(iscale * scales[ib]))) }
        for ib in 0..<16 { y.storeBytes(of: sc[ib], toByteOffset: 192 + ib, as: Int8.self) }
        let dStored = Dequantize.f16(y, 208)
        for j in 0..<16 {
            let d = dStored * Float(sc[j])
            if d == 0 { continue }
            for ii in 0..<16 { L[16 * j + ii] = Int8(max(-32, min(31, nearestInt(x[16 * j + ii] / d))) + 32) }
        }
        for h in 0..<2 {
            let j = 128 * h
            for l in 0..<32 {
                let q = { (k: Int) in UInt8(bitPattern: L[j + l + k]) }
                y.storeBytes(of: (q(0) & 0xF) | ((q(64) & 0xF) << 4), toByteOffset: 64 * h + l, as: UInt8.self)
                y.storeBytes(of: (q(32) & 0xF) | ((q(96) & 0xF) << 4), toByteOffset: 64 * h + l + 32, as: UInt8.self)
                y.storeBytes(of: (q(0) >> 4) | ((q(32) >> 4) << 2) | ((q(64) >> 4) << 4) | ((q(96) >> 4) << 6), toByteOffset: 128 + 32 * h + l, as: UInt8.self)
            }
        }
    }
}
