import TailorTape
import TailorTensor

/// Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay,
/// as `torch.optim.SGD`.
///
/// For each parameter θ with gradient g:
/// ```
/// g ← g + λ·θ                                   (when λ ≠ 0)
/// b ← g                                         on the parameter's first step (momentum μ ≠ 0)
/// b ← μ·b + (1 − τ)·g                           afterwards (τ = dampening)
/// g ← g + μ·b  (Nesterov)   or   g ← b  (classic)
/// θ ← θ − lr·g
/// ```
/// State per parameter: `momentum_buffer` (when μ ≠ 0) and its step count (torch keeps no step
/// count for SGD; Tailor does, for uniform save/restore).
///
/// ```swift
/// let optimizer = SGD(momentum: 0.9, nesterov: true)
/// optimizer.step(parameters, lr: 0.01)
/// ```
public final class SGD: Optimizer {
    /// μ, the momentum factor (0: plain SGD, no buffer).
    public let momentum: Double
    /// τ, the dampening of the gradient added to the buffer.
    public let dampening: Double
    /// Whether the Nesterov form `g + μ·b` is used.
    public let nesterov: Bool
    /// λ, the L2 coefficient added to the gradient.
    public let weightDecay: Double
    let store = SlotStore()

    /// An optimizer with these hyperparameters and no state yet.
    ///
    /// - Parameters:
    ///   - momentum: μ (default 0).
    ///   - dampening: τ (default 0).
    ///   - nesterov: Nesterov momentum; needs μ > 0 and τ = 0, as in torch.
    ///   - weightDecay: λ (default 0).
    public init(momentum: Double = 0, dampening: Double = 0, nesterov: Bool = false, weightDecay: Double = 0) {
        precondition(momentum >= 0 && weightDecay >= 0, "SGD: invalid momentum \(momentum) or weight decay \(weightDecay)")
        precondition(!nesterov || (momentum > 0 && dampening == 0), "SGD: Nesterov momentum requires a momentum and zero dampening")
        self.momentum = momentum; self.dampening = dampening; self.nesterov = nesterov; self.weightDecay = weightDecay
    }

    /// `"sgd"`.
    public var kind: String { "sgd" }

    /// One SGD update of every parameter that requires and has a gradient (formula above).
    public func step(_ parameters: [Parameter], lr: Float) {
        let l2 = Float(weightDecay), mu = Float(momentum), keep = Float(1 - dampening)
        let negLR = Float(-Double(lr)), useMomentum = momentum != 0, nesterov = nesterov
        for (p, g) in SlotStore.trainable(parameters, kind) {
            let first = store.steps[p.name] == nil
            _ = store.advance(p.name)
            let buf = useMomentum ? store.slot("momentum_buffer", of: p.name) { Tensor(zeros: p.value.shape) }.pointer : nil
            let theta = p.value.pointer, grad = g.pointer
            forEachChunk(p.value.count) { range in
                for i in range {
                    var gi = grad[i]
                    if l2 != 0 { gi = gi + l2 * theta[i] }
                    if let buf {
                        buf[i] = first ? gi : buf[i] * mu + keep * gi
                        gi = nesterov ? gi + mu * buf[i] : buf[i]
                    }
                    theta[i] = theta[i] + negLR * gi
                }
            }
        }
    }

    /// A copy of every parameter's `momentum_buffer` (when μ ≠ 0) and step count.
    public func state() -> OptimizerState { store.export(kind: kind) }

    /// Restores a state saved by ``state()`` (see ``Optimizer/loadState(_:parameters:)``).
    public func loadState(_ state: OptimizerState, parameters: [Parameter]) throws {
        let useMomentum = momentum != 0
        try store.load(state, kind: kind, parameters: parameters) { p in
            useMomentum ? [("momentum_buffer", p.value.shape)] : []
        }
    }

    /// Forgets all momentum buffers and step counts.
    public func reset() { store.reset() }
}
