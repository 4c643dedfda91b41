import TailorTensor

/// A weight matrix `W[out, in]` that a linear layer multiplies by: a dense ``Parameter`` or a
/// frozen quantized matrix (TailorQuant) that never exists whole in fp32.
///
/// `Tape.linear` only needs the two products below; a weight that is also a trainable
/// ``Parameter`` exposes it through ``parameter`` so full fine-tuning can get its gradient.
public protocol LinearWeight: AnyObject, Sendable {
    /// The checkpoint-style name (`model.layers.0.self_attn.q_proj.weight`).
    var name: String { get }
    var outFeatures: Int { get }
    var inFeatures: Int { get }
    /// `y[rows, out] = x[rows, in] · Wᵀ` (overwrites y).
    func multiply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>)
    /// `y[rows, outputs.count] = x[rows, in] · W[outputs]ᵀ`, row stride `ldy`: a slice of the
    /// outputs only (the fused cross-entropy walks a vocabulary this way).
    func multiply(_ x: UnsafePointer<Float>, rows: Int, outputs: Range<Int>, into y: UnsafeMutablePointer<Float>, ldy: Int)
    /// `dx[rows, in] (+)= dy[rows, outputs.count] · W[outputs]`, dy with row stride `ldDy`: `+=` when
    /// `accumulate`, else `=` (dx's old contents are not read, so a fresh buffer needs no zeros).
    func inputGradient(_ dy: UnsafePointer<Float>, rows: Int, outputs: Range<Int>, ldDy: Int, into dx: UnsafeMutablePointer<Float>,
                       accumulate: Bool)
    /// The dense trainable parameter behind this weight, or nil for a frozen quantized matrix.
    var parameter: Parameter? { get }
}

extension LinearWeight {
    public func multiply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        multiply(x, rows: rows, outputs: 0..<outFeatures, into: y, ldy: outFeatures)
    }

    /// `dx[rows, in] (+)= dy[rows, out] · W` (the input gradient): `+=` when `accumulate`, else `=`.
    public func inputGradient(_ dy: UnsafePointer<Float>, rows: Int, into dx: UnsafeMutablePointer<Float>, accumulate: Bool) {
        inputGradient(dy, rows: rows, outputs: 0..<outFeatures, ldDy: outFeatures, into: dx, accumulate: accumulate)
    }

    /// `dx[rows, in] += dy[rows, out] · W`.
    public func accumulateInputGradient(_ dy: UnsafePointer<Float>, rows: Int, into dx: UnsafeMutablePointer<Float>) {
        inputGradient(dy, rows: rows, into: dx, accumulate: true)
    }

    /// `dx[rows, in] += dy[rows, outputs.count] · W[outputs]`.
    public func accumulateInputGradient(_ dy: UnsafePointer<Float>, rows: Int, outputs: Range<Int>, ldDy: Int, into dx: UnsafeMutablePointer<Float>) {
        inputGradient(dy, rows: rows, outputs: outputs, ldDy: ldDy, into: dx, accumulate: true)
    }
}

extension Parameter: LinearWeight {
    public var outFeatures: Int { value.shape[0] }
    public var inFeatures: Int { value.shape[1] }
    public var parameter: Parameter? { self }

    public func multiply(_ x: UnsafePointer<Float>, rows: Int, outputs: Range<Int>, into y: UnsafeMutablePointer<Float>, ldy: Int) {
        let k = inFeatures
        BLAS.gemm(transB: true, m: rows, n: outputs.count, k: k, a: x, lda: k, b: value.pointer + outputs.lowerBound * k, ldb: k,
                  c: y, ldc: ldy)
    }

    public func inputGradient(_ dy: UnsafePointer<Float>, rows: Int, outputs: Range<Int>, ldDy: Int, into dx: UnsafeMutablePointer<Float>,
                              accumulate: Bool) {
        let k = inFeatures
        if outputs.isEmpty { if !accumulate { dx.update(repeating: 0, count: rows * k) }; return }
        BLAS.gemm(m: rows, n: k, k: outputs.count, a: dy, lda: ldDy, b: value.pointer + outputs.lowerBound * k, ldb: k,
                  beta: accumulate ? 1 : 0, c: dx, ldc: k)
    }
}
