import TailorTensor

extension Tape {
    /// `y = weight * x / rms(x)` over each run of `dim` elements of a row: x, y `[n, width]`, weight
    /// `[dim]`, where `dim` is the width (one norm per row) or divides it (one per head: Qwen3's
    /// q_norm and k_norm over `[n, heads·headDim]`).
    public func rmsNorm(_ x: Variable, weight: Parameter, eps: Float) -> Variable {
        let dim = weight.value.count
        precondition(weight.value.shape == [dim] && x.shape.count == 2 && dim > 0 && x.shape[1] % dim == 0,
                     "rmsNorm \(weight.name): weight \(weight.value.shape) vs input \(x.shape)")
        let rows = x.shape[0] * (x.shape[1] / dim)  // runs of dim elements
        let y = Tensor(uninitialized: x.shape)   // [n, width]
        let rstd = Tensor(uninitialized: [rows]) // [n · width / dim]
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
