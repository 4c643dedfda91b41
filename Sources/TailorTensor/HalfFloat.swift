/// IEEE half and bfloat16 conversions (round to nearest even, as PyTorch casts).
public enum HalfFloat {
    /// Exact, by moving the bits: `Float(Float16(…))` is a library call on x86-64 without F16C (Swift
    /// here targets baseline x86-64), and block dequantization converts one scale per 32 weights.
    @inline(__always) public static func f16ToFloat(_ bits: UInt16) -> Float {
        let h = UInt32(bits), sign = (h & 0x8000) << 16, exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13) | (mantissa == 0 ? 0 : 0x40_0000)) }
        if exponent != 0 { return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13)) }
        let magnitude = Float(mantissa) * 0x1p-24  // subnormal (or zero): exact in fp32
        return sign == 0 ? magnitude : -magnitude
    }

    @inline(__always) public static func floatToF16(_ x: Float) -> UInt16 {
        Float16(x).bitPattern
    }

    /// bf16 is the upper half of the fp32 bit pattern.
    @inline(__always) public static func bf16ToFloat(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    @inline(__always) public static func floatToBF16(_ x: Float) -> UInt16 {
        let b = x.bitPattern
        if x.isNaN { return UInt16(b >> 16) | 0x40 }
        let rounding = ((b >> 16) & 1) + 0x7FFF
        return UInt16((b &+ rounding) >> 16)
    }
}
