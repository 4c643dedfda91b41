import CTailorKernels
import Foundation

/// The dimensions of one attention call.
public struct AttentionShape: Sendable, Equatable {
    public var batch: Int, seq: Int, heads: Int, kvHeads: Int, headDim: Int
    public init(batch: Int, seq: Int, heads: Int, kvHeads: Int, headDim: Int) {
        precondition(heads % kvHeads == 0, "attention: \(heads) heads not a multiple of \(kvHeads) kv heads")
        self.batch = batch; self.seq = seq; self.heads = heads; self.kvHeads = kvHeads; self.headDim = headDim
    }
    var rows: Int { batch * seq }
    var queryWidth: Int { heads * headDim }
    var kvWidth: Int { kvHeads * headDim }
}

/// Causal scaled-dot-product attention with GQA/MQA, segment isolation and an optional sliding
/// window, tiled over query blocks. The forward keeps only the output and the row log-sum-exp;
/// the backward recomputes the probabilities tile by tile (no `[T, T]` tensor per layer is kept).
///
/// Query head h reads kv head `h / (heads / kvHeads)`. Query row q sees key k iff
/// `firstKey[q] <= k <= q`; ``firstVisibleKeys(batch:seq:segments:window:)`` builds `firstKey`.
public enum Attention {
    /// Query rows per tile: bounds the scratch to `tile × seq` floats per worker.
    public static let queryTile = 64

    /// Query rows per tile in the backward: longer sequences use taller tiles, because dK and dV
    /// accumulate `dSᵀ·Q` and `Pᵀ·dO` over tiles with an inner dimension of the tile height (64
    /// rows made those products memory-bound: 2 × 2048, one thread, 844 → 573 ms at 256 rows).
    /// Scratch stays `tile × seq` floats per worker, linear in seq.
    public static func backwardTile(seq: Int) -> Int { min(256, max(queryTile, seq / 8)) }

    /// The first key each query may see `[batch·seq]`: the start of its segment (packed rows,
    /// segments are contiguous runs of equal ids) and, with a window W, `q − W + 1`.
    public static func firstVisibleKeys(batch: Int, seq: Int, segments: [Int32]?, window: Int?) -> [Int32] {
        var first = [Int32](repeating: 0, count: batch * seq)
        for b in 0..<batch {
            var start = 0
            for t in 0..<seq {
                let i = b * seq + t
                if let segments, t > 0, segments[i] != segments[i - 1] { start = t }
                var f = start
                if let window { f = max(f, t - window + 1) }
                first[i] = Int32(f)
            }
        }
        return first
    }

    /// out: `[batch·seq, heads·D]`; lse: `[batch, heads, seq]`. q: `[batch·seq, heads·D]`,
    /// k, v: `[batch·seq, kvHeads·D]`.
    public static func forward(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>,
        shape s: AttentionShape, firstKey: UnsafeBufferPointer<Int32>
    ) {
        precondition(firstKey.count == s.rows, "attention: firstKey has \(firstKey.count) rows, want \(s.rows)")
        forEachGroup(s, tile: queryTile) { b, kvh, scratch in
            let scores = scratch.0
            forEachTile(s, tile: queryTile, b: b, kvh: kvh, firstKey: firstKey) { h, q0, q1, kLo in
                let tq = q1 - q0, nk = q1 - kLo
                let qRows = q + (b * s.seq + q0) * s.queryWidth + h * s.headDim
                let kRows = k + (b * s.seq + kLo) * s.kvWidth + kvh * s.headDim
                let vRows = v + (b * s.seq + kLo) * s.kvWidth + kvh * s.headDim
                // scores[tq, nk] = scale · Q Kᵀ
                BLAS.gemm(transB: true, m: tq, n: nk, k: s.headDim, alpha: scale(s),
                          a: qRows, lda: s.queryWidth, b: kRows, ldb: s.kvWidth, c: scores, ldc: nk)
                softmaxRows(scores, rows: tq, cols: nk, firstKey: firstKey.baseAddress! + b * s.seq + q0, keyOffset: kLo,
                            q0: q0, lse: lse + (b * s.heads + h) * s.seq + q0)
                // out[tq, D] = P V
                BLAS.gemm(m: tq, n: s.headDim, k: nk, a: scores, lda: nk, b: vRows, ldb: s.kvWidth,
                          c: out + (b * s.seq + q0) * s.queryWidth + h * s.headDim, ldc: s.queryWidth)
            }
        }
    }

    /// Accumulates dq, dk, dv (each may be nil) from dOut `[batch·seq, heads·D]`.
    ///
    /// Per tile: P = exp(scale·QKᵀ − lse); dP = dO Vᵀ; dS = P ⊙ (dP − rowsum(dO ⊙ O));
    /// dQ += scale·dS K; dK += scale·dSᵀ Q; dV += Pᵀ dO.
    public static func backward(
        dOut: UnsafePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        out: UnsafePointer<Float>, lse: UnsafePointer<Float>,
        dq: UnsafeMutablePointer<Float>?, dk: UnsafeMutablePointer<Float>?, dv: UnsafeMutablePointer<Float>?,
        shape s: AttentionShape, firstKey: UnsafeBufferPointer<Int32>
    ) {
        if dq == nil && dk == nil && dv == nil { return }
        let tile = backwardTile(seq: s.seq)
        forEachGroup(s, tile: tile) { b, kvh, scratch in
            let p = scratch.0, ds = scratch.1
            forEachTile(s, tile: tile, b: b, kvh: kvh, firstKey: firstKey) { h, q0, q1, kLo in
                let tq = q1 - q0, nk = q1 - kLo
                let qOff = (b * s.seq + q0) * s.queryWidth + h * s.headDim
                let kvOff = (b * s.seq + kLo) * s.kvWidth + kvh * s.headDim
                BLAS.gemm(transB: true, m: tq, n: nk, k: s.headDim, alpha: scale(s),
                          a: q + qOff, lda: s.queryWidth, b: k + kvOff, ldb: s.kvWidth, c: p, ldc: nk)
                // dP[tq, nk] = dO Vᵀ
                BLAS.gemm(transB: true, m: tq, n: nk, k: s.headDim,
                          a: dOut + qOff, lda: s.queryWidth, b: v + kvOff, ldb: s.kvWidth, c: ds, ldc: nk)
                softmaxBackwardRows(p, ds, rows: tq, cols: nk, firstKey: firstKey.baseAddress! + b * s.seq + q0, keyOffset: kLo,
                                    q0: q0, lse: lse + (b * s.heads + h) * s.seq + q0, dOut: dOut + qOff, out: out + qOff,
                                    ld: s.queryWidth, headDim: s.headDim)
                if let dq {
                    BLAS.gemm(m: tq, n: s.headDim, k: nk, alpha: scale(s), a: ds, lda: nk,
                              b: k + kvOff, ldb: s.kvWidth, beta: 1, c: dq + qOff, ldc: s.queryWidth)
                }
                if let dk {
                    BLAS.gemm(transA: true, m: nk, n: s.headDim, k: tq, alpha: scale(s), a: ds, lda: nk,
                              b: q + qOff, ldb: s.queryWidth, beta: 1, c: dk + kvOff, ldc: s.kvWidth)
                }
                if let dv {
                    BLAS.gemm(transA: true, m: nk, n: s.headDim, k: tq, a: p, lda: nk,
                              b: dOut + qOff, ldb: s.queryWidth, beta: 1, c: dv + kvOff, ldc: s.kvWidth)
                }
            }
        }
    }

    /// The forward row pass over `scores[rows, cols]`: row i sees columns
    /// `lo = firstKey[i] − keyOffset ... hi = q0 + i − keyOffset` and becomes its softmax over that
    /// range (zeros outside); `lse[i]` gets the row's log-sum-exp.
    public static func softmaxRows(
        _ scores: UnsafeMutablePointer<Float>, rows: Int, cols: Int, firstKey: UnsafePointer<Int32>, keyOffset: Int,
        q0: Int, lse: UnsafeMutablePointer<Float>
    ) {
        if FastMath.usesAVX512 {
            tailor_attention_softmax_rows(scores, Int32(rows), Int32(cols), firstKey, Int32(keyOffset), Int32(q0), lse)
        } else {
            softmaxRowsReference(scores, rows: rows, cols: cols, firstKey: firstKey, keyOffset: keyOffset, q0: q0, lse: lse)
        }
    }

    /// ``softmaxRows(_:rows:cols:firstKey:keyOffset:q0:lse:)`` in plain Swift (the fallback, and the reference in tests).
    public static func softmaxRowsReference(
        _ scores: UnsafeMutablePointer<Float>, rows: Int, cols: Int, firstKey: UnsafePointer<Int32>, keyOffset: Int,
        q0: Int, lse: UnsafeMutablePointer<Float>
    ) {
        for i in 0..<rows {
            let row = scores + i * cols
            let lo = Int(firstKey[i]) - keyOffset, hi = q0 + i - keyOffset  // valid j in lo...hi
            let m = FastMath.max(row + lo, hi - lo + 1)
            row.update(repeating: 0, count: lo)
            (row + hi + 1).update(repeating: 0, count: cols - hi - 1)
            let sum = FastMath.expShiftedReference(row + lo, row + lo, hi - lo + 1, shift: m)
            let inv = 1 / sum
            for j in lo...hi { row[j] *= inv }
            lse[i] = m + logf(sum)
        }
    }

    /// The backward row pass: `p` holds scale·QKᵀ and `ds` holds dO·Vᵀ for the same rows (ranges as in
    /// ``softmaxRows(_:rows:cols:firstKey:keyOffset:q0:lse:)``); afterwards `p = e^(p − lse)` and
    /// `ds = p ⊙ (ds − rowsum(dO ⊙ O))` in range, zeros outside. Row i of dO and O starts at `i·ld`.
    public static func softmaxBackwardRows(
        _ p: UnsafeMutablePointer<Float>, _ ds: UnsafeMutablePointer<Float>, rows: Int, cols: Int,
        firstKey: UnsafePointer<Int32>, keyOffset: Int, q0: Int, lse: UnsafePointer<Float>,
        dOut: UnsafePointer<Float>, out: UnsafePointer<Float>, ld: Int, headDim: Int
    ) {
        if FastMath.usesAVX512 {
            tailor_attention_softmax_backward_rows(p, ds, Int32(rows), Int32(cols), firstKey, Int32(keyOffset), Int32(q0), lse,
                                                   dOut, out, ld, Int32(headDim))
        } else {
            softmaxBackwardRowsReference(p, ds, rows: rows, cols: cols, firstKey: firstKey, keyOffset: keyOffset, q0: q0,
                                         lse: lse, dOut: dOut, out: out, ld: ld, headDim: headDim)
        }
    }

    /// ``softmaxBackwardRows(_:_:rows:cols:firstKey:keyOffset:q0:lse:dOut:out:ld:headDim:)`` in plain Swift.
    public static func softmaxBackwardRowsReference(
        _ p: UnsafeMutablePointer<Float>, _ ds: UnsafeMutablePointer<Float>, rows: Int, cols: Int,
        firstKey: UnsafePointer<Int32>, keyOffset: Int, q0: Int, lse: UnsafePointer<Float>,
        dOut: UnsafePointer<Float>, out: UnsafePointer<Float>, ld: Int, headDim: Int
    ) {
        for i in 0..<rows {
            let pr = p + i * cols, dr = ds + i * cols
            let lo = Int(firstKey[i]) - keyOffset, hi = q0 + i - keyOffset
            let d = BLAS.dot(headDim, dOut + i * ld, out + i * ld)
            pr.update(repeating: 0, count: lo); dr.update(repeating: 0, count: lo)
            (pr + hi + 1).update(repeating: 0, count: cols - hi - 1); (dr + hi + 1).update(repeating: 0, count: cols - hi - 1)
            FastMath.expScaledReference(pr + lo, pr + lo, hi - lo + 1, shift: lse[i], scale: 1)
            for j in lo...hi { dr[j] = pr[j] * (dr[j] - d) }
        }
    }

    /// Plain reference: materialises full `[T, T]` probabilities per head. For tests.
    public static func forwardReference(
        q: [Float], k: [Float], v: [Float], shape s: AttentionShape, firstKey: [Int32]
    ) -> [Float] {
        var out = [Float](repeating: 0, count: s.rows * s.queryWidth)
        let rep = s.heads / s.kvHeads
        for b in 0..<s.batch {
            for h in 0..<s.heads {
                let kvh = h / rep
                for qi in 0..<s.seq {
                    let lo = Int(firstKey[b * s.seq + qi])
                    var w = [Double](repeating: 0, count: s.seq)
                    for kj in lo...qi {
                        var dot: Double = 0
                        for d in 0..<s.headDim {
                            dot += Double(q[(b * s.seq + qi) * s.queryWidth + h * s.headDim + d])
                                * Double(k[(b * s.seq + kj) * s.kvWidth + kvh * s.headDim + d])
                        }
                        w[kj] = dot / Double(s.headDim).squareRoot()
                    }
                    let m = w[lo...qi].max()!
                    var sum: Double = 0
                    for kj in lo...qi { w[kj] = exp(w[kj] - m); sum += w[kj] }
                    for d in 0..<s.headDim {
                        var acc: Double = 0
                        for kj in lo...qi { acc += w[kj] / sum * Double(v[(b * s.seq + kj) * s.kvWidth + kvh * s.headDim + d]) }
                        out[(b * s.seq + qi) * s.queryWidth + h * s.headDim + d] = Float(acc)
                    }
                }
            }
        }
        return out
    }

    private static func scale(_ s: AttentionShape) -> Float { 1 / Float(s.headDim).squareRoot() }

    /// Runs `body(b, kvHead, scratch)` for every (batch row, kv head) group — each group owns its
    /// dk/dv rows, so groups can run in parallel with single-threaded BLAS inside.
    private static func forEachGroup(
        _ s: AttentionShape, tile: Int,
        _ body: (Int, Int, (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>)) -> Void
    ) {
        let groups = s.batch * s.kvHeads
        let scratchCount = min(tile, s.seq) * s.seq
        func run(_ range: Range<Int>) {
            BufferPool.withScratch(2 * scratchCount, of: Float.self) { a in  // two [tile, seq] score buffers
                for g in range { body(g / s.kvHeads, g % s.kvHeads, (a, a + scratchCount)) }
            }
        }
        if groups >= Parallel.workers && Parallel.workers > 1 {
            BLAS.singleThreaded { Parallel.forEachChunk(groups) { run($0) } }
        } else {
            run(0..<groups)
        }
    }

    /// Runs `body(head, q0, q1, kLo)` for each query head of the group and each query tile.
    private static func forEachTile(
        _ s: AttentionShape, tile: Int, b: Int, kvh: Int, firstKey: UnsafeBufferPointer<Int32>,
        _ body: (Int, Int, Int, Int) -> Void
    ) {
        let rep = s.heads / s.kvHeads
        for h in (kvh * rep)..<((kvh + 1) * rep) {
            var q0 = 0
            while q0 < s.seq {
                let q1 = min(s.seq, q0 + tile)
                // firstKey is non-decreasing along a row, so the tile's first row bounds it.
                body(h, q0, q1, Int(firstKey[b * s.seq + q0]))
                q0 = q1
            }
        }
    }
}
