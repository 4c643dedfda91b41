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
    /// Without a weight gradient (LoRA: the head is frozen) this runs ``vocabChunked(hidden:weight:labels:rows:dim:vocab:normalizer:wantInputGradient:rowBlock:vocabChunk:)``;
    /// a trainable head needs the final softmax of every row at once, so it takes the row-chunked path.
    public static func linearForward(
        hidden: UnsafePointer<Float>, weight: UnsafePointer<Float>, labels: UnsafeBufferPointer<Int32>,
        rows: Int, dim: Int, vocab: Int, normalizer: Float,
        wantInputGradient: Bool, weightGradient: UnsafeMutablePointer<Float>?
    ) -> Result {
        if weightGradient == nil {
            return vocabChunked(hidden: hidden, weight: weight, labels: labels, rows: rows, dim: dim, vocab: vocab,
                                normalizer: normalizer, wantInputGradient: wantInputGradient)
        }
        return rowChunked(hidden: hidden, weight: weight, labels: labels, rows: rows, dim: dim, vocab: vocab, normalizer: normalizer,
                          wantInputGradient: wantInputGradient, weightGradient: weightGradient)
    }

    /// The frozen-head path on a dense fp32 head `weight [vocab, dim]`; see
    /// ``vocabChunked(hidden:labels:rows:dim:vocab:normalizer:wantInputGradient:rowBlock:vocabChunk:logits:accumulate:row:)``.
    public static func vocabChunked(
        hidden: UnsafePointer<Float>, weight: UnsafePointer<Float>, labels: UnsafeBufferPointer<Int32>,
        rows: Int, dim: Int, vocab: Int, normalizer: Float, wantInputGradient: Bool,
        rowBlock: Int = 1024, vocabChunk: Int = 4096
    ) -> Result {
        vocabChunked(
            hidden: hidden, labels: labels, rows: rows, dim: dim, vocab: vocab, normalizer: normalizer,
            wantInputGradient: wantInputGradient, rowBlock: rowBlock, vocabChunk: vocabChunk,
            logits: { x, n, slice, out in
                BLAS.gemm(transB: true, m: n, n: slice.count, k: dim, a: x, lda: dim, b: weight + slice.lowerBound * dim, ldb: dim,
                          c: out, ldc: slice.count)
            },
            accumulate: { p, n, slice, acc in
                BLAS.gemm(m: n, n: dim, k: slice.count, a: p, lda: slice.count, b: weight + slice.lowerBound * dim, ldb: dim,
                          beta: 1, c: acc, ldc: dim)
            },
            row: { index, out in out.update(from: weight + index * dim, count: dim) })
    }

    /// The frozen-head path: blocks of up to `rowBlock` rows against slices of `vocabChunk` vocabulary
    /// rows, with an online softmax (a running max and sum per row, as in flash attention).
    ///
    /// Every slice of W is read once per row block and both products have large, BLAS-friendly
    /// shapes (`[rows, chunk]·` and `·[chunk, dim]`), where the row-chunked path re-reads the whole
    /// head for every 128 rows. The input gradient is accumulated unnormalised,
    /// `acc = Σ_v e^(l_v − m)·W_v`, rescaled whenever the running max m moves, and finished as
    /// `(acc / s − W[label]) / normalizer` once the row's sum s is complete.
    ///
    /// The head is reached only through three closures, so a quantized or bf16 head works too:
    /// `logits(x, n, slice, out)` writes `out[n, slice.count] = x[n, dim]·W[slice]ᵀ`;
    /// `accumulate(p, n, slice, acc)` adds `p[n, slice.count]·W[slice]` to `acc[n, dim]`;
    /// `row(i, out)` writes `W[i]` as fp32 `[dim]`.
    public static func vocabChunked(
        hidden: UnsafePointer<Float>, labels: UnsafeBufferPointer<Int32>,
        rows: Int, dim: Int, vocab: Int, normalizer: Float, wantInputGradient: Bool,
        rowBlock: Int = 1024, vocabChunk: Int = 4096,
        logits product: (UnsafePointer<Float>, Int, Range<Int>, UnsafeMutablePointer<Float>) -> Void,
        accumulate: (UnsafePointer<Float>, Int, Range<Int>, UnsafeMutablePointer<Float>) -> Void,
        row weightRow: (Int, UnsafeMutablePointer<Float>) -> Void
    ) -> Result {
        let valid = (0..<rows).filter { labels[$0] != ignoreIndex }
        let dHidden = wantInputGradient ? Tensor(zeros: [rows, dim]) : nil  // [rows, dim]
        let block = min(rowBlock, max(valid.count, 1)), chunk = min(vocabChunk, vocab)
        let x = UnsafeMutablePointer<Float>.allocate(capacity: block * dim)       // [block, dim]
        let logits = UnsafeMutablePointer<Float>.allocate(capacity: block * chunk) // [block, chunk], then e^(l − m)
        let acc = UnsafeMutablePointer<Float>.allocate(capacity: block * dim)     // [block, dim] = Σ e^(l − m)·W
        let runMax = UnsafeMutablePointer<Float>.allocate(capacity: block)         // [block]
        let runSum = UnsafeMutablePointer<Float>.allocate(capacity: block)         // [block]
        let target = UnsafeMutablePointer<Float>.allocate(capacity: block)         // [block] = logit of the label
        let labelRow = UnsafeMutablePointer<Float>.allocate(capacity: dim)         // [dim] = W[label]
        defer { for p in [x, logits, acc, runMax, runSum, target, labelRow] { p.deallocate() } }
        var lossSum: Double = 0
        var start = 0
        while start < valid.count {
            let rowsHere = Array(valid[start..<min(valid.count, start + block)])
            let n = rowsHere.count
            for (i, r) in rowsHere.enumerated() { (x + i * dim).update(from: hidden + r * dim, count: dim) }
            runMax.update(repeating: -.infinity, count: n)
            runSum.update(repeating: 0, count: n)
            if wantInputGradient { acc.update(repeating: 0, count: n * dim) }
            var v0 = 0
            while v0 < vocab {
                let slice = v0..<min(vocab, v0 + chunk), width = slice.count
                product(x, n, slice, logits)
                Parallel.forEachChunk(n, minChunk: 8) { range in
                    for i in range {
                        let row = logits + i * width
                        let label = Int(labels[rowsHere[i]]) - v0
                        if (0..<width).contains(label) { target[i] = row[label] }
                        let m = Swift.max(runMax[i], FastMath.max(row, width))
                        let rescale = runMax[i] == -.infinity ? 0 : FastMath.exp(runMax[i] - m)
                        runSum[i] = runSum[i] * rescale + FastMath.expShifted(row, row, width, shift: m)
                        runMax[i] = m
                        if wantInputGradient, rescale != 1 {
                            let a = acc + i * dim
                            for j in 0..<dim { a[j] *= rescale }
                        }
                    }
                }
                if wantInputGradient { accumulate(logits, n, slice, acc) }
                v0 += width
            }
            for i in 0..<n {
                let lse = runMax[i] + logf(runSum[i])
                lossSum += Double(lse - target[i])
                guard let dHidden else { continue }
                // dx = (softmax·W − W[label]) / normalizer = (acc / s − W[label]) / normalizer
                weightRow(Int(labels[rowsHere[i]]), labelRow)
                let out = dHidden.pointer + rowsHere[i] * dim, a = acc + i * dim
                let inv = 1 / normalizer, norm = 1 / runSum[i]
                for j in 0..<dim { out[j] = (a[j] * norm - labelRow[j]) * inv }
            }
            start += n
        }
        return Result(lossSum: lossSum, count: valid.count, inputGradient: dHidden)
    }

    /// The row-chunked path: `chunkRows` rows against the whole vocabulary at a time, with the
    /// plain two-pass softmax; the only path that can accumulate a weight gradient, and the
    /// reference for ``vocabChunked(hidden:weight:labels:rows:dim:vocab:normalizer:wantInputGradient:rowBlock:vocabChunk:)``.
    public static func rowChunked(
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
