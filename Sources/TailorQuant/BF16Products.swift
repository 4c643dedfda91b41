import CTailorKernels
import TailorTape
import TailorTensor

/// A block-format matrix whose products may run in bf16: QLoRA's usual compute dtype
/// (bitsandbytes' `bnb_4bit_compute_dtype=torch.bfloat16`). Each tile of W becomes bf16 AMX tiles
/// 32 rows at a time (``packStripBF16(_:transposed:tileRows:strip:scratch:into:)``: straight from
/// the blocks in ``QuantizedMatrix`` and ``NF4Matrix``, dequantized first by the default); the
/// activations are rounded to bf16 once per product; accumulation is fp32. Without AMX the same
/// bf16 values go through sgemm.
public protocol BF16Computable: TiledMatrix {
    /// Whether ``LinearWeight`` products of this matrix run in bf16 (default false: fp32, exact
    /// to the dequantized weights).
    var bf16Products: Bool { get set }

    /// Rows `rows` of W (one strip, at most 32) rounded to bf16 into AMX tiles: as 32 columns of
    /// B = W when not `transposed` (`packed` at the strip's first column), else as k block `strip`
    /// of B = Wᵀ, a tile of `tileRows` rows. `scratch` holds 32 · in floats. The default
    /// dequantizes to fp32, then packs (``packStripByDequantizing(_:transposed:tileRows:strip:scratch:into:)``).
    func packStripBF16(_ rows: Range<Int>, transposed: Bool, tileRows: Int, strip: Int, scratch: UnsafeMutablePointer<Float>,
                       into packed: UnsafeMutablePointer<UInt16>)
}

extension BF16Computable {
    /// `y[:, outputs] = bf16(x) · bf16(W[outputs])ᵀ`.
    /// `amx: false` takes the sgemm path (other CPUs; the tests' check of it).
    func multiplyBF16(_ x: UnsafePointer<Float>, rows: Int, outputs: Range<Int>, into y: UnsafeMutablePointer<Float>, ldy: Int,
                      amx: Bool = BF16MatMul.usesAMX) {
        let k = inFeatures
        guard amx else {
            let x16 = BF16MatMul.rounded(x, rows: rows, columns: k, ld: k)  // [rows, in], bf16 values
            forEachTile(outputs) { lo, hi, tile in
                let w16 = BF16MatMul.rounded(tile, rows: hi - lo, columns: k, ld: k)  // W[lo..<hi], bf16 values
                BLAS.gemm(transB: true, m: rows, n: hi - lo, k: k, a: x16.pointer, lda: k, b: w16.pointer, ldb: k,
                          c: y + (lo - outputs.lowerBound), ldc: ldy)
            }
            return
        }
        BF16MatMul.withRoundedRows(x, m: rows, lda: k, k: k) { x16, kpad in
            forEachPackedTile(outputs, transposed: false) { lo, hi, packed in  // W[lo..<hi]
                BF16MatMul.product(x16, m: rows, kpad: kpad, packed, n: hi - lo, packedK: k, kb0: 0,
                                   into: y + (lo - outputs.lowerBound), ldc: ldy, accumulate: false)
            }
        }
    }

    /// `dx (+)= bf16(dy[:, outputs]) · bf16(W[outputs])`, one tile of W's rows (a slice of the
    /// product's inner dimension) at a time: `+=` when `accumulate`, else the first tile writes.
    func inputGradientBF16(_ dy: UnsafePointer<Float>, rows: Int, outputs: Range<Int>, ldDy: Int,
                           into dx: UnsafeMutablePointer<Float>, accumulate: Bool, amx: Bool = BF16MatMul.usesAMX) {
        let k = inFeatures
        guard amx else {
            forEachTile(outputs) { lo, hi, tile in
                let dy16 = BF16MatMul.rounded(dy + (lo - outputs.lowerBound), rows: rows, columns: hi - lo, ld: ldDy)  // [rows, hi − lo]
                let w16 = BF16MatMul.rounded(tile, rows: hi - lo, columns: k, ld: k)
                let add = accumulate || lo > outputs.lowerBound
                BLAS.gemm(m: rows, n: k, k: hi - lo, a: dy16.pointer, lda: hi - lo, b: w16.pointer, ldb: k, beta: add ? 1 : 0, c: dx, ldc: k)
            }
            return
        }
        forEachPackedTile(outputs, transposed: true) { lo, hi, packed in  // W[lo..<hi]ᵀ
            BF16MatMul.withRoundedRows(dy + (lo - outputs.lowerBound), m: rows, lda: ldDy, k: hi - lo) { dy16, kpad in
                BF16MatMul.product(dy16, m: rows, kpad: kpad, packed, n: k, packedK: hi - lo, kb0: 0, into: dx, ldc: k,
                                   accumulate: accumulate || lo > outputs.lowerBound)
            }
        }
    }

    public func packStripBF16(_ rows: Range<Int>, transposed: Bool, tileRows: Int, strip: Int, scratch: UnsafeMutablePointer<Float>,
                              into packed: UnsafeMutablePointer<UInt16>) {
        packStripByDequantizing(rows, transposed: transposed, tileRows: tileRows, strip: strip, scratch: scratch, into: packed)
    }

    /// ``packStripBF16(_:transposed:tileRows:strip:scratch:into:)`` for any format: the strip's rows
    /// dequantized into `scratch`, then packed.
    public func packStripByDequantizing(_ rows: Range<Int>, transposed: Bool, tileRows: Int, strip: Int,
                                        scratch: UnsafeMutablePointer<Float>, into packed: UnsafeMutablePointer<UInt16>) {
        let k = inFeatures
        dequantizeRows(rows, into: scratch)
        if transposed {
            tailor_bf16_pack_kblocks(scratch, Int32(k), Int32(tileRows), Int32(k), 1, Int32(strip), Int32(strip + 1), packed)
        } else {
            tailor_bf16_pack(scratch, Int32(rows.count), Int32(k), Int32(k), 0, packed)
        }
    }

    /// Calls `body(lo, hi, packed)` for consecutive tiles of W's rows covering `outputs`, packed for
    /// AMX as B = W[lo..<hi] (`[hi − lo, in]`) or, when `transposed`, B = W[lo..<hi]ᵀ (`[in, hi − lo]`).
    /// Each tile is packed 32 rows at a time across the workers
    /// (``packStripBF16(_:transposed:tileRows:strip:scratch:into:)``), so a dequantized strip is
    /// still in cache when it is packed (a whole fp32 tile of a 4096-wide matrix is 4 MiB).
    func forEachPackedTile(_ outputs: Range<Int>, transposed: Bool, _ body: (Int, Int, UnsafePointer<UInt16>) -> Void) {
        let k = inFeatures, tile = min(outputs.count, max(32, (QuantizedTiles.rows ?? 256) / 32 * 32))
        guard tile > 0 else { return }
        let count = transposed ? tailor_bf16_packed_count(Int32(k), Int32(tile)) : tailor_bf16_packed_count(Int32(tile), Int32(k))
        let rowStride = (k + 31) / 32 * 32  // packed elements per row of B when not transposed
        BufferPool.withScratch(count, of: UInt16.self) { packed in
            for lo in stride(from: outputs.lowerBound, to: outputs.upperBound, by: tile) {
                let hi = min(outputs.upperBound, lo + tile), rows = hi - lo
                Parallel.forEachChunk((rows + 31) / 32) { strips in
                    BufferPool.withScratch(32 * k, of: Float.self) { scratch in  // [32, in]
                        for s in strips {
                            let r0 = s * 32, r1 = min(rows, r0 + 32)
                            // Transposed, the strip is k block s of Wᵀ; else rows r0..<r1 of W, a contiguous run of tiles.
                            packStripBF16((lo + r0)..<(lo + r1), transposed: transposed, tileRows: rows, strip: s, scratch: scratch,
                                          into: transposed ? packed : packed + r0 * rowStride)
                        }
                    }
                }
                body(lo, hi, packed)
            }
        }
    }
}
