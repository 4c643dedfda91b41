import CTailorKernels

/// Matrix products with bf16 operands and fp32 accumulation, on Intel AMX tiles where the CPU
/// and kernel allow them (Sapphire Rapids and later), else on sgemm over bf16-rounded values.
///
/// The right operand is packed once (``Packed``); the left one (activations) is rounded to bf16
/// (nearest even) on every call. Both paths multiply the same bf16 values, so they agree up to
/// the order of fp32 summation.
public enum BF16MatMul {
    /// Whether products run on AMX tiles in this process.
    public static let usesAMX: Bool = tailor_amx_enable() != 0

    /// `B[n, k]` rounded to bf16 and laid out in AMX tiles, for `C = A·Bᵀ`.
    public final class Packed: @unchecked Sendable {
        public let n: Int, k: Int
        let storage: UnsafeMutablePointer<UInt16>  // tailor_bf16_packed_count(n, k)

        /// Packs `b` (fp32; element (r, c) at `b[r·ldb + c]`, or at `b[c·ldb + r]` when `transposed`).
        public init(_ b: UnsafePointer<Float>, n: Int, k: Int, ldb: Int, transposed: Bool) {
            self.n = n; self.k = k
            let count = tailor_bf16_packed_count(Int32(n), Int32(k))
            storage = .allocate(capacity: count)
            BF16MatMul.pack(b, n: n, k: k, ldb: ldb, transposed: transposed, into: storage)
        }
        deinit { storage.deallocate() }

        /// Bytes held.
        public var bytes: Int { tailor_bf16_packed_count(Int32(n), Int32(k)) * 2 }

        /// Element (r, c) of B as the bf16 value it holds.
        public subscript(r: Int, c: Int) -> Float { tailor_bf16_packed_get(storage, Int32(n), Int32(k), Int32(r), Int32(c)) }

        /// Rows `range` of B as fp32, `[range.count, columns.count]` (all columns by default).
        public func rows(_ range: Range<Int>, columns: Range<Int>? = nil, into out: UnsafeMutablePointer<Float>) {
            let cols = columns ?? 0..<k
            tailor_bf16_unpack(storage, Int32(k), Int32(range.lowerBound), Int32(range.upperBound),
                               Int32(cols.lowerBound), Int32(cols.upperBound), out)
        }
    }

    /// `C[m, outputs.count] = A[m, inputs.count] · B[outputs, inputs]ᵀ` (or `+=` when `accumulate`):
    /// A fp32 with row stride `lda`, C with `ldc`; column j of C is row `outputs.lowerBound + j` of B.
    /// Ranges default to the whole of B.
    public static func multiply(_ a: UnsafePointer<Float>, m: Int, lda: Int, _ b: Packed, outputs: Range<Int>? = nil,
                                inputs: Range<Int>? = nil, into c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        let rowsB = outputs ?? 0..<b.n, ks = inputs ?? 0..<b.k
        if m == 0 || rowsB.isEmpty { return }
        // AMX tiles start at multiples of 32 in both of B's dimensions.
        guard usesAMX, rowsB.lowerBound % 32 == 0, ks.lowerBound % 32 == 0 else {
            return reference(a, m: m, lda: lda, b, outputs: rowsB, inputs: ks, into: c, ldc: ldc, accumulate: accumulate)
        }
        withRoundedRows(a, m: m, lda: lda, k: ks.count) { a16, kpad in
            product(a16, m: m, kpad: kpad, b.storage, n: b.n, packedK: b.k, kb0: ks.lowerBound / 32, outputs: rowsB,
                    into: c, ldc: ldc, accumulate: accumulate)
        }
    }

    /// Calls `body(a16, kpad)` with A `[m, k]` (fp32, row stride `lda`) rounded to bf16 into a pooled
    /// `[m rounded up to 32, kpad]` buffer, zero padded (the left operand of ``product``).
    public static func withRoundedRows<R>(_ a: UnsafePointer<Float>, m: Int, lda: Int, k: Int,
                                          _ body: (UnsafePointer<UInt16>, Int) -> R) -> R {
        let kpad = (k + 31) / 32 * 32, mpad = (m + 31) / 32 * 32
        return BufferPool.withScratch(mpad * kpad, of: UInt16.self) { a16 in  // [mpad, kpad]
            (a16 + m * kpad).update(repeating: 0, count: (mpad - m) * kpad)
            Parallel.forEachChunk(m, minChunk: 64) { r in
                tailor_bf16_round_rows(a, Int32(r.lowerBound), Int32(r.upperBound), Int32(k), Int32(lda), a16, Int32(kpad))
            }
            return body(a16, kpad)
        }
    }

    /// `tailor_bf16_pack` split across the workers by 32 rows of B: each block of rows is a
    /// contiguous run of tiles (`pad32(k)` elements per row).
    public static func pack(_ b: UnsafePointer<Float>, n: Int, k: Int, ldb: Int, transposed: Bool, into out: UnsafeMutablePointer<UInt16>) {
        let blocks = (n + 31) / 32, rowStride = (k + 31) / 32 * 32
        Parallel.forEachChunk(blocks, minChunk: max(1, 8192 / max(1, rowStride))) { r in
            let r0 = r.lowerBound * 32, r1 = min(n, r.upperBound * 32)
            tailor_bf16_pack(transposed ? b + r0 : b + r0 * ldb, Int32(r1 - r0), Int32(k), Int32(ldb), transposed ? 1 : 0, out + r0 * rowStride)
        }
    }

    /// `C[m, outputs.count] (+)= A16 · B[outputs, kb0·32 ..< kb0·32 + kpad]ᵀ` on AMX tiles, B packed
    /// (`[n, packedK]`) and `outputs` starting at a multiple of 32; output columns split across the
    /// workers in blocks of 32. Only with ``usesAMX``.
    public static func product(_ a16: UnsafePointer<UInt16>, m: Int, kpad: Int, _ packed: UnsafePointer<UInt16>, n: Int, packedK: Int,
                               kb0: Int, outputs: Range<Int>? = nil, into c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        let rowsB = outputs ?? 0..<n
        precondition(usesAMX && rowsB.lowerBound % 32 == 0, "BF16MatMul.product needs AMX and a 32-aligned output range")
        // The kernel writes B's row j at c[j], so c is shifted back by the first row.
        let first = rowsB.lowerBound / 32, blocks = (rowsB.upperBound + 31) / 32 - first
        let shifted = c - rowsB.lowerBound
        Parallel.forEachChunk(blocks) { r in
            tailor_amx_gemm(a16, Int32(m), Int32(kpad), packed, Int32(rowsB.upperBound), Int32(packedK), Int32(kb0),
                            shifted, Int32(ldc), accumulate ? 1 : 0, Int32((first + r.lowerBound) * 32), Int32((first + r.upperBound) * 32))
        }
    }

    /// The same product without AMX: A rounded to bf16 values, B unpacked a tile of rows at a
    /// time, sgemm in fp32. Also the reference the AMX path is tested against.
    public static func reference(_ a: UnsafePointer<Float>, m: Int, lda: Int, _ b: Packed, outputs: Range<Int>? = nil,
                                 inputs: Range<Int>? = nil, into c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        let rowsB = outputs ?? 0..<b.n, ks = inputs ?? 0..<b.k, k = ks.count, tile = 256
        if m == 0 || rowsB.isEmpty { return }
        let a16 = rounded(a, rows: m, columns: k, ld: lda)  // [m, k], bf16 values
        let rows = UnsafeMutablePointer<Float>.allocate(capacity: min(tile, rowsB.count) * k)  // [tile, k]
        defer { rows.deallocate() }
        for lo in stride(from: rowsB.lowerBound, to: rowsB.upperBound, by: tile) {
            let hi = min(rowsB.upperBound, lo + tile)
            b.rows(lo..<hi, columns: ks, into: rows)
            BLAS.gemm(transB: true, m: m, n: hi - lo, k: k, a: a16.pointer, lda: k, b: rows, ldb: k,
                      beta: accumulate ? 1 : 0, c: c + (lo - rowsB.lowerBound), ldc: ldc)
        }
    }

    /// `[rows, columns]` of `a` (row stride `ld`) rounded to bf16 values, kept as fp32: the left
    /// operand of the sgemm paths that stand in for AMX.
    public static func rounded(_ a: UnsafePointer<Float>, rows: Int, columns: Int, ld: Int) -> Tensor {
        let out = Tensor(uninitialized: [rows, columns])
        for i in 0..<rows { for j in 0..<columns { out.pointer[i * columns + j] = roundedToBF16(a[i * ld + j]) } }
        return out
    }

    /// x rounded to the nearest bf16 (ties to even), as fp32.
    public static func roundedToBF16(_ x: Float) -> Float {
        if x.isNaN { return x }
        var u = x.bitPattern
        u &+= 0x7fff &+ ((u >> 16) & 1)
        return Float(bitPattern: u & 0xffff_0000)
    }
}
