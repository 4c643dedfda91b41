import Foundation
import TailorTensor

/// `rope_freqs.weight`, llama.cpp's form of Llama 3.1 RoPE scaling: per frequency, the divisor of the
/// base frequency. llama.cpp's converter writes only this tensor, not the `rope_scaling` it came from;
/// Tailor recovers that from the divisors, so the model trains and exports with a `config.json` again.
extension GGUFModel {
    /// `rope_freqs.weight` for llama3 RoPE, as llama.cpp reads it (`conversion/llama.py`,
    /// `generate_extra_tensors`); nil for other RoPE kinds.
    public static func ropeFrequencyFactors(_ c: ModelConfiguration) -> [Float]? {
        guard case .llama3 = c.ropeScaling else { return nil }
        return ropeFrequencyFactors(headDim: c.headDim, theta: c.ropeTheta, scaling: c.ropeScaling)
    }

    /// Base over scaled inverse frequency `[headDim/2]`.
    static func ropeFrequencyFactors(headDim: Int, theta: Float, scaling: RoPEScaling) -> [Float] {
        let base = RoPE.inverseFrequencies(headDim: headDim, theta: theta, scaling: .none)
        let scaled = RoPE.inverseFrequencies(headDim: headDim, theta: theta, scaling: scaling)
        return zip(base, scaled).map { $0 / $1 }
    }

    /// Whether two factor lists agree, up to the rounding of two fp32 computations of the same formula.
    static func factorsAgree(_ a: [Float], _ b: [Float]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) }
    }

    /// The llama3 scaling whose divisors are `factors`, or nil when there is none.
    ///
    /// A divisor is 1 for high frequencies, `factor` for low ones, and `1 / ((1 − s)/factor + s)` between,
    /// where `s = (L/λ − low)/(high − low)` for wavelength λ and original context L. The divisors fix
    /// only `L/(high − low)` and `low/(high − low)`, so `low` is taken as 1 (every Llama 3.x release's);
    /// two or more in-between divisors then give L and `high` by least squares, one gives L with
    /// `high` = 4 (again every release's), and L = 8192, `high` = 4 is tried last. Each candidate, rounded
    /// (L to an integer, `high` to 1e-3) and not, is kept only if it reproduces every divisor.
    public static func llama3Scaling(factors: [Float], headDim: Int, theta: Float) -> RoPEScaling? {
        let base = RoPE.inverseFrequencies(headDim: headDim, theta: theta, scaling: .none)
        guard factors.count == base.count, factors.allSatisfy({ $0.isFinite && $0 >= 1 - 1e-6 }),
              let factor = factors.max(), factor > 1 else { return nil }
        // (1/λ, s) for each in-between divisor.
        let between = zip(base, factors).compactMap { f, d -> (Double, Double)? in
            guard d > 1 + 1e-6, d < factor * (1 - 1e-6) else { return nil }
            let inverse = 1 / Double(d), lowest = 1 / Double(factor)
            return (Double(f) / (2 * .pi), (inverse - lowest) / (1 - lowest))
        }
        var candidates: [(context: Double, high: Double)] = []
        if between.count >= 2 {
            // s = a·(1/λ) − b with a = L/(high − 1), b = 1/(high − 1).
            let n = Double(between.count), mx = between.map(\.0).reduce(0, +) / n, ms = between.map(\.1).reduce(0, +) / n
            let sxx = between.map { ($0.0 - mx) * ($0.0 - mx) }.reduce(0, +), sxs = between.map { ($0.0 - mx) * ($0.1 - ms) }.reduce(0, +)
            if sxx > 0 {
                let a = sxs / sxx, b = a * mx - ms
                if b > 0, a > 0 { candidates.append((a / b, 1 + 1 / b)) }
            }
        }
        candidates += between.map { inverseWavelength, s in ((1 + 3 * s) / inverseWavelength, 4) }
        candidates.append((8192, 4))
        for c in candidates where c.context.isFinite && c.high > 1 {
            for (context, high) in [(c.context.rounded(), (c.high * 1000).rounded() / 1000), c] {
                let scaling = RoPEScaling.llama3(factor: factor, lowFrequencyFactor: 1, highFrequencyFactor: Float(high), originalContext: Float(context))
                if factorsAgree(ropeFrequencyFactors(headDim: headDim, theta: theta, scaling: scaling), factors) { return scaling }
            }
        }
        return nil
    }
}
