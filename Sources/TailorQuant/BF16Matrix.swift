import TailorTape
import TailorTensor

/// A frozen weight held in bf16 and multiplied with bf16 operands and fp32 accumulation
/// (``BF16MatMul``: AMX tiles where the CPU has them).
///
/// Kept twice, packed for each product — `x·Wᵀ` in the forward, `dy·W` for the input gradient —
/// which together take the bytes of one fp32 copy. The activations are rounded to bf16 at each
/// product: this is bf16 mixed precision (as `torch.autocast`), not Tailor's exact fp32 path.
public final class BF16Matrix: TiledMatrix, @unchecked Sendable {
    public let name: String
    public let outFeatures: Int
    public let inFeatures: Int
    /// W `[out, in]` packed for `y = x·Wᵀ`.
    let forward: BF16MatMul.Packed
    /// Wᵀ `[in, out]` packed for `dx += dy·W`.
    let backward: BF16MatMul.Packed

    /// Rounds a dense `[out, in]` tensor to bf16 (nearest even).
    public init(name: String, rounding t: Tensor) throws {
        guard t.shape.count == 2 else { throw TailorError("\(name): cannot store shape \(t.shape) as a bf16 matrix (need [out, in])") }
        self.name = name; outFeatures = t.shape[0]; inFeatures = t.shape[1]
        forward = BF16MatMul.Packed(t.pointer, n: outFeatures, k: inFeatures, ldb: inFeatures, transposed: false)
        backward = BF16MatMul.Packed(t.pointer, n: inFeatures, k: outFeatures, ldb: inFeatures, transposed: true)
    }

    public var storageBytes: Int { forward.bytes + backward.bytes }

    public func dequantizeRows(_ range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        forward.rows(range, into: out)
    }

    public func multiply(_ x: UnsafePointer<Float>, rows: Int, outputs: Range<Int>, into y: UnsafeMutablePointer<Float>, ldy: Int) {
        BF16MatMul.multiply(x, m: rows, lda: inFeatures, forward, outputs: outputs, into: y, ldc: ldy, accumulate: false)
    }

    public func inputGradient(_ dy: UnsafePointer<Float>, rows: Int, outputs: Range<Int>, ldDy: Int, into dx: UnsafeMutablePointer<Float>,
                              accumulate: Bool) {
        if outputs.isEmpty { if !accumulate { dx.update(repeating: 0, count: rows * inFeatures) }; return }
        BF16MatMul.multiply(dy, m: rows, lda: ldDy, backward, inputs: outputs, into: dx, ldc: inFeatures, accumulate: accumulate)
    }
}
