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
    /// Stacked query rows per forward tile: the `heads / kvHeads` query heads that share a kv head
    /// are stacked into one `[rows, D]` block, so K and V are packed once per tile for all of them
    /// and each product is `rep`× taller. Scratch stays `rows × seq` floats per worker.
    public static let forwardRows = 192

    /// Stacked query rows per backward tile: dK and dV accumulate `dSᵀ·Q` and `Pᵀ·dO` with an inner
    /// dimension of the stacked tile height, so longer sequences use taller tiles (64 rows made those
    /// products memory-bound). Scratch stays linear in seq.
    public static func backwardRows(seq: Int) -> Int { min(256, max(64, seq / 8)) }

    /// Query rows per head in one tile of `rows` stacked rows (a multiple of 16 when it can be).
    static func tileHeight(stackedRows: Int, _ s: AttentionShape) -> Int {
        let per = stackedRows / (s.heads / s.kvHeads)
        return per >= 32 ? per / 16 * 16 : max(8, per)
    }

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
        let tile = tileHeight(stackedRows: forwardRows, s), rep = s.heads / s.kvHeads, d = s.headDim
        let stacked = rep * min(tile, s.seq)
        forEachGroup(s, floats: [stacked * s.seq, stacked * d, stacked * d]) { b, kvh, scratch in
            let scores = scratch.floats[0], qs = scratch.floats[1], os = scratch.floats[2]  // [m, seq], [m, D], [m, D]
            forEachTile(s, tile: tile, b: b, firstKey: firstKey) { q0, q1, kLo in
                let tq = q1 - q0, nk = q1 - kLo, h0 = kvh * rep
                let kvOff = (b * s.seq + kLo) * s.kvWidth + kvh * d
                let qOff = (b * s.seq + q0) * s.queryWidth + h0 * d  // head h0's rows; head h0 + r is r·D further
                stack(q + qOff, ld: s.queryWidth, rows: tq, heads: rep, headDim: d, into: qs)
                // scores[rep·tq, nk] = scale · Qs Kᵀ
                BLAS.gemm(transB: true, m: rep * tq, n: nk, k: d, alpha: scale(s),
                          a: qs, lda: d, b: k + kvOff, ldb: s.kvWidth, c: scores, ldc: nk)
                for r in 0..<rep {
                    softmaxRows(scores + r * tq * nk, rows: tq, cols: nk, firstKey: firstKey.baseAddress! + b * s.seq + q0,
                                keyOffset: kLo, q0: q0, lse: lse + (b * s.heads + h0 + r) * s.seq + q0)
                }
                // os[rep·tq, D] = P V
                BLAS.gemm(m: rep * tq, n: d, k: nk, a: scores, lda: nk, b: v + kvOff, ldb: s.kvWidth, c: os, ldc: d)
                unstack(os, rows: tq, heads: rep, headDim: d, into: out + qOff, ld: s.queryWidth, accumulate: false)
            }
        }
    }

    /// Accumulates dq, dk, dv (each may be nil) from dOut `[batch·seq, heads·D]`.
    ///
    /// Per tile (query heads of a kv group stacked): P = exp(scale·QKᵀ − lse); dP = dO Vᵀ;
    /// dS = P ⊙ (dP − rowsum(dO ⊙ O)); dQ += scale·dS K; dK += scale·dSᵀ Q; dV += Pᵀ dO.
    public static func backward(
        dOut: UnsafePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        out: UnsafePointer<Float>, lse: UnsafePointer<Float>,
        dq: UnsafeMutablePointer<Float>?, dk: UnsafeMutablePointer<Float>?, dv: UnsafeMutablePointer<Float>?,
        shape s: AttentionShape, firstKey: UnsafeBufferPointer<Int32>
    ) {
        if dq == nil && dk == nil && dv == nil { return }
        let tile = tileHeight(stackedRows: backwardRows(seq: s.seq), s), rep = s.heads / s.kvHeads, d = s.headDim
        let stacked = rep * min(tile, s.seq)
        forEachGroup(s, floats: [stacked * s.seq, stacked * s.seq, stacked * d, stacked * d, stacked * d]) { b, kvh, scratch in
            let p = scratch.floats[0], ds = scratch.floats[1]  // each [rep·tq, nk]
            let qs = scratch.floats[2], dos = scratch.floats[3], dqs = scratch.floats[4]  // each [rep·tq, D]
            forEachTile(s, tile: tile, b: b, firstKey: firstKey) { q0, q1, kLo in
                let tq = q1 - q0, nk = q1 - kLo, h0 = kvh * rep, m = rep * tq
                let qOff = (b * s.seq + q0) * s.queryWidth + h0 * d
                let kvOff = (b * s.seq + kLo) * s.kvWidth + kvh * d
                stack(q + qOff, ld: s.queryWidth, rows: tq, heads: rep, headDim: d, into: qs)
                stack(dOut + qOff, ld: s.queryWidth, rows: tq, heads: rep, headDim: d, into: dos)
                // p[m, nk] = scale · Qs Kᵀ; ds[m, nk] = dOs Vᵀ
                BLAS.gemm(transB: true, m: m, n: nk, k: d, alpha: scale(s),
                          a: qs, lda: d, b: k + kvOff, ldb: s.kvWidth, c: p, ldc: nk)
                BLAS.gemm(transB: true, m: m, n: nk, k: d, a: dos, lda: d, b: v + kvOff, ldb: s.kvWidth, c: ds, ldc: nk)
                for r in 0..<rep {
                    softmaxBackwardRows(p + r * tq * nk, ds + r * tq * nk, rows: tq, cols: nk,
                                        firstKey: firstKey.baseAddress! + b * s.seq + q0, keyOffset: kLo, q0: q0,
                                        lse: lse + (b * s.heads + h0 + r) * s.seq + q0,
                                        dOut: dOut + qOff + r * d, out: out + qOff + r * d, ld: s.queryWidth, headDim: d)
                }
                if let dq {
                    // dqs[m, D] = scale · dS K, added into each head's dq rows
                    BLAS.gemm(m: m, n: d, k: nk, alpha: scale(s), a: ds, lda: nk, b: k + kvOff, ldb: s.kvWidth, c: dqs, ldc: d)
                    unstack(dqs, rows: tq, heads: rep, headDim: d, into: dq + qOff, ld: s.queryWidth, accumulate: true)
                }
                if let dk {
                    BLAS.gemm(transA: true, m: nk, n: d, k: m, alpha: scale(s), a: ds, lda: nk,
                              b: qs, ldb: d, beta: 1, c: dk + kvOff, ldc: s.kvWidth)
                }
                if let dv {
                    BLAS.gemm(transA: true, m: nk, n: d, k: m, a: p, lda: nk, b: dos, ldb: d, beta: 1, c: dv + kvOff, ldc: s.kvWidth)
                }
            }
        }
    }

    /// Copies `heads` adjacent heads of `rows` rows (row i, head r at `src + i·ld + r·D`) into
    /// `dst[heads·rows, D]`, head-major: head r's rows start at `r·rows·D`.
    static func stack(_ src: UnsafePointer<Float>, ld: Int, rows: Int, heads: Int, headDim d: Int,
                      into dst: UnsafeMutablePointer<Float>) {
        for r in 0..<heads {
            for i in 0..<rows { (dst + (r * rows + i) * d).update(from: src + i * ld + r * d, count: d) }
        }
    }

    /// The inverse of ``stack(_:ld:rows:heads:headDim:into:)``: writes `src[heads·rows, D]` back into
    /// the heads' rows of `dst`, or adds `scale ·` it when `accumulate`.
    static func unstack(_ src: UnsafePointer<Float>, rows: Int, heads: Int, headDim d: Int,
                        into dst: UnsafeMutablePointer<Float>, ld: Int, accumulate: Bool, scale: Float = 1) {
        for r in 0..<heads {
            for i in 0..<rows {
                let from = src + (r * rows + i) * d, to = dst + i * ld + r * d
                if accumulate { for j in 0..<d { to[j] += scale * from[j] } } else { to.update(from: from, count: d) }
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

    static func scale(_ s: AttentionShape) -> Float { 1 / Float(s.headDim).squareRoot() }

    /// Per-worker scratch buffers, of the float and UInt16 counts ``forEachGroup(_:floats:halves:_:)`` was given.
    struct Scratch {
        var floats: [UnsafeMutablePointer<Float>], halves: [UnsafeMutablePointer<UInt16>]
    }

    /// Runs `body(b, kvHead, scratch)` for every (batch row, kv head) group — each group owns its
    /// dk/dv rows, so groups can run in parallel with single-threaded BLAS inside.
    static func forEachGroup(
        _ s: AttentionShape, floats: [Int], halves: [Int] = [], _ body: (Int, Int, Scratch) -> Void
    ) {
        let groups = s.batch * s.kvHeads
        // Every buffer starts on a 64-byte boundary.
        let floatCounts = floats.map { ($0 + 15) / 16 * 16 }, halfCounts = halves.map { ($0 + 31) / 32 * 32 }
        let total = floatCounts.reduce(0, +) + halfCounts.reduce(0, +) / 2
        func run(_ range: Range<Int>) {
            BufferPool.withScratch(total, of: Float.self) { a in
                var next = a, fs: [UnsafeMutablePointer<Float>] = [], hs: [UnsafeMutablePointer<UInt16>] = []
                for c in floatCounts { fs.append(next); next += c }
                for c in halfCounts {
                    hs.append(UnsafeMutableRawPointer(next).bindMemory(to: UInt16.self, capacity: c)); next += c / 2
                }
                for g in range { body(g / s.kvHeads, g % s.kvHeads, Scratch(floats: fs, halves: hs)) }
            }
        }
        if groups >= Parallel.workers && Parallel.workers > 1 {
            BLAS.singleThreaded { Parallel.forEachChunk(groups) { run($0) } }
        } else {
            run(0..<groups)
        }
    }

    /// Runs `body(q0, q1, kLo)` for each query tile of batch row `b`.
    static func forEachTile(
        _ s: AttentionShape, tile: Int, b: Int, firstKey: UnsafeBufferPointer<Int32>, _ body: (Int, Int, Int) -> Void
    ) {
        var q0 = 0
        while q0 < s.seq {
            let q1 = min(s.seq, q0 + tile)
            // firstKey is non-decreasing along a row, so the tile's first row bounds it.
            body(q0, q1, Int(firstKey[b * s.seq + q0]))
            q0 = q1
        }
    }
}
