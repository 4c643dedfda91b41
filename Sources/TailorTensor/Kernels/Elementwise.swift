/// Small elementwise helpers shared by ops.
public enum Elementwise {
    /// out = a + b over `count` elements.
    public static func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.forEachChunk(count, minChunk: 1 << 15) { r in
            for i in r { out[i] = a[i] + b[i] }
        }
    }

    /// y += x over `count` elements.
    public static func accumulate(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int, scale: Float = 1) {
        BLAS.axpy(count, alpha: scale, x: x, y: y)
    }
}
