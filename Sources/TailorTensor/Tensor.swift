import Foundation

/// A dense, row-major `Float` tensor that owns (or borrows) one contiguous buffer.
///
/// Tensors are reference types so that the tape can hand the same buffer to several
/// backward closures without copying; they are freed when the last reference goes.
/// Elementwise loops read and write ``pointer`` directly.
public final class Tensor: @unchecked Sendable {
    /// The dimensions, outermost first.
    public let shape: [Int]
    /// The number of elements, the product of ``shape``.
    public let count: Int
    /// The first element. Valid for ``count`` elements while the tensor lives.
    public let pointer: UnsafeMutablePointer<Float>
    /// Keeps borrowed memory (for example a memory-mapped file) alive; nil when owned.
    private let owner: AnyObject?

    /// A tensor of zeros.
    public init(zeros shape: [Int]) {
        self.shape = shape
        self.count = Tensor.elementCount(shape)
        self.pointer = Tensor.allocate(count)
        self.pointer.initialize(repeating: 0, count: count)
        self.owner = nil
    }

    /// A tensor whose elements the caller must write before reading.
    public init(uninitialized shape: [Int]) {
        self.shape = shape
        self.count = Tensor.elementCount(shape)
        self.pointer = Tensor.allocate(count)
        self.owner = nil
    }

    /// A tensor holding a copy of `values`, which must have `shape`'s element count.
    public convenience init(shape: [Int], values: [Float]) {
        precondition(Tensor.elementCount(shape) == values.count,
                     "Tensor: \(values.count) values do not fill shape \(shape)")
        self.init(uninitialized: shape)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: count) }
    }

    /// A tensor viewing memory that `owner` keeps alive (no copy).
    public init(borrowing pointer: UnsafeMutablePointer<Float>, shape: [Int], owner: AnyObject) {
        self.shape = shape
        self.count = Tensor.elementCount(shape)
        self.pointer = pointer
        self.owner = owner
    }

    deinit {
        if owner == nil { BufferPool.release(UnsafeMutableRawPointer(pointer), bytes: Tensor.byteCount(count)) }
    }

    /// A copy with its own buffer.
    public func copy() -> Tensor {
        let t = Tensor(uninitialized: shape)
        t.pointer.update(from: pointer, count: count)
        return t
    }

    /// The same buffer seen with another shape of the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(Tensor.elementCount(newShape) == count, "reshape \(shape) → \(newShape)")
        return Tensor(borrowing: pointer, shape: newShape, owner: self)
    }

    /// The elements as an array (for tests and small outputs).
    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    /// A read-only view of the elements.
    public var buffer: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: pointer, count: count) }

    /// Sets every element to zero.
    public func zero() { pointer.update(repeating: 0, count: count) }

    /// Element access by flat index (tests and cold paths only).
    public subscript(_ i: Int) -> Float {
        get { pointer[i] }
        set { pointer[i] = newValue }
    }

    /// The number of elements in a shape; every dimension must be non-negative.
    public static func elementCount(_ shape: [Int]) -> Int {
        var n = 1
        for d in shape {
            precondition(d >= 0, "negative dimension in \(shape)")
            n *= d
        }
        return n
    }

    /// 64-byte aligned so that SIMD loads and BLAS panels start on cache lines.
    private static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        BufferPool.acquire(bytes: byteCount(count)).bindMemory(to: Float.self, capacity: max(count, 1))
    }

    @inline(__always)
    private static func byteCount(_ count: Int) -> Int { max(count, 1) * MemoryLayout<Float>.stride }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = buffer.prefix(6).map { String(format: "%.5g", $0) }.joined(separator: ", ")
        return "Tensor\(shape)[\(head)\(count > 6 ? ", …" : "")]"
    }
}
