import TailorTensor

extension Tape {
    /// `silu(gate) * up`, elementwise. gate, up, out: same shape.
    public func swiglu(_ gate: Variable, _ up: Variable) -> Variable {
        precondition(gate.shape == up.shape, "swiglu: gate \(gate.shape) vs up \(up.shape)")
        let h = Tensor(uninitialized: gate.shape)
        SwiGLU.forward(gate: gate.value.pointer, up: up.value.pointer, h: h.pointer, count: h.count)
        // The backward keeps gate and up, never h: a captured h would hold a [rows, ffn] buffer per
        // block until the backward (a sixth of the activations without checkpointing).
        let (g, u, count) = (gate.value, up.value, h.count)
        let (gateSlot, upSlot) = (gate.slot, up.slot)
        return record(h, needsGradient: needsGradient(gate, up)) { dh, tape in
            let dGate = tape.gradientDestination(of: gateSlot), dUp = tape.gradientDestination(of: upSlot)
            SwiGLU.backward(dh: dh.pointer, gate: g.pointer, up: u.pointer, dGate: dGate?.buffer.pointer, dUp: dUp?.buffer.pointer,
                            count: count, accumulateGate: dGate?.accumulate ?? true, accumulateUp: dUp?.accumulate ?? true)
        }
    }

    /// `a + b`, elementwise (the residual connection).
    public func add(_ a: Variable, _ b: Variable) -> Variable {
        precondition(a.shape == b.shape, "add: \(a.shape) vs \(b.shape)")
        let out = Tensor(uninitialized: a.shape)
        Elementwise.add(a.value.pointer, b.value.pointer, out.pointer, count: out.count)
        let slots = [a.slot, b.slot]  // the backward needs neither value
        return record(out, needsGradient: needsGradient(a, b)) { d, tape in
            // The tape is done with d: the first input no gradient reached yet takes it as it is.
            var handedOn = false
            for x in slots {
                if !handedOn && tape.adoptGradient(d, for: x) { handedOn = true; continue }
                guard let (g, accumulate) = tape.gradientDestination(of: x) else { continue }
                if accumulate { Elementwise.accumulate(d.pointer, into: g.pointer, count: g.count) }
                else { g.pointer.update(from: d.pointer, count: g.count) }
            }
        }
    }
}
