import TailorTensor

/// A named tensor that training may update: a base weight, a norm weight or a LoRA factor.
///
/// Its gradient lives here, not on a tape, so that gradients from several tapes (gradient
/// accumulation, checkpoint recomputation) add into one buffer.
public final class Parameter: @unchecked Sendable {
    /// The checkpoint-style name, for example `model.layers.0.self_attn.q_proj.weight`.
    public let name: String
    /// The current value.
    public var value: Tensor
    /// Whether backward passes compute a gradient for it. Frozen base weights say false.
    public var requiresGrad: Bool
    /// The accumulated gradient, allocated on first use; nil until then or after ``zeroGradient()``.
    public private(set) var grad: Tensor?

    public init(_ name: String, _ value: Tensor, requiresGrad: Bool = false) {
        self.name = name
        self.value = value
        self.requiresGrad = requiresGrad
    }

    /// The gradient buffer, created as zeros the first time.
    public func gradientBuffer() -> Tensor {
        if let grad { return grad }
        let g = Tensor(zeros: value.shape)
        grad = g
        return g
    }

    /// Drops the gradient (the next backward starts from zero).
    public func zeroGradient() { grad = nil }
}

/// A value produced on a ``Tape``: a tensor plus the identity the tape uses for its gradient.
public struct Variable {
    /// The forward value.
    public let value: Tensor
    /// The index on the tape, or -1 when no gradient flows to this value.
    public let id: Int
    /// Whether a gradient is computed for this value.
    public var requiresGrad: Bool { id >= 0 }
    public var shape: [Int] { value.shape }
    /// The identity without the value: backward closures capture this (not the variable) when
    /// they need the gradient buffer but not the forward value, so the value can be freed.
    public var slot: GradientSlot { GradientSlot(id: id) }
}

/// A variable's place on its tape, without its value (see ``Variable/slot``).
public struct GradientSlot: Sendable {
    public let id: Int
}

/// A reverse-mode tape. Each op computes its forward value and, when a gradient is needed,
/// records a backward closure that captures only what it needs. ``backward(_:seed:)`` runs the
/// closures in reverse order, dropping each closure and its output gradient once consumed, so
/// saved activations are freed as the backward pass moves down the model.
///
/// A tape that is not recording (`Tape(recording: false)`) is the no-gradient mode: ops save
/// nothing and every output has `requiresGrad == false`.
public final class Tape {
    /// A backward closure: receives the output gradient and this tape (to reach input gradients).
    public typealias Backward = (_ outputGradient: Tensor, _ tape: Tape) -> Void

    public let isRecording: Bool
    /// Whether this tape re-runs a checkpointed segment in the backward: the segment's output
    /// value is then never read (only its gradient flows), so the segment may skip computing it.
    public internal(set) var isRecomputation = false
    private var backwards: [Backward?] = []
    private var shapes: [[Int]] = []
    private var grads: [Int: Tensor] = [:]
    private var parameters: [Int: Parameter] = [:]

    public init(recording: Bool = true) { isRecording = recording }

    /// The number of values recorded so far.
    public var count: Int { backwards.count }

    /// A value with no gradient (an input that is not differentiated).
    public func constant(_ t: Tensor) -> Variable { Variable(value: t, id: -1) }

    /// A leaf value whose gradient ``gradient(of:)`` returns after ``backward(_:seed:)``.
    public func input(_ t: Tensor, requiresGrad: Bool) -> Variable {
        guard isRecording && requiresGrad else { return constant(t) }
        return append(t, nil)
    }

    /// A parameter as a leaf; its gradient accumulates into ``Parameter/grad``.
    public func parameter(_ p: Parameter) -> Variable {
        guard isRecording && p.requiresGrad else { return constant(p.value) }
        let v = append(p.value, nil)
        parameters[v.id] = p
        return v
    }

    /// True when an op with these inputs must record a backward.
    public func needsGradient(_ inputs: Variable?...) -> Bool {
        isRecording && inputs.contains { $0?.requiresGrad == true }
    }

    /// True when an op with these inputs and parameters must record a backward.
    public func needsGradient(_ inputs: [Variable], parameters: [Parameter?]) -> Bool {
        isRecording && (inputs.contains { $0.requiresGrad } || parameters.contains { $0?.requiresGrad == true })
    }

    /// Records an op's output. `backward` is kept only when `needsGradient` is true.
    public func record(_ output: Tensor, needsGradient: Bool, backward: @escaping Backward) -> Variable {
        guard isRecording && needsGradient else { return constant(output) }
        return append(output, backward)
    }

    private func append(_ value: Tensor, _ backward: Backward?) -> Variable {
        backwards.append(backward)
        shapes.append(value.shape)
        return Variable(value: value, id: backwards.count - 1)
    }

    /// The gradient accumulator of `v` (zeros on first use), or nil when `v` needs none.
    /// Backward closures add into it.
    public func gradientBuffer(of v: Variable) -> Tensor? { gradientBuffer(of: v.slot) }

    /// The gradient accumulator of the variable in `slot` (see ``gradientBuffer(of:)-(Variable)``).
    public func gradientBuffer(of v: GradientSlot) -> Tensor? {
        guard v.id >= 0 else { return nil }
        if let p = parameters[v.id] { return p.gradientBuffer() }
        if let g = grads[v.id] { return g }
        let g = Tensor(zeros: shapes[v.id])
        grads[v.id] = g
        return g
    }

    /// Where an op whose backward writes every element of an input's gradient puts it: the
    /// accumulator and `accumulate == true` once a gradient has reached `slot` (or for a
    /// parameter), else a fresh uninitialised buffer that the op must fill (`accumulate ==
    /// false`). The first write then skips zeroing the buffer and reading the zeros back: zero
    /// fills were ~4 % of the cycles of a bf16 SmolLM-135M step at 2 × 2048.
    public func gradientDestination(of v: GradientSlot) -> (buffer: Tensor, accumulate: Bool)? {
        guard v.id >= 0 else { return nil }
        if let p = parameters[v.id] { return (p.gradientBuffer(), true) }
        if let g = grads[v.id] { return (g, true) }
        let g = Tensor(uninitialized: shapes[v.id])
        grads[v.id] = g
        return (g, false)
    }

    /// Makes `gradient` itself the gradient of `slot` when none has reached it yet (not a
    /// parameter), without a copy, and says whether it did. For a backward closure handing on
    /// its output gradient, which the tape drops once the closure returns; the closure must not
    /// write `gradient` afterwards or hand it to a second slot.
    public func adoptGradient(_ gradient: Tensor, for v: GradientSlot) -> Bool {
        guard v.id >= 0, parameters[v.id] == nil, grads[v.id] == nil, gradient.shape == shapes[v.id] else { return false }
        grads[v.id] = gradient
        return true
    }

    /// The gradient of a leaf created with ``input(_:requiresGrad:)``, after ``backward(_:seed:)``.
    public func gradient(of v: Variable) -> Tensor? {
        v.id >= 0 ? grads[v.id] : nil
    }

    /// Propagates from `output` with gradient `seed` (ones when nil) down to the leaves.
    public func backward(_ output: Variable, seed: Tensor? = nil) {
        precondition(isRecording, "backward on a tape that does not record")
        guard output.requiresGrad else { return }
        let s = seed ?? Tensor(shape: output.shape, values: [Float](repeating: 1, count: output.value.count))
        precondition(s.shape == output.shape, "backward: seed shape \(s.shape) != output shape \(output.shape)")
        let g = gradientBuffer(of: output)!
        Elementwise.accumulate(s.pointer, into: g.pointer, count: g.count)
        for id in stride(from: backwards.count - 1, through: 0, by: -1) {
            guard let fn = backwards[id] else { continue }
            backwards[id] = nil  // frees what the closure saved
            if let g = grads.removeValue(forKey: id) { fn(g, self) }
        }
    }
}
