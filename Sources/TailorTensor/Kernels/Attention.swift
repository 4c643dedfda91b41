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
        forEachRun(s, tile: tile, firstKey: firstKey, floats: [stacked * s.seq, stacked * d, stacked * d]) { run, scratch in
            let scores = scratch.floats[0], qs = scratch.floats[1], os = scratch.floats[2]  // [m, seq], [m, D], [m, D]
            let b = run.b, kvh = run.kvh
            for (q0, q1, kLo) in run.tiles {
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
        let floats = [stacked * s.seq, stacked * s.seq, stacked * d, stacked * d, stacked * d, s.seq * d, s.seq * d]
        forEachRun(s, tile: tile, firstKey: firstKey, floats: floats) { run, scratch in
            let p = scratch.floats[0], ds = scratch.floats[1]  // each [rep·tq, nk]
            let qs = scratch.floats[2], dos = scratch.floats[3], dqs = scratch.floats[4]  // each [rep·tq, D]
            let b = run.b, kvh = run.kvh, keys = run.keys
            // dK, dV rows: the group's own when no other run shares it, else this run's [seq, D] share.
            let group = (b * s.seq) * s.kvWidth + kvh * d
            let (dkRows, dvRows, ld) = run.ownsGroup ? (dk.map { $0 + group }, dv.map { $0 + group }, s.kvWidth)
                                                     : (scratch.floats[5], scratch.floats[6], d)
            if !run.ownsGroup {
                (dkRows! + keys.lowerBound * d).update(repeating: 0, count: keys.count * d)
                (dvRows! + keys.lowerBound * d).update(repeating: 0, count: keys.count * d)
            }
            for (q0, q1, kLo) in run.tiles {
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
                if dk != nil, let dkRows {
                    BLAS.gemm(transA: true, m: nk, n: d, k: m, alpha: scale(s), a: ds, lda: nk,
                              b: qs, ldb: d, beta: 1, c: dkRows + kLo * ld, ldc: ld)
                }
                if dv != nil, let dvRows {
                    BLAS.gemm(transA: true, m: nk, n: d, k: m, a: p, lda: nk, b: dos, ldb: d, beta: 1, c: dvRows + kLo * ld, ldc: ld)
                }
            }
            if !run.ownsGroup {
                run.add(dkRows!, into: dk, shape: s, transposed: false)
                run.add(dvRows!, into: dv, shape: s, transposed: false)
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

    /// ``unstack(_:rows:heads:headDim:into:ld:accumulate:scale:)`` writing each stacked row `i`
    /// multiplied by `rowScale[i]` `[heads·rows]`.
    static func unstack(_ src: UnsafePointer<Float>, rows: Int, heads: Int, headDim d: Int,
                        into dst: UnsafeMutablePointer<Float>, ld: Int, rowScale: UnsafePointer<Float>) {
        for r in 0..<heads {
            for i in 0..<rows {
                let from = src + (r * rows + i) * d, to = dst + i * ld + r * d, c = rowScale[r * rows + i]
                for j in 0..<d { to[j] = c * from[j] }
            }
        }
    }

    /// The forward row pass over `scores[rows, cols]`: row i sees columns
    /// `lo = firstKey[i] − keyOffset ... hi = q0 + i − keyOffset` and becomes its softmax over that
    /// range (zeros outside); `lse[i]` gets the row's log-sum-exp.
    public static func softmaxRows(
        _ scores: UnsafeMutablePointer<Float>, rows: Int, cols: Int, firstKey: UnsafePointer<Int32>, keyOffset: Int,
        q0: Int, lse: UnsafeMutablePointer<Float>, kernels: FastMath.KernelLevel = FastMath.kernels
    ) {
        switch kernels {
        case .avx512: tailor_attention_softmax_rows(scores, Int32(rows), Int32(cols), firstKey, Int32(keyOffset), Int32(q0), lse)
        case .avx2: tailor_avx2_attention_softmax_rows(scores, Int32(rows), Int32(cols), firstKey, Int32(keyOffset), Int32(q0), lse)
        case .generic: softmaxRowsReference(scores, rows: rows, cols: cols, firstKey: firstKey, keyOffset: keyOffset, q0: q0, lse: lse)
        }
    }

    /// ``softmaxRows(_:rows:cols:firstKey:keyOffset:q0:lse:kernels:)`` in plain Swift (the fallback, and the reference in tests).
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
    /// ``softmaxRows(_:rows:cols:firstKey:keyOffset:q0:lse:kernels:)``); afterwards `p = e^(p − lse)` and
    /// `ds = p ⊙ (ds − rowsum(dO ⊙ O))` in range, zeros outside. Row i of dO and O starts at `i·ld`.
    public static func softmaxBackwardRows(
        _ p: UnsafeMutablePointer<Float>, _ ds: UnsafeMutablePointer<Float>, rows: Int, cols: Int,
        firstKey: UnsafePointer<Int32>, keyOffset: Int, q0: Int, lse: UnsafePointer<Float>,
        dOut: UnsafePointer<Float>, out: UnsafePointer<Float>, ld: Int, headDim: Int, kernels: FastMath.KernelLevel = FastMath.kernels
    ) {
        switch kernels {
        case .avx512:
            tailor_attention_softmax_backward_rows(p, ds, Int32(rows), Int32(cols), firstKey, Int32(keyOffset), Int32(q0), lse,
                                                   dOut, out, ld, Int32(headDim))
        case .avx2:
            tailor_avx2_attention_softmax_backward_rows(p, ds, Int32(rows), Int32(cols), firstKey, Int32(keyOffset), Int32(q0), lse,
                                                        dOut, out, ld, Int32(headDim))
        case .generic:
            softmaxBackwardRowsReference(p, ds, rows: rows, cols: cols, firstKey: firstKey, keyOffset: keyOffset, q0: q0,
                                         lse: lse, dOut: dOut, out: out, ld: ld, headDim: headDim)
        }
    }

    /// ``softmaxBackwardRows(_:_:rows:cols:firstKey:keyOffset:q0:lse:dOut:out:ld:headDim:kernels:)`` in plain Swift.
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

    /// Per-worker scratch buffers, of the float and UInt16 counts ``forEachRun(_:tile:firstKey:floats:halves:_:)`` was given.
    struct Scratch {
        var floats: [UnsafeMutablePointer<Float>], halves: [UnsafeMutablePointer<UInt16>]
    }

    /// A worker's share of one (batch row, kv head) group: consecutive query tiles `(q0, q1, kLo)`.
    struct TileRun {
        let b: Int, kvh: Int
        let tiles: [(Int, Int, Int)]
        /// The run holds all of its group's tiles: no other run writes the group's dK and dV rows.
        let ownsGroup: Bool
        /// Serialises the adds of runs that share a group's dK and dV rows.
        let lock: NSLock

        /// The keys the run's tiles see: the dK and dV rows it can touch.
        var keys: Range<Int> { tiles.map { $0.2 }.min()! ..< tiles.last!.1 }

        /// Adds the run's `keys` rows of `part` — `[seq, D]`, or `[D, seq]` when `transposed` — into
        /// its group's rows of `grad` `[batch·seq, kvHeads·D]`, under the lock.
        func add(_ part: UnsafePointer<Float>, into grad: UnsafeMutablePointer<Float>?, shape s: AttentionShape, transposed: Bool) {
            guard let grad else { return }
            let d = s.headDim
            lock.lock(); defer { lock.unlock() }
            let rows = grad + (b * s.seq + keys.lowerBound) * s.kvWidth + kvh * d
            if transposed {  // the bf16 kernel's, AVX-512 machines only
                tailor_add_transposed(part, Int32(s.seq), Int32(d), Int32(keys.lowerBound), Int32(keys.upperBound), rows, s.kvWidth)
                return
            }
            for key in keys {
                let row = rows + (key - keys.lowerBound) * s.kvWidth
                for j in 0..<d { row[j] += part[key * d + j] }
            }
        }
    }

    /// Runs `body(run, scratch)` over every query tile of every (batch row, kv head) group, the
    /// tiles split into one contiguous share per worker of about equal cost (rows × visible keys),
    /// so a batch of one long row keeps both workers busy. A share is handed over as runs, one per
    /// group it touches; runs of the same group may run at once, so they write dK and dV through
    /// ``TileRun/add(_:into:shape:transposed:)``. BLAS is single-threaded inside.
    static func forEachRun(
        _ s: AttentionShape, tile: Int, firstKey: UnsafeBufferPointer<Int32>, floats: [Int], halves: [Int] = [],
        _ body: (TileRun, Scratch) -> Void
    ) {
        var items: [(group: Int, tile: (Int, Int, Int), cost: Int)] = []
        for g in 0..<(s.batch * s.kvHeads) {
            let b = g / s.kvHeads
            var q0 = 0
            while q0 < s.seq {
                let q1 = min(s.seq, q0 + tile)
                // firstKey is non-decreasing along a row, so the tile's first row bounds it.
                let kLo = Int(firstKey[b * s.seq + q0])
                items.append((g, (q0, q1, kLo), (q1 - q0) * (q1 - kLo)))
                q0 = q1
            }
        }
        let workers = max(1, min(Parallel.workers, items.count))
        let total = items.reduce(0) { $0 + $1.cost }
        var cuts = [0], done = 0
        for (i, item) in items.enumerated() {
            done += item.cost
            while cuts.count < workers && done * workers >= total * cuts.count { cuts.append(i + 1) }
        }
        while cuts.count <= workers { cuts.append(items.count) }
        // Every buffer starts on a 64-byte boundary.
        let floatCounts = floats.map { ($0 + 15) / 16 * 16 }, halfCounts = halves.map { ($0 + 31) / 32 * 32 }
        let scratchFloats = floatCounts.reduce(0, +) + halfCounts.reduce(0, +) / 2
        let lock = NSLock()
        func run(_ share: Range<Int>) {
            guard !share.isEmpty else { return }
            BufferPool.withScratch(scratchFloats, of: Float.self) { a in
                var next = a, fs: [UnsafeMutablePointer<Float>] = [], hs: [UnsafeMutablePointer<UInt16>] = []
                for c in floatCounts { fs.append(next); next += c }
                for c in halfCounts {
                    hs.append(UnsafeMutableRawPointer(next).bindMemory(to: UInt16.self, capacity: c)); next += c / 2
                }
                var start = share.lowerBound
                while start < share.upperBound {
                    let g = items[start].group
                    var end = start
                    while end < share.upperBound && items[end].group == g { end += 1 }
                    let whole = (start == 0 || items[start - 1].group != g) && (end == items.count || items[end].group != g)
                    body(TileRun(b: g / s.kvHeads, kvh: g % s.kvHeads, tiles: items[start..<end].map(\.tile), ownsGroup: whole,
                                 lock: lock),
                         Scratch(floats: fs, halves: hs))
                    start = end
                }
            }
        }
        if workers > 1 {
            Parallel.forEachChunk(workers) { for w in $0 { run(cuts[w]..<cuts[w + 1]) } }
        } else {
            run(0..<items.count)
        }
    }
}
