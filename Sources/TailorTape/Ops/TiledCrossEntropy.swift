import Foundation
import TailorTensor

/// Cross-entropy with a frozen output head that is only reachable through its products
/// (``LinearWeight/multiply(_:rows:into:)`` and ``LinearWeight/accumulateInputGradient(_:rows:into:)``),
/// e.g. a quantized head multiplied tile by tile. Same math and chunking as
/// ``CrossEntropy/linearForward(hidden:weight:labels:rows:dim:vocab:normalizer:wantInputGradient:weightGradient:)``;
/// the head gets no gradient.
enum TiledCrossEntropy {
    /// Rows of logits per chunk: every chunk dequantizes the whole head once (twice with the input
    /// gradient), so chunks are larger than the dense path's; scratch is `chunkRows × vocab` floats.
    static let chunkRows = 512

    static func forward(hidden: UnsafePointer<Float>, weight: any LinearWeight, labels: UnsafeBufferPointer<Int32>,
                        rows: Int, normalizer: Float, wantInputGradient: Bool) -> (lossSum: Double, count: Int, inputGradient: Tensor?) {
        let dim = weight.inFeatures, vocab = weight.outFeatures
        let valid = (0..<rows).filter { labels[$0] != CrossEntropy.ignoreIndex }
        let dHidden = wantInputGradient ? Tensor(zeros: [rows, dim]) : nil
        let chunk = min(chunkRows, max(valid.count, 1))
        let x = UnsafeMutablePointer<Float>.allocate(capacity: chunk * dim)       // [chunk, dim]
        let logits = UnsafeMutablePointer<Float>.allocate(capacity: chunk * vocab) // [chunk, vocab]
        let dx = UnsafeMutablePointer<Float>.allocate(capacity: chunk * dim)      // [chunk, dim]
        defer { x.deallocate(); logits.deallocate(); dx.deallocate() }
        var lossSum: Double = 0
        var start = 0
        while start < valid.count {
            let rowsHere = valid[start..<min(valid.count, start + chunk)]
            let n = rowsHere.count
            for (i, r) in rowsHere.enumerated() { (x + i * dim).update(from: hidden + r * dim, count: dim) }
            weight.multiply(x, rows: n, into: logits)
            var losses = [Double](repeating: 0, count: n)
            let labelsHere = rowsHere.map { Int(labels[$0]) }
            losses.withUnsafeMutableBufferPointer { lossBuffer in
                Parallel.forEachChunk(n, minChunk: 8) { range in
                    for i in range {
                        let row = logits + i * vocab
                        let lse = CrossEntropy.logSumExp(row, vocab)
                        lossBuffer[i] = Double(lse - row[labelsHere[i]])
                        if wantInputGradient {  // row ← (softmax − onehot) / normalizer
                            let inv = 1 / normalizer
                            for j in 0..<vocab { row[j] = expf(row[j] - lse) * inv }
                            row[labelsHere[i]] -= inv
                        }
                    }
                }
            }
            lossSum += losses.reduce(0, +)
            if let dHidden {
                dx.update(repeating: 0, count: n * dim)
                weight.accumulateInputGradient(logits, rows: n, into: dx)
                for (i, r) in rowsHere.enumerated() { (dHidden.pointer + r * dim).update(from: dx + i * dim, count: dim) }
            }
            start += n
        }
        return (lossSum, valid.count, dHidden)
    }
}

extension Tape {
    /// ``crossEntropy(_:weight:labels:normalizer:)`` for a frozen head without a dense parameter.
    func tiledCrossEntropy(_ hidden: Variable, weight: any LinearWeight, labels: [Int32], normalizer: Float?) -> LossOutput {
        let rows = hidden.shape[0], vocab = weight.outFeatures
        precondition(labels.count == rows && weight.inFeatures == hidden.shape[1], "crossEntropy: hidden \(hidden.shape), weight [\(vocab), \(weight.inFeatures)], \(labels.count) labels")
        precondition(labels.allSatisfy { $0 == CrossEntropy.ignoreIndex || ($0 >= 0 && Int($0) < vocab) }, "crossEntropy: label outside 0..<\(vocab)")
        let count = labels.filter { $0 != CrossEntropy.ignoreIndex }.count
        let norm = normalizer ?? Float(max(count, 1))
        let needs = needsGradient([hidden], parameters: [])
        let result = labels.withUnsafeBufferPointer {
            TiledCrossEntropy.forward(hidden: hidden.value.pointer, weight: weight, labels: $0, rows: rows, normalizer: norm,
                                      wantInputGradient: needs && hidden.requiresGrad)
        }
        let value = Tensor(shape: [1], values: [Float(result.lossSum / Double(norm))])
        let dHidden = result.inputGradient
        let loss = record(value, needsGradient: needs) { g, tape in
            if let dHidden, let dx = tape.gradientBuffer(of: hidden) {
                Elementwise.accumulate(dHidden.pointer, into: dx.pointer, count: dx.count, scale: g[0])
            }
        }
        return LossOutput(loss: loss, lossSum: result.lossSum, tokens: result.count)
    }
}
