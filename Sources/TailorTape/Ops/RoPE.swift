import TailorTensor

/// cos/sin tables for one model's RoPE, grown on demand to the largest position seen.
public final class RoPECache: @unchecked Sendable {
    public let inverseFrequencies: [Float]
    public private(set) var positions = 0
    public private(set) var cos: [Float] = []
    public private(set) var sin: [Float] = []

    public init(headDim: Int, theta: Float, scaling: RoPEScaling) {
        inverseFrequencies = RoPE.inverseFrequencies(headDim: headDim, theta: theta, scaling: scaling)
    }

    /// Ensures tables cover positions `0..<count`.
    public func reserve(_ count: Int) {
        guard count > positions else { return }
        let n = max(count, 2 * positions)
        (cos, sin) = RoPE.table(inverseFrequencies: inverseFrequencies, positions: n)
        positions = n
    }
}

extension Tape {
    /// Rotates every head of x `[rows, heads·headDim]` by its row's position `[rows]`.
    public func rope(_ x: Variable, heads: Int, headDim: Int, positions: [Int32], cache: RoPECache) -> Variable {
        let rows = x.shape[0]
        precondition(x.shape[1] == heads * headDim && positions.count == rows, "rope: input \(x.shape), \(positions.count) positions")
        cache.reserve(Int(positions.max() ?? 0) + 1)
        let (cosT, sinT) = (cache.cos, cache.sin)
        let y = Tensor(uninitialized: x.shape)  // [rows, heads·D]
        positions.withUnsafeBufferPointer { pos in
            RoPE.apply(x.value.pointer, y.pointer, rows: rows, heads: heads, headDim: headDim, positions: pos, cos: cosT, sin: sinT)
        }
        let xSlot = x.slot  // the backward does not need x's value
        return record(y, needsGradient: needsGradient(x)) { dy, tape in
            guard let (dx, accumulate) = tape.gradientDestination(of: xSlot) else { return }
            positions.withUnsafeBufferPointer { pos in  // dx (+)= Rᵀ dy
                RoPE.apply(dy.pointer, dx.pointer, rows: rows, heads: heads, headDim: headDim, positions: pos,
                           cos: cosT, sin: sinT, inverse: true, accumulate: accumulate)
            }
        }
    }
}
