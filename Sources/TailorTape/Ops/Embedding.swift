import TailorTensor

extension Tape {
    /// Row gather: out `[ids.count, dim]` = table `[vocab, dim]` rows at `ids`.
    /// The table gets a gradient (scatter-add) only when it requires one.
    public func embedding(_ ids: [Int32], table: Parameter) -> Variable {
        let dim = table.value.shape[1], vocab = table.value.shape[0]
        precondition(ids.allSatisfy { $0 >= 0 && Int($0) < vocab }, "embedding \(table.name): token id outside 0..<\(vocab)")
        let out = Tensor(uninitialized: [ids.count, dim])  // [n, dim]
        ids.withUnsafeBufferPointer { Embedding.forward(table: table.value.pointer, ids: $0, dim: dim, out: out.pointer) }
        return record(out, needsGradient: table.requiresGrad) { dOut, _ in
            ids.withUnsafeBufferPointer {
                Embedding.backward(dOut: dOut.pointer, ids: $0, dim: dim, dTable: table.gradientBuffer().pointer)
            }
        }
    }
}
