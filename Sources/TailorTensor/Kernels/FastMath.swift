import CTailorKernels
#if canImport(Glibc)
import Glibc
#endif

/// Vectorised exponentials for the softmax, cross-entropy and SiLU loops.
///
/// `exp` is Cephes' `expf` (range reduction by ln 2 in two parts, a degree-5 polynomial, the
/// exponent assembled in the bits), written branch-free in scalar form so that LLVM vectorises
/// the loops that call it (Swift's generic SIMD min/max/select are not inlined and ran slower
/// than libm). At most 2 ulp from `expf` on [−87, 88] (checked in the tests), and a pure
/// function of its input, so recomputation and resumed runs stay bit-identical. The scalar
/// `expf` is the reference.
public enum FastMath {
    public typealias Vector = SIMD8<Float>

    /// Whether the CPU and OS support AVX-512F (and `TAILOR_ISA` allows it), checked once: the
    /// level of ``kernels``, and of the AVX-512-only kernels (LoRA's rank-sized products, packing,
    /// Q4_0 dequantization).
    public static let usesAVX512 = tailor_avx512_available() != 0

    /// The vector width of Tailor's fp32 row kernels (SwiGLU, RMSNorm, attention's row passes, the
    /// exponentials). In C the exponential is the same polynomial with fused multiply-adds, within
    /// an ulp of ``exp(_:)``, and still a pure function of its input on one machine.
    public enum KernelLevel: Sendable {
        /// The Swift loops (4-lane SSE on baseline x86-64; on other CPUs as LLVM vectorises them), also
        /// the tests' reference.
        case generic
        /// C kernels in AVX2 + FMA, 8 lanes: CPUs without AVX-512.
        case avx2
        /// C kernels in AVX-512, 16 lanes.
        case avx512
    }

    /// The level this process runs at: the widest the CPU has, capped by `TAILOR_ISA`.
    public static let kernels: KernelLevel = usesAVX512 ? .avx512 : tailor_avx2_available() != 0 ? .avx2 : .generic

    /// The C levels this process may run, widest first (the tests check each against the Swift
    /// loops through the dispatchers' `kernels:` argument).
    public static let vectorLevels: [KernelLevel] = (usesAVX512 ? [.avx512] : []) + (tailor_avx2_available() != 0 ? [.avx2] : [])

    /// Throws when the environment variable `TAILOR_ISA` (the cap on Tailor's own kernels:
    /// `generic` for the Swift loops only, `avx2`, `avx512` for no AMX, `native` or unset for no
    /// cap) holds anything else; the command line checks it first, so a misspelt value is not
    /// ignored.
    public static func checkInstructionSetCap() throws {
        guard tailor_isa_cap() >= 0 else {
            let value = getenv("TAILOR_ISA").map { String(cString: $0) } ?? ""
            throw TailorError("TAILOR_ISA=\(value): expected generic, avx2, avx512 or native")
        }
    }

    /// The instruction sets Tailor's own kernels use in this process: "AMX + AVX-512",
    /// "AVX-512", "AVX2" or "generic" (the Swift loops). BLAS chooses its own.
    public static var kernelSet: String {
        if BF16MatMul.usesAMX { return "AMX + AVX-512" }
        switch kernels {
        case .avx512: return "AVX-512"
        case .avx2: return "AVX2"
        case .generic: return "generic"
        }
    }

    /// e^x; 0 below −87.3 (and for −∞), +∞ above 88.7.
    @inline(__always)
    public static func exp(_ x: Float) -> Float {
        let hi: Float = 88.72283, lo: Float = -87.33654
        let xc = Swift.min(Swift.max(x, lo), hi)
        // n = round(x / ln 2) with the 1.5·2²³ trick (round to nearest even, no SSE4.1 needed).
        let magic: Float = 12582912
        let t = xc * 1.44269504088896341 + magic
        let n = t - magic
        var r = xc - n * 0.693359375
        r = r - n * -2.12194440e-4
        var p: Float = 1.9875691500e-4
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let e = p * (r * r) + r + 1
        // 2ⁿ from the integer in t's low mantissa bits. For n = 128 (x just below the top) 2ⁿ
        // is not a float: scale by 2ⁿ⁻¹ and then by 2 (exact).
        let ni = Int32(bitPattern: t.bitPattern) &- Int32(bitPattern: magic.bitPattern)
        let big = ni > 0
        let scale = Float(bitPattern: UInt32(bitPattern: ((big ? ni &- 1 : ni) &+ 127) &<< 23))
        var y = e * scale * (big ? 2 : 1)
        y = x < lo ? 0 : y
        y = x > hi ? .infinity : y
        return y
    }

    /// e^x per lane (for tests and callers holding vectors).
    @inline(__always)
    public static func exp(_ x: Vector) -> Vector {
        var y = Vector()
        for i in 0..<8 { y[i] = exp(x[i]) }
        return y
    }

    /// max of `x[0..<n]` (−∞ when n = 0).
    @inline(__always)
    public static func max(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var m0 = -Float.infinity, m1 = m0, m2 = m0, m3 = m0, m4 = m0, m5 = m0, m6 = m0, m7 = m0
        var j = 0
        while j + 8 <= n {
            m0 = Swift.max(m0, x[j]); m1 = Swift.max(m1, x[j + 1]); m2 = Swift.max(m2, x[j + 2]); m3 = Swift.max(m3, x[j + 3])
            m4 = Swift.max(m4, x[j + 4]); m5 = Swift.max(m5, x[j + 5]); m6 = Swift.max(m6, x[j + 6]); m7 = Swift.max(m7, x[j + 7])
            j += 8
        }
        var s = Swift.max(Swift.max(Swift.max(m0, m1), Swift.max(m2, m3)), Swift.max(Swift.max(m4, m5), Swift.max(m6, m7)))
        while j < n { s = Swift.max(s, x[j]); j += 1 }
        return s
    }

    /// Σ x[0..<n], eight partial sums (a fixed order, so the result is deterministic).
    @inline(__always)
    public static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = Vector()
        var j = 0
        while j + 8 <= n {
            acc += UnsafeRawPointer(x + j).loadUnaligned(as: Vector.self)
            j += 8
        }
        var s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
        while j < n { s += x[j]; j += 1 }
        return s
    }

    /// `y[j] = e^(x[j] − shift)` for j in 0..<n, returning Σ y (x and y may be the same buffer).
    @inline(__always)
    public static func expShifted(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, shift: Float,
                                  kernels: KernelLevel = kernels) -> Float {
        switch kernels {
        case .avx512: return tailor_exp_shifted(x, y, n, shift)
        case .avx2: return tailor_avx2_exp_shifted(x, y, n, shift)
        case .generic: return expShiftedReference(x, y, n, shift: shift)
        }
    }

    /// ``expShifted(_:_:_:shift:kernels:)`` in Swift (the fallback, and the reference in tests).
    @inline(__always)
    public static func expShiftedReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, shift: Float) -> Float {
        for j in 0..<n { y[j] = exp(x[j] - shift) }
        return sum(y, n)
    }

    /// Σ e^(x[j] − shift) for j in 0..<n.
    @inline(__always)
    public static func expSum(_ x: UnsafePointer<Float>, _ n: Int, shift: Float) -> Float {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 1024) { buf in
            let b = buf.baseAddress!
            var total: Float = 0
            var j = 0
            while j < n {
                let m = Swift.min(1024, n - j)
                total += expShifted(x + j, b, m, shift: shift)
                j += m
            }
            return total
        }
    }

    /// `y[j] = e^(x[j] − shift) · scale` for j in 0..<n (x and y may be the same buffer).
    @inline(__always)
    public static func expScaled(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, shift: Float, scale: Float,
                                 kernels: KernelLevel = kernels) {
        switch kernels {
        case .avx512: tailor_exp_scaled(x, y, n, shift, scale)
        case .avx2: tailor_avx2_exp_scaled(x, y, n, shift, scale)
        case .generic: expScaledReference(x, y, n, shift: shift, scale: scale)
        }
    }

    /// ``expScaled(_:_:_:shift:scale:kernels:)`` in Swift (the fallback, and the reference in tests).
    @inline(__always)
    public static func expScaledReference(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, shift: Float, scale: Float) {
        for j in 0..<n { y[j] = exp(x[j] - shift) * scale }
    }
}
