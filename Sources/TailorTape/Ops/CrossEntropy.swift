import TailorTensor

/// The loss of a batch, with the sums needed to combine micro-batches.
public struct LossOutput {
    /// `lossSum / normalizer`, a scalar `[1]` on the tape.
    public let loss: Variable
    /// Σ −log p(label) over the valid rows.
    public let lossSum: Double
    /// The number of rows whose label is not ignored.
    public let tokens: Int
}

extension Tape {
    /// Cross-entropy of `hidden·Wᵀ` against `labels`, fused with the output projection.
    ///
    /// hidden: `[rows, dim]`; weight: `[vocab, dim]`; labels: `[rows]` (−100 = ignored).
    /// The loss is the sum over valid rows divided by `normalizer` (default: their count, the
    /// mean over every valid token of the batch). Gradients with respect to hidden and (when it
    /// requires one) W are computed chunk by chunk in the forward — logits never exist whole —
    /// and scaled by the incoming gradient in the backward.
    /// A frozen head that is not a ``Parameter`` (a quantized matrix) is multiplied tile by tile
    /// through its ``LinearWeight`` products and gets no gradient.
    public func crossEntropy(_ hidden: Variable, weight head: any LinearWeight, labels: [Int32], normalizer: Float? = nil) -> LossOutput {
        guard let weight = head.parameter else { return tiledCrossEntropy(hidden, weight: head, labels: labels, normalizer: normalizer) }
        let rows = hidden.shape[0], dim = hidden.shape[1], vocab = weight.value.shape[0]
        precondition(labels.count == rows && weight.value.shape[1] == dim, "crossEntropy: hidden \(hidden.shape), weight \(weight.value.shape), \(labels.count) labels")
        precondition(labels.allSatisfy { $0 == CrossEntropy.ignoreIndex || ($0 >= 0 && Int($0) < vocab) }, "crossEntropy: label outside 0..<\(vocab)")
        let count = labels.filter { $0 != CrossEntropy.ignoreIndex }.count
        let norm = normalizer ?? Float(max(count, 1))
        let needs = needsGradient([hidden], parameters: [weight])
        let dW: Tensor? = needs && weight.requiresGrad ? Tensor(zeros: weight.value.shape) : nil  // [vocab, dim]
        let result = labels.withUnsafeBufferPointer {
            CrossEntropy.linearForward(hidden: hidden.value.pointer, weight: weight.value.pointer, labels: $0,
                                       rows: rows, dim: dim, vocab: vocab, normalizer: norm,
                                       wantInputGradient: needs && hidden.requiresGrad, weightGradient: dW?.pointer)
        }
        let value = Tensor(shape: [1], values: [Float(result.lossSum / Double(norm))])
        let dHidden = result.inputGradient  // [rows, dim], per unit of loss gradient
        let hiddenSlot = hidden.slot  // the backward does not need hidden's value
        let loss = record(value, needsGradient: needs) { g, tape in
            let scale = g[0]
            if let dHidden, let dx = tape.gradientBuffer(of: hiddenSlot) {
                Elementwise.accumulate(dHidden.pointer, into: dx.pointer, count: dx.count, scale: scale)
            }
            if let dW { Elementwise.accumulate(dW.pointer, into: weight.gradientBuffer().pointer, count: dW.count, scale: scale) }
        }
        return LossOutput(loss: loss, lossSum: result.lossSum, tokens: result.count)
    }

    /// Full logits `[rows, vocab]` = hidden·Wᵀ (no gradient; for scoring and generation).
    public func logits(_ hidden: Variable, weight: any LinearWeight) -> Tensor {
        let rows = hidden.shape[0], vocab = weight.outFeatures
        precondition(hidden.shape[1] == weight.inFeatures, "logits: hidden \(hidden.shape), weight [\(vocab), \(weight.inFeatures)]")
        let out = Tensor(uninitialized: [rows, vocab])
        weight.multiply(hidden.value.pointer, rows: rows, into: out.pointer)
        return out
    }
}
