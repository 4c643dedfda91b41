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

    /// The vector exps (AVX-512 `exp16` and AVX2 `exp8`, behind `FastMath.expScaled`) within 2 ulp
    /// of `expf` over the whole range, and at the edges: 0 below −87.34 and for −∞, ∞ above 88.8
    /// and for ∞, NaN kept.
    @Test(arguments: FastMath.vectorLevels)
    func vectorExpMatchesExpfAndEdges(kernels: FastMath.KernelLevel) throws {
        var x: [Float] = []
        var v: Float = -87.3
        while v < 88.7 { x.append(v); v += 0.00731 }
        let edges: [Float] = [-.infinity, -1000, -87.5, 88.8, 100, .infinity, .nan]
        x += edges
        var y = [Float](repeating: 0, count: x.count)
        y.withUnsafeMutableBufferPointer { FastMath.expScaled(x, $0.baseAddress!, x.count, shift: 0, scale: 1, kernels: kernels) }
        var worst: Float = 0
        for i in 0..<(x.count - edges.count) { worst = max(worst, abs(y[i] - expf(x[i])) / expf(x[i]).ulp) }
        #expect(worst <= 2, "worst error \(worst) ulp")
        #expect(Array(y.suffix(edges.count).dropLast()) == [0, 0, 0, .infinity, .infinity, .infinity])
        #expect(y.last!.isNaN)
    }

    /// The row helpers agree with scalar loops, tails included.
    @Test(arguments: [1, 7, 8, 9, 31, 100, 16 * 40 + 3])
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
            // Each vector level of the dispatching helpers against the Swift loops: 1 ulp apart at most.
            for kernels in FastMath.vectorLevels {
                var fast = [Float](repeating: 0, count: n), slow = fast
                let fs = fast.withUnsafeMutableBufferPointer { FastMath.expShifted(xp.baseAddress!, $0.baseAddress!, n, shift: m, kernels: kernels) }
                let ss = slow.withUnsafeMutableBufferPointer { FastMath.expShiftedReference(xp.baseAddress!, $0.baseAddress!, n, shift: m) }
                #expect(abs(fs - ss) <= 1e-6 * ss, "sum (\(kernels))")
                for i in 0..<n { #expect(abs(fast[i] - slow[i]) <= slow[i].ulp, "e^x[\(i)] (\(kernels))") }
                fast.withUnsafeMutableBufferPointer { FastMath.expScaled(xp.baseAddress!, $0.baseAddress!, n, shift: m, scale: 3, kernels: kernels) }
                slow.withUnsafeMutableBufferPointer { FastMath.expScaledReference(xp.baseAddress!, $0.baseAddress!, n, shift: m, scale: 3) }
                for i in 0..<n { #expect(abs(fast[i] - slow[i]) <= slow[i].ulp, "3·e^x[\(i)] (\(kernels))") }
            }
        }
    }
}

/// The AVX-512 and AVX2 SwiGLU kernels against the Swift loops (the reference), within
/// 1e-6·max(1, |x|), on values from deep saturation to zero and a length that leaves a masked tail.
@Suite struct SwiGLUKernelTests {
    @Test(arguments: FastMath.vectorLevels)
    func vectorKernelsMatchSwiftLoops(kernels: FastMath.KernelLevel) {
        let n = 16 * 37 + 5
        let gate = (0..<n).map { Float($0 - n / 2) * 0.11 }, up = (0..<n).map { Float(($0 * 7) % 13) * 0.3 - 1.8 }
        let dh = (0..<n).map { Float(($0 * 5) % 11) * 0.2 - 1 }
        var h = [Float](repeating: 0, count: n), dg = [Float](repeating: 0.5, count: n), du = [Float](repeating: -0.25, count: n)
        var hr = h, dgr = dg, dur = du
        SwiGLU.forward(gate: gate, up: up, h: &h, count: n, kernels: kernels)
        SwiGLU.backward(dh: dh, gate: gate, up: up, dGate: &dg, dUp: &du, count: n, kernels: kernels)
        SwiGLU.forwardReference(gate: gate, up: up, h: &hr, count: n)
        SwiGLU.backwardReference(dh: dh, gate: gate, up: up, dGate: &dgr, dUp: &dur, count: n)
        for (a, b, what) in [(h, hr, "h"), (dg, dgr, "dGate"), (du, dur, "dUp")] {
            for i in 0..<n { #expect(abs(a[i] - b[i]) <= 1e-6 * max(abs(b[i]), 1), "\(what)[\(i)] (\(kernels)): \(a[i]) vs \(b[i])") }
        }
        // Written, not accumulated, into one buffer at a time: its old contents (NaN) are never read,
        // and it holds what accumulating into zeros gives.
        for (gateWritten, upWritten) in [(true, false), (false, true)] {
            var dgw = [Float](repeating: gateWritten ? .nan : 0.5, count: n), duw = [Float](repeating: upWritten ? .nan : -0.25, count: n)
            var dgz = [Float](repeating: gateWritten ? 0 : 0.5, count: n), duz = [Float](repeating: upWritten ? 0 : -0.25, count: n)
            SwiGLU.backward(dh: dh, gate: gate, up: up, dGate: &dgw, dUp: &duw, count: n, accumulateGate: !gateWritten, accumulateUp: !upWritten,
                            kernels: kernels)
            SwiGLU.backwardReference(dh: dh, gate: gate, up: up, dGate: &dgz, dUp: &duz, count: n)
            for (a, b, what) in [(dgw, dgz, "dGate"), (duw, duz, "dUp")] {
                for i in 0..<n { #expect(abs(a[i] - b[i]) <= 1e-6 * max(abs(b[i]), 1), "written \(what)[\(i)]: \(a[i]) vs \(b[i])") }
            }
        }
    }
}
