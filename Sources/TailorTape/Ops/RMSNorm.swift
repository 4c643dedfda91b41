import TailorTensor

extension Tape {
    /// `y = weight * x / rms(x)` per row. x, y: `[rows, dim]`; weight: `[dim]`.
    public func rmsNorm(_ x: Variable, weight: Parameter, eps: Float) -> Variable {
        let rows = x.shape[0], dim = x.shape[1]
        precondition(weight.value.shape == [dim], "rmsNorm \(weight.name): weight \(weight.value.shape) vs input \(x.shape)")
        let y = Tensor(uninitialized: x.shape)   // [rows, dim]
        let rstd = Tensor(uninitialized: [rows]) // [rows]
        RMSNorm.forward(x: x.value.pointer, weight: weight.value.pointer, y: y.pointer, rstd: rstd.pointer,
                        rows: rows, dim: dim, eps: eps)
        let xv = x.value
        return record(y, needsGradient: needsGradient([x], parameters: [weight])) { dy, tape in
            RMSNorm.backward(dy: dy.pointer, x: xv.pointer, weight: weight.value.pointer, rstd: rstd.pointer,
                             dx: tape.gradientBuffer(of: x)?.pointer,
                             dWeight: weight.requiresGrad ? weight.gradientBuffer().pointer : nil, rows: rows, dim: dim)
        }
    }
}
