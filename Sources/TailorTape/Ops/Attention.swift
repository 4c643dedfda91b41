import TailorTensor

extension Tape {
    /// Causal attention (GQA/MQA, segments, window via `firstKey`).
    /// q: `[rows, heads·D]`, k, v: `[rows, kvHeads·D]` → `[rows, heads·D]`.
    /// With `bf16`, every product takes bf16 operands with fp32 accumulation on AMX tiles
    /// (``Attention/forwardBF16(q:k:v:out:lse:shape:firstKey:)``); without AMX it is the fp32 kernel.
    public func attention(_ q: Variable, _ k: Variable, _ v: Variable, shape: AttentionShape, firstKey: [Int32],
                          bf16: Bool = false) -> Variable {
        let out = Tensor(uninitialized: q.shape)                          // [rows, heads·D]
        let lse = Tensor(uninitialized: [shape.batch, shape.heads, shape.seq]) // [B, H, T]
        firstKey.withUnsafeBufferPointer {
            let forward = bf16 ? Attention.forwardBF16 : Attention.forward
            forward(q.value.pointer, k.value.pointer, v.value.pointer, out.pointer, lse.pointer, shape, $0)
        }
        let (qv, kv, vv) = (q.value, k.value, v.value)
        return record(out, needsGradient: needsGradient(q, k, v)) { dOut, tape in
            firstKey.withUnsafeBufferPointer {
                let backward = bf16 ? Attention.backwardBF16 : Attention.backward
                backward(dOut.pointer, qv.pointer, kv.pointer, vv.pointer, out.pointer, lse.pointer,
                         tape.gradientBuffer(of: q)?.pointer, tape.gradientBuffer(of: k)?.pointer,
                         tape.gradientBuffer(of: v)?.pointer, shape, $0)
            }
        }
    }
}
