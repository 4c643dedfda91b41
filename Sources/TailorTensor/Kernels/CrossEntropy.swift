import Foundation

/// Cross-entropy over a vocabulary, fused with the output projection so that full
/// `[tokens, vocab]` logits never exist at once: rows are processed in chunks, and rows whose
/// label is ignored are skipped entirely.
public enum CrossEntropy {
    /// Labels equal to this value are ignored (PyTorch's `ignore_index`).
    public static let ignoreIndex: Int32 = -100

    /// Rows of logits per chunk: bounds the scratch to `chunkRows × vocab` floats.
    public static let chunkRows = 128

    /// The result of ``linearForward(hidden:weight:labels:rows:dim:vocab:normalizer:wantInputGradient:weightGradient:)``.
    public struct Result {
        /// Σ over valid rows of −log p(label), in double precision.
        public var lossSum: Double
        /// The number of rows whose label is not ignored.
        public var count: Int
        /// ∂(lossSum/normalizer)/∂hidden `[rows, dim]`, if asked for.
        public var inputGradient: Tensor?
    }

    /// Computes `loss = Σ_valid −log softmax(hidden·Wᵀ)[label]` and, when asked, the gradients of
    /// `loss / normalizer` with respect to hidden (returned) and W (accumulated into `weightGradient`).
    ///
    /// hidden: `[rows, dim]`; weight: `[vocab, dim]`; labels: `[rows]`.
    public static func linearForward(
        hidden: UnsafePointer<Float>, weight: UnsafePointer<Float>, labels: UnsafeBufferPointer<Int32>,
        rows: Int, dim: Int, vocab: Int, normalizer: Float,
        wantInputGradient: Bool, weightGradient: UnsafeMutablePointer<Float>?
    ) -> Result {
        let valid = (0..<rows).filter { labels[$0] != ignoreIndex }
        let wantGrad = wantInputGradient || weightGradient != nil
        let dHidden = wantInputGradient ? Tensor(zeros: [rows, dim]) : nil
        let chunk = min(chunkRows, max(valid.count, 1))
        let x = UnsafeMutablePointer<Float>.allocate(capacity: chunk * dim)      // [chunk, dim]
        let logits = UnsafeMutablePointer<Float>.allocate(capacity: chunk * vocab) // [chunk, vocab]
        let dx = UnsafeMutablePointer<Float>.allocate(capacity: chunk * dim)     // [chunk, dim]
        defer { x.deallocate(); logits.deallocate(); dx.deallocate() }
        var lossSum: Double = 0
        var start = 0
        while start < valid.count {
            let rowsHere = valid[start..<min(valid.count, start + chunk)]
            let n = rowsHere.count
            for (i, r) in rowsHere.enumerated() { (x + i * dim).update(from: hidden + r * dim, count: dim) }
            BLAS.gemm(transB: true, m: n, n: vocab, k: dim, a: x, lda: dim, b: weight, ldb: dim, c: logits, ldc: vocab)
            var losses = [Double](repeating: 0, count: n)
            let labelsHere = rowsHere.map { Int(labels[$0]) }
            losses.withUnsafeMutableBufferPointer { lossBuffer in
                Parallel.forEachChunk(n, minChunk: 8) { range in
                    for i in range {
                        let row = logits + i * vocab
                        let lse = logSumExp(row, vocab)
                        lossBuffer[i] = Double(lse - row[labelsHere[i]])
                        if wantGrad {  // row ← (softmax − onehot) / normalizer
                            let inv = 1 / normalizer
                            FastMath.expScaled(row, row, vocab, shift: lse, scale: inv)
                            row[labelsHere[i]] -= inv
                        }
                    }
                }
            }
            lossSum += losses.reduce(0, +)
            if let dHidden {
                BLAS.gemm(m: n, n: dim, k: vocab, a: logits, lda: vocab, b: weight, ldb: dim, c: dx, ldc: dim)
                for (i, r) in rowsHere.enumerated() { (dHidden.pointer + r * dim).update(from: dx + i * dim, count: dim) }
            }
            if let weightGradient {  // dW[vocab, dim] += dLogitsᵀ · x
                BLAS.gemm(transA: true, m: vocab, n: dim, k: n, a: logits, lda: vocab, b: x, ldb: dim,
                          beta: 1, c: weightGradient, ldc: dim)
            }
            start += n
        }
        return Result(lossSum: lossSum, count: valid.count, inputGradient: dHidden)
    }

    /// log Σ_j exp(row[j]), stable.
    @inline(__always)
    public static func logSumExp(_ row: UnsafePointer<Float>, _ n: Int) -> Float {
        let m = FastMath.max(row, n)
        return m + logf(FastMath.expSum(row, n, shift: m))
    }

    /// log p(label) for each row of logits `[rows, vocab]` (ignored labels give 0).
    public static func logProbabilities(logits: UnsafePointer<Float>, labels: [Int32], vocab: Int) -> [Float] {
        labels.enumerated().map { i, label in
            label == ignoreIndex ? 0 : logits[i * vocab + Int(label)] - logSumExp(logits + i * vocab, vocab)
        }
    }
}
