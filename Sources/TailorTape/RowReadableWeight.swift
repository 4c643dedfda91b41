import TailorTensor

/// A frozen weight whose rows can be read as fp32 a range at a time: a quantized token embedding
/// is looked up row by row this way, so the table never exists whole in fp32.
public protocol RowReadableWeight: LinearWeight {
    /// Writes rows `range` of W as fp32, row-major `[range.count, inFeatures]`.
    func dequantizeRows(_ range: Range<Int>, into out: UnsafeMutablePointer<Float>)
}

extension Tape {
    /// Row gather from any table: a dense ``Parameter`` goes through ``embedding(_:table:)``
    /// (with its gradient); a frozen ``RowReadableWeight`` dequantizes only the looked-up rows and
    /// gets no gradient.
    public func embedding(_ ids: [Int32], table: any LinearWeight) -> Variable {
        if let p = table.parameter { return embedding(ids, table: p) }
        guard let rows = table as? any RowReadableWeight else {
            preconditionFailure("embedding \(table.name): a frozen table must be row-readable")
        }
        let dim = table.inFeatures, vocab = table.outFeatures
        precondition(ids.allSatisfy { $0 >= 0 && Int($0) < vocab }, "embedding \(table.name): token id outside 0..<\(vocab)")
        let out = Tensor(uninitialized: [ids.count, dim])  // [n, dim]
        for (i, id) in ids.enumerated() { rows.dequantizeRows(Int(id)..<(Int(id) + 1), into: out.pointer + i * dim) }
        return constant(out)
    }
}
