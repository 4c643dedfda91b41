import TailorTensor

/// A low-rank adapter on one linear layer: `ΔW = scale · B · A` (PEFT layout).
public final class LoRAWeights: @unchecked Sendable {
    /// `[rank, in]`
    public let a: Parameter
    /// `[out, rank]`
    public let b: Parameter
    /// `alpha / rank`, or `alpha / √rank` with rsLoRA.
    public let scale: Float
    /// Dropout probability on the adapter's input only (the base path sees the undropped input).
    public let dropout: Float

    public init(a: Parameter, b: Parameter, scale: Float, dropout: Float) {
        precondition(a.value.shape.count == 2 && b.value.shape.count == 2 && a.value.shape[0] == b.value.shape[1],
                     "LoRA: A \(a.value.shape) and B \(b.value.shape) do not chain")
        self.a = a; self.b = b; self.scale = scale; self.dropout = dropout
    }

    public var rank: Int { a.value.shape[0] }
}

extension Tape {
    /// `y = x·Wᵀ + bias + scale · (dropout(x)·Aᵀ)·Bᵀ`.
    ///
    /// x: `[rows, in]`, weight: `[out, in]` (dense or quantized, see ``LinearWeight``), bias: `[out]`, y: `[rows, out]`. The weight gets a
    /// gradient only when it requires one (full fine-tuning); a frozen base never does.
    /// `dropoutSeed` fixes the LoRA dropout mask (nil: no dropout, as in evaluation).
    /// `recomputeInput`, when given, rebuilds x's value bit for bit in the backward (only if a
    /// weight or adapter gradient needs it), so this op does not keep x alive.
    /// `valueUnused` (only on a ``isRecomputation`` tape, for an output that nothing reads) skips
    /// the products that only y's value needs — the base product, the most expensive part — and
    /// returns zeros; the backward is unchanged, as it never reads y.
    public func linear(
        _ x: Variable, weight: any LinearWeight, bias: Parameter? = nil, lora: LoRAWeights? = nil, dropoutSeed: UInt64? = nil,
        recomputeInput: (() -> Tensor)? = nil, valueUnused: Bool = false
    ) -> Variable {
        let rows = x.shape[0], inDim = x.shape[1], outDim = weight.outFeatures
        precondition(weight.inFeatures == inDim, "linear \(weight.name): weight [\(outDim), \(weight.inFeatures)] vs input \(x.shape)")
        precondition(!valueUnused || isRecomputation, "linear \(weight.name): valueUnused outside a checkpoint's recomputation")
        let y = valueUnused ? Tensor(zeros: [rows, outDim]) : Tensor(uninitialized: [rows, outDim])  // [rows, out]
        if !valueUnused {
            weight.multiply(x.value.pointer, rows: rows, into: y.pointer)
            if let bias { for r in 0..<rows { Elementwise.accumulate(bias.value.pointer, into: y.pointer + r * outDim, count: outDim) } }
        }

        var t: Tensor?  // [rows, rank] = dropout(x)·Aᵀ, kept for dB
        let dropP = (lora?.dropout ?? 0) > 0 ? lora?.dropout : nil
        let seed = dropoutSeed
        if let lora {
            let r = lora.rank
            let xd = (dropP != nil && seed != nil) ? Self.dropped(x.value, p: dropP!, seed: seed!) : x.value  // [rows, in]
            let tt = Tensor(uninitialized: [rows, r])
            SkinnyMatMul.dots(xd.pointer, ldx: inDim, rows: rows, k: inDim, lora.a.value.pointer, r: r, into: tt.pointer, ldt: r)
            if !valueUnused {
                let bT = Self.transposed(lora.b.value)  // [r, out]
                SkinnyMatMul.rankUpdate(tt.pointer, ldt: r, rows: rows, r: r, bT.pointer, n: outDim, alpha: lora.scale,
                                        into: y.pointer, ldy: outDim, accumulate: true)
            }
            t = tt
        }
        let dense = weight.parameter  // nil for a frozen quantized matrix
        let needs = needsGradient([x], parameters: [dense, bias, lora?.a, lora?.b])
        let savedX: Tensor? = recomputeInput == nil ? x.value : nil
        let xSlot = x.slot
        return record(y, needsGradient: needs) { dy, tape in
            var input = savedX
            func xv() -> Tensor {
                if let input { return input }
                let made = recomputeInput!()
                input = made
                return made
            }
            // in the forward pass this was: y = x Wᵀ + b + s·(xd Aᵀ) Bᵀ
            let destination = tape.gradientDestination(of: xSlot), dx = destination?.buffer  // [rows, in]
            if let (dx, accumulate) = destination { weight.inputGradient(dy.pointer, rows: rows, into: dx.pointer, accumulate: accumulate) }
            if let dense, dense.requiresGrad {
                MatMul.backward(dy.pointer, xv().pointer, dense.value.pointer, dA: nil, dB: dense.gradientBuffer().pointer, m: rows, n: outDim, k: inDim, transA: false, transB: true)
            }
            if let bias, bias.requiresGrad {
                let db = bias.gradientBuffer()  // [out]
                for r in 0..<rows { Elementwise.accumulate(dy.pointer + r * outDim, into: db.pointer, count: outDim) }
            }
            guard let lora, let t else { return }
            let r = lora.rank
            let bT = Self.transposed(lora.b.value)  // [r, out]
            if lora.b.requiresGrad {  // dB[out, r] += s · dyᵀ t, made as (s · tᵀ dy)ᵀ
                let dBT = Tensor(uninitialized: [r, outDim])  // [r, out]
                SkinnyMatMul.outer(t.pointer, ldt: r, rows: rows, r: r, dy.pointer, ldx: outDim, k: outDim, alpha: lora.scale,
                                   into: dBT.pointer, accumulate: false)
                Self.addTransposed(dBT, into: lora.b.gradientBuffer())
            }
            guard lora.a.requiresGrad || dx != nil else { return }
            let dt = Tensor(uninitialized: [rows, r])  // [rows, r] = s · dy B
            SkinnyMatMul.dots(dy.pointer, ldx: outDim, rows: rows, k: outDim, bT.pointer, r: r, alpha: lora.scale, into: dt.pointer, ldt: r)
            if lora.a.requiresGrad {  // dA[r, in] += dtᵀ xd
                let xd = (dropP != nil && seed != nil) ? Self.dropped(xv(), p: dropP!, seed: seed!) : xv()
                SkinnyMatMul.outer(dt.pointer, ldt: r, rows: rows, r: r, xd.pointer, ldx: inDim, k: inDim,
                                   into: lora.a.gradientBuffer().pointer, accumulate: true)
            }
            if let dx {
                if let p = dropP, let seed {  // dx += mask ⊙ (dt A) / (1 − p)
                    let dxd = Tensor(uninitialized: [rows, inDim])
                    SkinnyMatMul.rankUpdate(dt.pointer, ldt: r, rows: rows, r: r, lora.a.value.pointer, n: inDim, into: dxd.pointer, ldy: inDim, accumulate: false)
                    let masked = Self.dropped(dxd, p: p, seed: seed)
                    Elementwise.accumulate(masked.pointer, into: dx.pointer, count: dx.count)
                } else {
                    SkinnyMatMul.rankUpdate(dt.pointer, ldt: r, rows: rows, r: r, lora.a.value.pointer, n: inDim, into: dx.pointer, ldy: inDim, accumulate: true)
                }
            }
        }
    }

    /// `[rows, cols]` → `[cols, rows]` (an adapter factor: a few thousand elements).
    static func transposed(_ m: Tensor) -> Tensor {
        let rows = m.shape[0], cols = m.shape[1]
        let out = Tensor(uninitialized: [cols, rows])
        for i in 0..<rows { for j in 0..<cols { out.pointer[j * rows + i] = m.pointer[i * cols + j] } }
        return out
    }

    /// `acc[cols, rows] += mᵀ` for m `[rows, cols]`.
    static func addTransposed(_ m: Tensor, into acc: Tensor) {
        let rows = m.shape[0], cols = m.shape[1]
        for i in 0..<rows { for j in 0..<cols { acc.pointer[j * rows + i] += m.pointer[i * cols + j] } }
    }

    static func dropped(_ x: Tensor, p: Float, seed: UInt64) -> Tensor {
        let out = Tensor(uninitialized: x.shape)
        Dropout.apply(x.pointer, out.pointer, count: x.count, p: p, seed: seed)
        return out
    }
}
