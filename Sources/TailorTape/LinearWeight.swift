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
    /// `dx[rows, in] += dy[rows, out] · W` (the input gradient).
    func accumulateInputGradient(_ dy: UnsafePointer<Float>, rows: Int, into dx: UnsafeMutablePointer<Float>)
    /// The dense trainable parameter behind this weight, or nil for a frozen quantized matrix.
    var parameter: Parameter? { get }
}

extension Parameter: LinearWeight {
    public var outFeatures: Int { value.shape[0] }
    public var inFeatures: Int { value.shape[1] }
    public var parameter: Parameter? { self }

    public func multiply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        MatMul.forward(x, value.pointer, y, m: rows, n: outFeatures, k: inFeatures, transA: false, transB: true)
    }

    public func accumulateInputGradient(_ dy: UnsafePointer<Float>, rows: Int, into dx: UnsafeMutablePointer<Float>) {
        MatMul.backward(dy, dy, value.pointer, dA: dx, dB: nil, m: rows, n: outFeatures, k: inFeatures, transA: false, transB: true)
    }
}
