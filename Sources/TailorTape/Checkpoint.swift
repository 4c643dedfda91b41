import TailorTensor

extension Tape {
    /// Runs `body` without keeping its activations: the forward keeps only `input`; the backward
    /// re-runs `body` on a fresh tape and backpropagates through it.
    ///
    /// `body` must be deterministic (same inputs, same outputs) — dropout masks come from a seed,
    /// not from a stateful generator — so the recomputed activations equal the first ones.
    /// Parameters used inside `body` receive their gradients in the backward. When `body` runs
    /// for the backward, its tape's ``Tape/isRecomputation`` is true: the value it returns is
    /// not read, so it may skip work that only that value needs.
    ///
    /// - Parameters:
    ///   - input: the segment's input, `[rows, hidden]`.
    ///   - trainable: whether any parameter used by `body` requires a gradient.
    public func checkpoint(_ input: Variable, trainable: Bool, _ body: @escaping (Tape, Variable) -> Variable) -> Variable {
        guard isRecording else { return body(self, input) }
        let free = Tape(recording: false)
        let output = body(free, free.constant(input.value)).value
        let saved = input.value
        return record(output, needsGradient: input.requiresGrad || trainable) { dOut, tape in
            let inner = Tape()
            inner.isRecomputation = true
            let x = inner.input(saved, requiresGrad: input.requiresGrad)
            let y = body(inner, x)
            inner.backward(y, seed: dOut)
            if let dx = inner.gradient(of: x), let g = tape.gradientBuffer(of: input) {
                Elementwise.accumulate(dx.pointer, into: g.pointer, count: g.count)
            }
        }
    }
}
