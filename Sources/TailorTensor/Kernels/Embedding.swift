/// Embedding lookup (row gather) and its backward (row scatter-add).
public enum Embedding {
    /// out[i, :] = table[ids[i], :]. table: `[vocab, dim]`, out: `[ids.count, dim]`.
    public static func forward(
        table: UnsafePointer<Float>, ids: UnsafeBufferPointer<Int32>, dim: Int,
        out: UnsafeMutablePointer<Float>
    ) {
        for (i, id) in ids.enumerated() {
            (out + i * dim).update(from: table + Int(id) * dim, count: dim)
        }
    }

    /// dTable[ids[i], :] += dOut[i, :]. dOut: `[ids.count, dim]`, dTable: `[vocab, dim]`.
    public static func backward(
        dOut: UnsafePointer<Float>, ids: UnsafeBufferPointer<Int32>, dim: Int,
        dTable: UnsafeMutablePointer<Float>
    ) {
        // Sequential: repeated ids add into the same row.
        for (i, id) in ids.enumerated() {
            BLAS.axpy(dim, alpha: 1, x: dOut + i * dim, y: dTable + Int(id) * dim)
        }
    }
}
