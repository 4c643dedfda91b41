import Testing
import TailorTape
import TailorTensor

/// Checks a tape computation's gradients by central finite differences with a random cotangent:
/// the objective is Σ y·c for a seeded random c of y's shape (never a plain sum, which hides
/// errors that cancel). Every element of every input and parameter is perturbed.
///
/// - Parameters:
///   - inputs: leaf tensors differentiated as inputs (perturbed in place, then restored).
///   - parameters: parameters that require gradients.
///   - build: the computation; called once on a recording tape and twice per element on
///     non-recording tapes.
public func checkGradients(
    inputs: [Tensor], parameters: [Parameter] = [], eps: Float = 1e-2, atol: Float = 1e-3, rtol: Float = 1e-2,
    seed: UInt64 = 7, _ what: String, sourceLocation: SourceLocation = #_sourceLocation,
    build: (Tape, [Variable]) -> Variable
) {
    for p in parameters { p.zeroGradient() }
    let tape = Tape()
    let vars = inputs.map { tape.input($0, requiresGrad: true) }
    let y = build(tape, vars)
    var rng = TestRandom(seed: seed)
    let c = rng.tensor(y.shape)
    tape.backward(y, seed: c)
    func objective() -> Double {
        let t = Tape(recording: false)
        let out = build(t, inputs.map { t.constant($0) })
        var s: Double = 0
        for i in 0..<out.value.count { s += Double(out.value[i]) * Double(c[i]) }
        return s
    }
    func numeric(_ t: Tensor) -> [Float] {
        (0..<t.count).map { i in
            let old = t[i]
            t[i] = old + eps; let plus = objective()
            t[i] = old - eps; let minus = objective()
            t[i] = old
            return Float((plus - minus) / (2 * Double(eps)))
        }
    }
    for (k, x) in inputs.enumerated() {
        let analytic = tape.gradient(of: vars[k])?.array ?? [Float](repeating: 0, count: x.count)
        expectClose(analytic, numeric(x), atol: atol, rtol: rtol, "\(what): d input \(k)", sourceLocation: sourceLocation)
    }
    for p in parameters {
        let analytic = p.grad?.array ?? [Float](repeating: 0, count: p.value.count)
        expectClose(analytic, numeric(p.value), atol: atol, rtol: rtol, "\(what): d \(p.name)", sourceLocation: sourceLocation)
    }
}
