import TailorTape
import TailorTensor

/// A block-format matrix whose products may run in bf16: QLoRA's usual compute dtype
/// (bitsandbytes' `bnb_4bit_compute_dtype=torch.bfloat16`). Each tile of W is dequantized to
/// fp32 as usual, rounded to bf16 and packed for AMX tiles; the activations are rounded to bf16
/// once per product; accumulation is fp32. Without AMX the same bf16 values go through sgemm.
public protocol BF16Computable: TiledMatrix {
    /// Whether ``LinearWeight`` products of this matrix run in bf16 (default false: fp32, exact
    /// to the dequantized weights).
    var bf16Products: Bool { get set }
}

extension BF16Computable {
    /// `y[:, outputs] = bf16(x) · bf16(W[outputs])ᵀ`.
    /// `amx: false` takes the sgemm path (other CPUs; the tests' check of it).
    func multiplyBF16(_ x: UnsafePointer<Float>, rows: Int, outputs: Range<Int>, into y: UnsafeMutablePointer<Float>, ldy: Int,
                      amx: Bool = BF16MatMul.usesAMX) {
        let k = inFeatures
        guard amx else {
            let x16 = Self.rounded(x, rows: rows, columns: k, ld: k)  // [rows, in], bf16 values
            forEachTile(outputs) { lo, hi, tile in
                Self.roundInPlace(tile, count: (hi - lo) * k)
                BLAS.gemm(transB: true, m: rows, n: hi - lo, k: k, a: x16.pointer, lda: k, b: tile, ldb: k,
                          c: y + (lo - outputs.lowerBound), ldc: ldy)
            }
            return
        }
        BF16MatMul.withRoundedRows(x, m: rows, lda: k, k: k) { x16, kpad in
            forEachTile(outputs) { lo, hi, tile in
                BF16MatMul.withPacked(tile, n: hi - lo, k: k, ldb: k, transposed: false) { packed in  // W[lo..<hi]
                    BF16MatMul.product(x16, m: rows, kpad: kpad, packed, n: hi - lo, packedK: k, kb0: 0,
                                       into: y + (lo - outputs.lowerBound), ldc: ldy, accumulate: false)
                }
            }
        }
    }

    /// `dx += bf16(dy[:, outputs]) · bf16(W[outputs])`, one tile of W's rows (a slice of the
    /// product's inner dimension) at a time.
    func accumulateInputGradientBF16(_ dy: UnsafePointer<Float>, rows: Int, outputs: Range<Int>, ldDy: Int,
                                     into dx: UnsafeMutablePointer<Float>, amx: Bool = BF16MatMul.usesAMX) {
        let k = inFeatures
        forEachTile(outputs) { lo, hi, tile in
            let dySlice = dy + (lo - outputs.lowerBound)  // [rows, hi − lo], row stride ldDy
            guard amx else {
                let dy16 = Self.rounded(dySlice, rows: rows, columns: hi - lo, ld: ldDy)
                Self.roundInPlace(tile, count: (hi - lo) * k)
                BLAS.gemm(m: rows, n: k, k: hi - lo, a: dy16.pointer, lda: hi - lo, b: tile, ldb: k, beta: 1, c: dx, ldc: k)
                return
            }
            BF16MatMul.withRoundedRows(dySlice, m: rows, lda: ldDy, k: hi - lo) { dy16, kpad in
                BF16MatMul.withPacked(tile, n: k, k: hi - lo, ldb: k, transposed: true) { packed in  // W[lo..<hi]ᵀ
                    BF16MatMul.product(dy16, m: rows, kpad: kpad, packed, n: k, packedK: hi - lo, kb0: 0,
                                       into: dx, ldc: k, accumulate: true)
                }
            }
        }
    }

    /// `[rows, columns]` of a (row stride `ld`) rounded to bf16 values, kept as fp32.
    static func rounded(_ a: UnsafePointer<Float>, rows: Int, columns: Int, ld: Int) -> Tensor {
        let out = Tensor(uninitialized: [rows, columns])
        for i in 0..<rows { for j in 0..<columns { out.pointer[i * columns + j] = BF16MatMul.roundedToBF16(a[i * ld + j]) } }
        return out
    }

    static func roundInPlace(_ p: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { p[i] = BF16MatMul.roundedToBF16(p[i]) }
    }
}
