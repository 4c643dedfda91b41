/// Vectorised exponentials for the softmax, cross-entropy and SiLU loops.
///
/// `exp` is Cephes' `expf` (range reduction by ln 2 in two parts, a degree-5 polynomial, the
/// exponent assembled in the bits), eight lanes at a time: at most 2 ulp from the correctly
/// rounded value on [−87, 88] (checked against `expf` in the tests), and a pure function of its
/// input, so recomputation and resumed runs stay bit-identical. The scalar `expf` is the reference.
public enum FastMath {
    public typealias Vector = SIMD8<Float>

    /// e^x per lane; 0 below −87.3 (and for −∞), +∞ above 88.7.
    @inline(__always)
    public static func exp(_ x: Vector) -> Vector {
        let hi = Vector(repeating: 88.72283), lo = Vector(repeating: -87.33654)
        let xc = x.clamped(lowerBound: lo, upperBound: hi)
        // n = round(x / ln 2) with the 1.5·2²³ trick (round to nearest even, no SSE4.1 needed).
        let magic = Vector(repeating: 12582912)
        let t = xc * Vector(repeating: 1.44269504088896341) + magic
        let n = t - magic
        var r = xc - n * Vector(repeating: 0.693359375)
        r = r - n * Vector(repeating: -2.12194440e-4)
        var p = Vector(repeating: 1.9875691500e-4)
        p = p * r + Vector(repeating: 1.3981999507e-3)
        p = p * r + Vector(repeating: 8.3334519073e-3)
        p = p * r + Vector(repeating: 4.1665795894e-2)
        p = p * r + Vector(repeating: 1.6666665459e-1)
        p = p * r + Vector(repeating: 5.0000001201e-1)
        let e = p * (r * r) + r + Vector(repeating: 1)
        // 2ⁿ from the integer sitting in t's low mantissa bits.
        let ni = unsafeBitCast(t, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self)
        // For n = 128 (x just below the top), 2ⁿ is not a float: scale by 2ⁿ⁻¹ and then by 2 (exact).
        let big = ni .> 0
        let adjusted = ni &- SIMD8<Int32>(repeating: 0).replacing(with: 1, where: big)
        let scale = unsafeBitCast((adjusted &+ 127) &<< 23, to: Vector.self)
        var y = e * scale * Vector(repeating: 1).replacing(with: 2, where: big)
        y.replace(with: Vector(repeating: 0), where: x .< lo)
        y.replace(with: Vector(repeating: .infinity), where: x .> hi)
        return y
    }

    /// e^x for one value, the same function as the vector form (for loop tails).
    @inline(__always)
    public static func exp(_ x: Float) -> Float { exp(Vector(repeating: x))[0] }

    /// max of `x[0..<n]` (−∞ when n = 0).
    @inline(__always)
    public static func max(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var m = Vector(repeating: -.infinity)
        var j = 0
        while j + 8 <= n {
            m = pointwiseMax(m, UnsafeRawPointer(x + j).loadUnaligned(as: Vector.self))
            j += 8
        }
        var s = m.max()
        while j < n { s = Swift.max(s, x[j]); j += 1 }
        return s
    }

    /// `y[j] = e^(x[j] − shift)` for j in 0..<n, returning Σ y (x and y may be the same buffer).
    @inline(__always)
    public static func expShifted(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, shift: Float) -> Float {
        let sv = Vector(repeating: shift)
        var acc = Vector(repeating: 0)
        var j = 0
        while j + 8 <= n {
            let e = exp(UnsafeRawPointer(x + j).loadUnaligned(as: Vector.self) - sv)
            UnsafeMutableRawPointer(y + j).storeBytes(of: e, as: Vector.self)
            acc += e
            j += 8
        }
        var s = acc.sum()
        while j < n { let e = exp(x[j] - shift); y[j] = e; s += e; j += 1 }
        return s
    }

    /// Σ e^(x[j] − shift) for j in 0..<n.
    @inline(__always)
    public static func expSum(_ x: UnsafePointer<Float>, _ n: Int, shift: Float) -> Float {
        let sv = Vector(repeating: shift)
        var acc = Vector(repeating: 0)
        var j = 0
        while j + 8 <= n {
            acc += exp(UnsafeRawPointer(x + j).loadUnaligned(as: Vector.self) - sv)
            j += 8
        }
        var s = acc.sum()
        while j < n { s += exp(x[j] - shift); j += 1 }
        return s
    }

    /// `y[j] = e^(x[j] − shift) · scale` for j in 0..<n (x and y may be the same buffer).
    @inline(__always)
    public static func expScaled(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, shift: Float, scale: Float) {
        let sv = Vector(repeating: shift), kv = Vector(repeating: scale)
        var j = 0
        while j + 8 <= n {
            let e = exp(UnsafeRawPointer(x + j).loadUnaligned(as: Vector.self) - sv) * kv
            UnsafeMutableRawPointer(y + j).storeBytes(of: e, as: Vector.self)
            j += 8
        }
        while j < n { y[j] = exp(x[j] - shift) * scale; j += 1 }
    }
}
