import Foundation
import TailorTape
import TailorTensor

/// Adafactor (Shazeer & Stern) as `torch.optim.Adafactor` in torch 2.15: factored second
/// moments for parameters with two or more dimensions, no first moment, update clipping, and
/// a step scaled by the parameter's RMS.
///
/// For each parameter θ (shape `[…, R, C]` or a vector) with gradient g, at its step t:
/// ```
/// β̂ = t^τ                                     (τ = beta2Decay, default −0.8; so β̂ = 1 at t = 1)
/// ρ = min(lr, 1/√t)
/// α = max(ε₂, RMS(θ)) · ρ                      (RMS before weight decay)
/// θ ← θ · (1 − lr·λ)                           (when λ ≠ 0)
/// matrices:  r ← lerp(r, mean_c(g²), β̂)        row factor  [… , R, 1]
///            c ← lerp(c, mean_r(g²), β̂)        col factor  [… , 1, C]
///            V = r·c / max(mean_r(r), ε₁)      (outer product per leading index)
/// vectors:   V ← lerp(V, g², β̂)
/// u = g / √max(V, ε₁²)
/// θ ← θ − α / max(1, RMS(u)/d) · u
/// ```
/// `lerp(a, b, w) = a + w·(b − a)`; `ε₁` defaults to fp32 machine epsilon (torch's `eps=(None, …)`).
/// The relative step is always off: `lr` is used as given (through ρ). State per parameter:
/// `row_var` and `col_var` (matrices) or `variance` (vectors and scalars), and its step count.
///
/// ```swift
/// let optimizer = Adafactor()
/// optimizer.step(parameters, lr: 1e-2)
/// ```
public final class Adafactor: Optimizer {
    /// τ, the exponent of the second-moment decay schedule (≤ 0).
    public let beta2Decay: Double
    /// ε₁, the floor on the variance estimate's normaliser (nil: fp32 machine epsilon).
    public let eps1: Double?
    /// ε₂, the floor on a parameter's RMS in the step size.
    public let eps2: Double
    /// d, the update clipping threshold (≥ 1).
    public let d: Double
    /// λ, the decoupled weight decay.
    public let weightDecay: Double
    let store = SlotStore()

    /// An optimizer with these hyperparameters and no state yet.
    ///
    /// - Parameters:
    ///   - beta2Decay: τ (default −0.8).
    ///   - eps1: ε₁ (default nil: `Float.ulpOfOne`, as torch's `torch.finfo(float32).eps`).
    ///   - eps2: ε₂ (default 1e-3).
    ///   - d: the clipping threshold (default 1).
    ///   - weightDecay: λ (default 0).
    public init(beta2Decay: Double = -0.8, eps1: Double? = nil, eps2: Double = 1e-3, d: Double = 1, weightDecay: Double = 0) {
        precondition(beta2Decay <= 0 && (eps1 ?? 0) >= 0 && eps2 >= 0 && d >= 1 && weightDecay >= 0,
                     "Adafactor: invalid beta2Decay \(beta2Decay), eps (\(String(describing: eps1)), \(eps2)), d \(d) or weight decay \(weightDecay)")
        self.beta2Decay = beta2Decay; self.eps1 = eps1; self.eps2 = eps2; self.d = d; self.weightDecay = weightDecay
    }

    /// `"adafactor"`.
    public var kind: String { "adafactor" }

    /// One Adafactor update of every parameter that requires and has a gradient (formula above).
    public func step(_ parameters: [Parameter], lr: Float) {
        for (p, g) in SlotStore.trainable(parameters, kind) { update(p, g, lr: Double(lr)) }
    }

    private func update(_ p: Parameter, _ g: Tensor, lr: Double) {
        let shape = p.value.shape, n = p.value.count
        let t = Double(store.advance(p.name))
        let eps1 = self.eps1 ?? Double(Float.ulpOfOne)
        let beta = Float(pow(t, beta2Decay))                         // β̂ = t^τ
        let rho = min(lr, 1 / t.squareRoot())                        // ρ = min(lr, 1/√t)
        let theta = p.value.pointer, grad = g.pointer
        let rmsTheta = Double(Float(sumOfSquares(theta, n).squareRoot())) / Double(n).squareRoot()
        let alpha = max(eps2, rmsTheta) * rho                        // α = max(ε₂, RMS(θ))·ρ
        if weightDecay != 0 {                                        // θ ← θ·(1 − lr·λ)
            let decay = Float(1 - lr * weightDecay)
            forEachChunk(n) { range in for i in range { theta[i] = theta[i] * decay } }
        }
        let u = Tensor(uninitialized: shape)                         // the update, θ's shape
        let up = u.pointer
        let floor2 = Float(eps1 * eps1)
        if shape.count >= 2 {
            let rows = shape[shape.count - 2], cols = shape[shape.count - 1], batch = n / max(1, rows * cols)
            var rowShape = shape; rowShape[shape.count - 1] = 1
            var colShape = shape; colShape[shape.count - 2] = 1
            let r = store.slot("row_var", of: p.name) { Tensor(zeros: rowShape) }.pointer   // [batch, R]
            let c = store.slot("col_var", of: p.name) { Tensor(zeros: colShape) }.pointer   // [batch, C]
            let colSums = UnsafeMutablePointer<Double>.allocate(capacity: max(1, cols))
            defer { colSums.deallocate() }
            for b in 0..<batch {
                let gb = grad + b * rows * cols, rb = r + b * rows, cb = c + b * cols, ub = up + b * rows * cols
                colSums.update(repeating: 0, count: cols)
                for i in 0..<rows {
                    var s: Double = 0
                    for j in 0..<cols {
                        let x = Double(gb[i * cols + j]); s += x * x; colSums[j] += x * x
                    }
                    rb[i] = lerp(rb[i], Float(s / Double(cols)), beta)          // r ← lerp(r, mean_c g², β̂)
                }
                for j in 0..<cols { cb[j] = lerp(cb[j], Float(colSums[j] / Double(rows)), beta) }  // c ← lerp(c, mean_r g², β̂)
                var rSum: Float = 0
                for i in 0..<rows { rSum += rb[i] }
                let rMean = max(rSum / Float(rows), Float(eps1))                // max(mean_r(r), ε₁)
                for i in 0..<rows {
                    for j in 0..<cols {
                        let vHat = rb[i] * cb[j] / rMean                        // V = r·c / mean(r)
                        ub[i * cols + j] = gb[i * cols + j] * (1 / max(vHat, floor2).squareRoot())
                    }
                }
            }
        } else {
            let v = store.slot("variance", of: p.name) { Tensor(zeros: shape) }.pointer
            forEachChunk(n) { range in
                for i in range {
                    v[i] = lerp(v[i], grad[i] * grad[i], beta)                  // V ← lerp(V, g², β̂)
                    up[i] = grad[i] * (1 / max(v[i], floor2).squareRoot())      // u = g / √max(V, ε₁²)
                }
            }
        }
        let rmsU = Double(Float(sumOfSquares(up, n).squareRoot())) / (Double(n).squareRoot() * d)
        let scale = Float(-alpha / max(1, rmsU))                               // −α / max(1, RMS(u)/d)
        forEachChunk(n) { range in for i in range { theta[i] = theta[i] + scale * up[i] } }
    }

    /// A copy of every parameter's factors (or variance) and step count.
    public func state() -> OptimizerState { store.export(kind: kind) }

    /// Restores a state saved by ``state()`` (see ``Optimizer/loadState(_:parameters:)``).
    public func loadState(_ state: OptimizerState, parameters: [Parameter]) throws {
        try store.load(state, kind: kind, parameters: parameters) { p in
            let s = p.value.shape
            guard s.count >= 2 else { return [("variance", s)] }
            var row = s; row[s.count - 1] = 1
            var col = s; col[s.count - 2] = 1
            return [("row_var", row), ("col_var", col)]
        }
    }

    /// Forgets all factors and step counts.
    public func reset() { store.reset() }
}
