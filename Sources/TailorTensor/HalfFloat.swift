/// IEEE half and bfloat16 conversions (round to nearest even, as PyTorch casts).
public enum HalfFloat {
    @inline(__always) public static func f16ToFloat(_ bits: UInt16) -> Float {
        Float(Float16(bitPattern: bits))
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
