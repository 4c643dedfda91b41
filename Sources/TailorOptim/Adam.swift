import Foundation
import TailorTape
import TailorTensor

/// AdamW (Loshchilov & Hutter): Adam with decoupled weight decay, as `torch.optim.AdamW`.
///
/// For each parameter θ with gradient g, at its step t (1 on its first update):
/// ```
/// θ ← θ · (1 − lr·λ)                      decoupled weight decay, before the Adam update
/// m ← m + (1 − β₁)·(g − m)                (torch: exp_avg.lerp_(g, 1 − β₁))
/// v ← β₂·v + (1 − β₂)·g²
/// θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
/// ```
/// State per parameter: `exp_avg` (m), `exp_avg_sq` (v), both of the parameter's shape, and its step count.
///
/// ```swift
/// let optimizer = AdamW(weightDecay: 0.0)   // LoRA recipes often turn decay off
/// optimizer.step(parameters, lr: 2e-4)
/// ```
public final class AdamW: Optimizer {
    /// β₁, the first-moment decay.
    public let beta1: Double
    /// β₂, the second-moment decay.
    public let beta2: Double
    /// ε, added to the bias-corrected √v.
    public let eps: Double
    /// λ, the decoupled weight decay (torch's default 0.01).
    public let weightDecay: Double
    let store = SlotStore()

    /// An optimizer with these hyperparameters and no state yet.
    ///
    /// - Parameters:
    ///   - beta1: β₁ (default 0.9).
    ///   - beta2: β₂ (default 0.999).
    ///   - eps: ε (default 1e-8).
    ///   - weightDecay: λ (default 0.01, as `torch.optim.AdamW`).
    public init(beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8, weightDecay: Double = 0.01) {
        precondition((0..<1).contains(beta1) && (0..<1).contains(beta2) && eps >= 0 && weightDecay >= 0,
                     "AdamW: invalid betas (\(beta1), \(beta2)), eps \(eps) or weight decay \(weightDecay)")
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
    }

    /// `"adamw"`.
    public var kind: String { "adamw" }

    /// One AdamW update of every parameter that requires and has a gradient (formula above).
    public func step(_ parameters: [Parameter], lr: Float) {
        for (p, g) in SlotStore.trainable(parameters, kind) {
            adamUpdate(p, g, store, lr: Double(lr), beta1: beta1, beta2: beta2, eps: eps,
                       weightDecay: weightDecay, decoupled: true)
        }
    }

    /// A copy of every parameter's `exp_avg`, `exp_avg_sq` and step count.
    public func state() -> OptimizerState { store.export(kind: kind) }

    /// Restores a state saved by ``state()`` (see ``Optimizer/loadState(_:parameters:)``).
    public func loadState(_ state: OptimizerState, parameters: [Parameter]) throws {
        try store.load(state, kind: kind, parameters: parameters, expected: adamSlots)
    }

    /// Forgets all moments and step counts.
    public func reset() { store.reset() }
}

/// Adam (Kingma & Ba) with L2 weight decay added to the gradient, as `torch.optim.Adam`.
///
/// For each parameter θ with gradient g, at its step t (1 on its first update):
/// ```
/// g ← g + λ·θ                             L2 penalty, coupled to the moments (when λ ≠ 0)
/// m ← m + (1 − β₁)·(g − m)
/// v ← β₂·v + (1 − β₂)·g²
/// θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
/// ```
/// State per parameter: `exp_avg`, `exp_avg_sq` and its step count.
public final class Adam: Optimizer {
    /// β₁, the first-moment decay.
    public let beta1: Double
    /// β₂, the second-moment decay.
    public let beta2: Double
    /// ε, added to the bias-corrected √v.
    public let eps: Double
    /// λ, the L2 coefficient added to the gradient (torch's default 0).
    public let weightDecay: Double
    let store = SlotStore()

    /// An optimizer with these hyperparameters and no state yet.
    ///
    /// - Parameters:
    ///   - beta1: β₁ (default 0.9).
    ///   - beta2: β₂ (default 0.999).
    ///   - eps: ε (default 1e-8).
    ///   - weightDecay: λ (default 0, as `torch.optim.Adam`).
    public init(beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8, weightDecay: Double = 0) {
        precondition((0..<1).contains(beta1) && (0..<1).contains(beta2) && eps >= 0 && weightDecay >= 0,
                     "Adam: invalid betas (\(beta1), \(beta2)), eps \(eps) or weight decay \(weightDecay)")
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
    }

    /// `"adam"`.
    public var kind: String { "adam" }

    /// One Adam update of every parameter that requires and has a gradient (formula above).
    public func step(_ parameters: [Parameter], lr: Float) {
        for (p, g) in SlotStore.trainable(parameters, kind) {
            adamUpdate(p, g, store, lr: Double(lr), beta1: beta1, beta2: beta2, eps: eps,
                       weightDecay: weightDecay, decoupled: false)
        }
    }

    /// A copy of every parameter's `exp_avg`, `exp_avg_sq` and step count.
    public func state() -> OptimizerState { store.export(kind: kind) }

    /// Restores a state saved by ``state()`` (see ``Optimizer/loadState(_:parameters:)``).
    public func loadState(_ state: OptimizerState, parameters: [Parameter]) throws {
        try store.load(state, kind: kind, parameters: parameters, expected: adamSlots)
    }

    /// Forgets all moments and step counts.
    public func reset() { store.reset() }
}

func adamSlots(_ p: Parameter) -> [(slot: String, shape: [Int])] {
    [("exp_avg", p.value.shape), ("exp_avg_sq", p.value.shape)]
}

/// The shared Adam/AdamW update of one parameter, in torch's `_single_tensor_adam` order.
/// Scalars are computed in `Double` (Python floats) and rounded to `Float` where torch passes
/// them to an fp32 kernel.
func adamUpdate(_ p: Parameter, _ g: Tensor, _ store: SlotStore, lr: Double, beta1: Double, beta2: Double,
                eps: Double, weightDecay: Double, decoupled: Bool) {
    let n = p.value.count
    let m = store.slot("exp_avg", of: p.name) { Tensor(zeros: p.value.shape) }.pointer
    let v = store.slot("exp_avg_sq", of: p.name) { Tensor(zeros: p.value.shape) }.pointer
    let t = Double(store.advance(p.name))
    let theta = p.value.pointer, grad = g.pointer

    let decay = decoupled && weightDecay != 0 ? Float(1 - lr * weightDecay) : 1   // θ·(1 − lr·λ)
    let l2 = !decoupled && weightDecay != 0 ? Float(weightDecay) : 0              // g + λ·θ
    let w1 = Float(1 - beta1)                                                     // lerp weight
    let b2 = Float(beta2), c2 = Float(1 - beta2)
    let stepSize = lr / (1 - pow(beta1, t))                                       // lr / (1 − β₁ᵗ)
    let bc2Sqrt = Float((1 - pow(beta2, t)).squareRoot())                         // √(1 − β₂ᵗ)
    let negStep = Float(-stepSize), epsF = Float(eps)
    forEachChunk(n) { range in
        for i in range {
            var gi = grad[i]
            if decay != 1 { theta[i] = theta[i] * decay }
            if l2 != 0 { gi = gi + l2 * theta[i] }
            m[i] = lerp(m[i], gi, w1)
            v[i] = v[i] * b2 + c2 * gi * gi
            let denom = v[i].squareRoot() / bc2Sqrt + epsF
            theta[i] = theta[i] + negStep * m[i] / denom
        }
    }
}
