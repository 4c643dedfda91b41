import TailorTape
import TailorTensor

/// Scales all gradients so their global L2 norm is at most `maxNorm`, like
/// `torch.nn.utils.clip_grad_norm_` (norm type 2), and returns the norm before clipping.
///
/// ```
/// total = √(Σ over every parameter with a gradient of Σ g²)      accumulated in Double
/// s     = maxNorm / (total + 1e-6)                               in Float, as torch
/// g ← g · s   for every gradient, only when s < 1
/// ```
/// Like torch, every parameter whose ``Parameter/grad`` is non-nil counts, whether or not it
/// requires a gradient. torch multiplies by `min(s, 1)` unconditionally; multiplying by 1 changes
/// nothing, so skipping it is identical. A NaN norm gives NaN gradients and an infinite one zeros,
/// as in torch: check the returned norm to skip a bad step.
///
/// ```swift
/// let norm = clipGradientNorm(parameters, maxNorm: 1.0)   // log it; infinite or NaN means a bad batch
/// ```
/// - Parameters:
///   - parameters: the parameters whose gradients are clipped in place.
///   - maxNorm: the largest allowed global norm.
/// - Returns: the global norm before clipping (0 when no parameter has a gradient).
@discardableResult
public func clipGradientNorm(_ parameters: [Parameter], maxNorm: Float) -> Float {
    let grads = parameters.compactMap(\.grad)
    let total = Float(gradientNorm(parameters))
    let scale = maxNorm / (total + Float(1e-6))
    if !(scale >= 1) {  // NaN scales too, as torch's clamp(NaN, max: 1) = NaN
        for g in grads {
            let x = g.pointer
            forEachChunk(g.count) { range in for i in range { x[i] = x[i] * scale } }
        }
    }
    return total
}

/// The global L2 norm of all non-nil gradients, `√(Σ g²)` accumulated in `Double`.
///
/// - Parameter parameters: the parameters whose gradients are measured (nil gradients are skipped).
/// - Returns: the norm, independent of the thread count.
public func gradientNorm(_ parameters: [Parameter]) -> Double {
    var sum: Double = 0
    for p in parameters { if let g = p.grad { sum += sumOfSquares(g.pointer, g.count) } }
    return sum.squareRoot()
}
