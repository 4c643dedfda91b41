import TailorTensor

extension Tape {
    /// Causal attention (GQA/MQA, segments, window via `firstKey`).
    /// q: `[rows, heads·D]`, k, v: `[rows, kvHeads·D]` → `[rows, heads·D]`.
    public func attention(_ q: Variable, _ k: Variable, _ v: Variable, shape: AttentionShape, firstKey: [Int32]) -> Variable {
        let out = Tensor(uninitialized: q.shape)                          // [rows, heads·D]
        let lse = Tensor(uninitialized: [shape.batch, shape.heads, shape.seq]) // [B, H, T]
        firstKey.withUnsafeBufferPointer {
            Attention.forward(q: q.value.pointer, k: k.value.pointer, v: v.value.pointer, out: out.pointer,
                              lse: lse.pointer, shape: shape, firstKey: $0)
        }
        let (qv, kv, vv) = (q.value, k.value, v.value)
        return record(out, needsGradient: needsGradient(q, k, v)) { dOut, tape in
            firstKey.withUnsafeBufferPointer {
                Attention.backward(dOut: dOut.pointer, q: qv.pointer, k: kv.pointer, v: vv.pointer, out: out.pointer,
                                   lse: lse.pointer, dq: tape.gradientBuffer(of: q)?.pointer,
                                   dk: tape.gradientBuffer(of: k)?.pointer, dv: tape.gradientBuffer(of: v)?.pointer,
                                   shape: shape, firstKey: $0)
            }
        }
    }
}
