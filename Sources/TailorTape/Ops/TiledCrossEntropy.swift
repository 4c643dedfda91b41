import TailorTensor

extension Tape {
    /// ``crossEntropy(_:weight:labels:normalizer:)`` for a frozen head without a dense parameter
    /// (quantized or bf16): the same vocabulary-chunked online softmax, reaching the head through
    /// its ``LinearWeight`` slice products and its rows; the head gets no gradient.
    func tiledCrossEntropy(_ hidden: Variable, weight: any LinearWeight, labels: [Int32], normalizer: Float?) -> LossOutput {
        let rows = hidden.shape[0], vocab = weight.outFeatures, dim = weight.inFeatures
        precondition(labels.count == rows && dim == hidden.shape[1], "crossEntropy: hidden \(hidden.shape), weight [\(vocab), \(dim)], \(labels.count) labels")
        precondition(labels.allSatisfy { $0 == CrossEntropy.ignoreIndex || ($0 >= 0 && Int($0) < vocab) }, "crossEntropy: label outside 0..<\(vocab)")
        guard let rowsOfW = weight as? any RowReadableWeight else { preconditionFailure("crossEntropy \(weight.name): a frozen head must be row-readable") }
        let count = labels.filter { $0 != CrossEntropy.ignoreIndex }.count
        let norm = normalizer ?? Float(max(count, 1))
        let needs = needsGradient([hidden], parameters: [])
        let result = labels.withUnsafeBufferPointer {
            CrossEntropy.vocabChunked(
                hidden: hidden.value.pointer, labels: $0, rows: rows, dim: dim, vocab: vocab, normalizer: norm,
                wantInputGradient: needs && hidden.requiresGrad,
                logits: { x, n, slice, out in weight.multiply(x, rows: n, outputs: slice, into: out, ldy: slice.count) },
                accumulate: { p, n, slice, acc in weight.accumulateInputGradient(p, rows: n, outputs: slice, ldDy: slice.count, into: acc) },
                row: { i, out in rowsOfW.dequantizeRows(i..<(i + 1), into: out) })
        }
        let value = Tensor(shape: [1], values: [Float(result.lossSum / Double(norm))])
        let dHidden = result.inputGradient
        let hiddenSlot = hidden.slot  // the backward does not need hidden's value
        let loss = record(value, needsGradient: needs) { g, tape in
            if let dHidden, let dx = tape.gradientBuffer(of: hiddenSlot) {
                Elementwise.accumulate(dHidden.pointer, into: dx.pointer, count: dx.count, scale: g[0])
            }
        }
        return LossOutput(loss: loss, lossSum: result.lossSum, tokens: result.count)
    }
}
