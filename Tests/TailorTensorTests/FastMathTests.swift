import Foundation
import Testing
import TailorTensor

@Suite struct FastMathTests {
    /// The vectorised exp against the scalar reference `expf`, within 2 ulp over the whole range.
    @Test func expMatchesExpfWithinTwoUlp() {
        var worst: Float = 0
        var x: Float = -87
        while x < 88.5 {
            let v = FastMath.Vector((0..<8).map { x + Float($0) * 1e-3 })
            let y = FastMath.exp(v)
            for i in 0..<8 {
                let ref = expf(v[i])
                worst = max(worst, abs(y[i] - ref) / ref.ulp)
            }
            x += 0.0137
        }
        #expect(worst <= 2, "worst error \(worst) ulp")
        #expect(FastMath.exp(-Float.infinity) == 0)
        #expect(FastMath.exp(-100) == 0)
        #expect(FastMath.exp(100) == .infinity)
        #expect(FastMath.exp(0) == 1)
    }

    /// The row helpers agree with scalar loops, tails included.
    @Test(arguments: [1, 7, 8, 9, 31, 100])
    func rowHelpersMatchScalarLoops(n: Int) {
        let x = (0..<n).map { Float(($0 * 37) % 23) * 0.7 - 6 }
        x.withUnsafeBufferPointer { xp in
            let m = FastMath.max(xp.baseAddress!, n)
            #expect(m == x.max()!)
            let ref = x.map { expf($0 - m) }
            let sum = FastMath.expSum(xp.baseAddress!, n, shift: m)
            #expect(abs(sum - ref.reduce(0, +)) <= 1e-6 * Float(n))
            var y = [Float](repeating: 0, count: n)
            y.withUnsafeMutableBufferPointer { yp in
                FastMath.expScaled(xp.baseAddress!, yp.baseAddress!, n, shift: m, scale: 0.5)
            }
            for i in 0..<n { #expect(abs(y[i] - ref[i] * 0.5) <= 2 * (ref[i] * 0.5).ulp) }
        }
    }
}
