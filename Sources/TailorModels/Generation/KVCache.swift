import Foundation
import TailorTensor

/// The keys and values of one sequence's past tokens, per layer, for incremental decoding.
///
/// Layer l holds a key buffer and a value buffer of shape `[capacity, kvHeads·headDim]`; row p
/// is the token at position p. Keys are stored **after** RoPE, so a cached row never changes
/// when later tokens arrive. The buffers grow (doubling, copying the filled rows) when
/// ``reserve(_:)`` asks for more rows than ``capacity``.
///
/// The cache belongs to one ``InferenceSession``; it is not thread-safe.
public final class KVCache {
    /// The number of layers.
    public let layerCount: Int
    /// Floats per row: `kvHeads·headDim`.
    public let width: Int
    /// The number of filled rows (positions `0..<count`).
    public internal(set) var count = 0
    /// `[capacity, width]` per layer.
    private(set) var keys: [Tensor]
    /// `[capacity, width]` per layer.
    private(set) var values: [Tensor]

    /// An empty cache with room for `capacity` positions (it grows on demand).
    public init(layerCount: Int, width: Int, capacity: Int) {
        precondition(layerCount > 0 && width > 0, "KVCache: \(layerCount) layers of width \(width)")
        self.layerCount = layerCount
        self.width = width
        let rows = max(1, capacity)
        keys = (0..<layerCount).map { _ in Tensor(zeros: [rows, width]) }
        values = (0..<layerCount).map { _ in Tensor(zeros: [rows, width]) }
    }

    /// The number of rows allocated per buffer.
    public var capacity: Int { keys[0].shape[0] }

    /// Ensures room for `rows` positions, growing every buffer to at least twice its size.
    public func reserve(_ rows: Int) {
        guard rows > capacity else { return }
        let newRows = max(rows, 2 * capacity)
        func grown(_ t: Tensor) -> Tensor {
            let g = Tensor(zeros: [newRows, width])  // [newRows, width]
            g.pointer.update(from: t.pointer, count: count * width)
            return g
        }
        keys = keys.map(grown)
        values = values.map(grown)
    }

    /// Forgets every position (the buffers stay allocated).
    public func removeAll() { count = 0 }

    /// Drops the positions from `length` on, e.g. to rewind to a shared prefix.
    public func truncate(to length: Int) {
        precondition((0...count).contains(length), "KVCache: cannot truncate \(count) rows to \(length)")
        count = length
    }

    /// A copy of layer `layer`'s filled keys `[count, width]` (for inspection and tests).
    public func keys(layer: Int) -> Tensor { filled(keys[layer]) }

    /// A copy of layer `layer`'s filled values `[count, width]` (for inspection and tests).
    public func values(layer: Int) -> Tensor { filled(values[layer]) }

    private func filled(_ t: Tensor) -> Tensor {
        let out = Tensor(uninitialized: [count, width])
        out.pointer.update(from: t.pointer, count: count * width)
        return out
    }

    /// Writes `rows` rows of k and v (`[rows, width]`) at positions `start..<start+rows` of `layer`.
    /// The caller advances ``count`` once every layer is written.
    func write(layer: Int, at start: Int, keys k: Tensor, values v: Tensor, rows: Int) {
        precondition(start + rows <= capacity && k.count == rows * width && v.count == rows * width,
                     "KVCache: writing \(rows) rows at \(start) into capacity \(capacity)")
        (keys[layer].pointer + start * width).update(from: k.pointer, count: rows * width)
        (values[layer].pointer + start * width).update(from: v.pointer, count: rows * width)
    }
}

/// Attention of new query rows over a ``KVCache`` layer: causal, GQA/MQA, optional sliding window.
///
/// The arithmetic follows ``Attention/forward(q:k:v:out:lse:shape:firstKey:)`` (the training
/// kernel): scores = QKᵀ/√D by BLAS, a max-subtracted fp32 softmax over the visible keys, then PV.
enum CachedAttention {
    /// Query rows per BLAS call; bounds the scratch to `tile × keys` floats per worker.
    static let queryTile = 64

    /// out `[n, heads·D]` for queries q `[n, heads·D]` at positions `start..<start+n`, whose keys
    /// and values already sit in rows `0..<start+n` of `keys`/`values` (`[·, kvHeads·D]`).
    /// Query at position p sees keys k with `p − window < k ≤ p` (no lower bound without a window).
    static func forward(
        q: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
        out: UnsafeMutablePointer<Float>, start: Int, n: Int,
        heads: Int, kvHeads: Int, headDim: Int, window: Int?
    ) {
        let qWidth = heads * headDim, kvWidth = kvHeads * headDim, rep = heads / kvHeads
        let scale = 1 / Float(headDim).squareRoot()
        func firstKey(_ p: Int) -> Int { window.map { max(0, p - $0 + 1) } ?? 0 }
        let maxKeys = start + n - firstKey(start)
        let scratchCount = min(queryTile, n) * maxKeys
        func run(_ headRange: Range<Int>) {
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: scratchCount)  // [tq, nk]
            defer { scores.deallocate() }
            for h in headRange {
                let kvh = h / rep
                var i0 = 0
                while i0 < n {
                    let i1 = min(n, i0 + queryTile), tq = i1 - i0
                    let kLo = firstKey(start + i0), nk = start + i1 - kLo  // keys kLo..<start+i1
                    let qRows = q + i0 * qWidth + h * headDim
                    let kRows = keys + kLo * kvWidth + kvh * headDim
                    let vRows = values + kLo * kvWidth + kvh * headDim
                    // scores[tq, nk] = scale · Q Kᵀ
                    BLAS.gemm(transB: true, m: tq, n: nk, k: headDim, alpha: scale,
                              a: qRows, lda: qWidth, b: kRows, ldb: kvWidth, c: scores, ldc: nk)
                    for i in 0..<tq {
                        let p = start + i0 + i, row = scores + i * nk
                        let lo = firstKey(p) - kLo, hi = p - kLo  // visible j in lo...hi
                        var m = -Float.infinity
                        for j in lo...hi { m = max(m, row[j]) }
                        var sum: Float = 0
                        for j in 0..<nk {
                            if j < lo || j > hi { row[j] = 0; continue }
                            let e = expf(row[j] - m)
                            row[j] = e; sum += e
                        }
                        let inv = 1 / sum
                        for j in lo...hi { row[j] *= inv }
                    }
                    // out[tq, D] = P V
                    BLAS.gemm(m: tq, n: headDim, k: nk, a: scores, lda: nk, b: vRows, ldb: kvWidth,
                              c: out + i0 * qWidth + h * headDim, ldc: qWidth)
                    i0 = i1
                }
            }
        }
        // Heads write disjoint output columns, so they can run in parallel with 1-thread BLAS;
        // a single decode step is too small to be worth a thread hop.
        if n * maxKeys >= 4096 && heads >= Parallel.workers && Parallel.workers > 1 {
            Parallel.forEachChunk(heads) { run($0) }
        } else {
            run(0..<heads)
        }
    }
}
