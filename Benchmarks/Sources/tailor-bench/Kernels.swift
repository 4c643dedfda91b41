import ArgumentParser
import Foundation
import Tailor

/// Kernel timings on SmolLM-135M-sized operands (batch 4 × 256 = 1024 rows unless stated).
struct Kernels: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Microbenchmarks of the kernels a training step spends its time in.")

    static let groups = ["sgemm", "lora", "attention", "elementwise", "cross-entropy", "quantized"]

    @Option(help: "Threads for BLAS and Tailor's loops (default: all cores).") var threads: Int?
    @Option(help: "Repetitions per kernel (median reported).") var reps = 5
    @Option(help: "Only these groups, comma-separated: \(Kernels.groups.joined(separator: ", ")) (default: all).") var only: String?

    func run() throws {
        let selected = Set(only.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? Self.groups)
        if let bad = selected.first(where: { !Self.groups.contains($0) }) {
            throw ValidationError("--only \(bad): choose from \(Self.groups.joined(separator: ", "))")
        }
        if let threads { BLAS.threads = threads; Parallel.workers = threads }
        try FastMath.checkInstructionSetCap()
        print("threads \(BLAS.threads), load average \(Load.text), Tailor's kernels \(FastMath.kernelSet)")
        print("kernel                                           median ms     GFLOP/s or GB/s")
        var rng = SeededGenerator(seed: 7)
        func random(_ shape: [Int], _ scale: Float = 1) -> Tensor {
            let t = Tensor(uninitialized: shape)
            for i in 0..<t.count { t[i] = rng.uniform(-scale, scale) }
            return t
        }
        let timer = KernelTimer(reps: reps)

        // sgemm: the probe and the model's matmul shapes.
        if selected.contains("sgemm") {
            for (m, n, k, tb, label) in [(2048, 2048, 2048, false, "sgemm 2048³"),
                                         (1024, 1536, 576, true, "sgemm x·Wᵀ gate/up 1024×1536×576"),
                                         (1024, 576, 1536, true, "sgemm x·Wᵀ down 1024×576×1536"),
                                         (1024, 576, 576, true, "sgemm x·Wᵀ q/o 1024×576×576"),
                                         (1024, 576, 1536, false, "sgemm dy·W (dx of gate) 1024×576×1536"),
                                         (1024, 8, 576, true, "sgemm LoRA x·Aᵀ 1024×8×576"),
                                         (8, 576, 1024, false, "sgemm LoRA dA = dtᵀ·x 8×576×1024")] {
                let a = random([m, k]), b = random(tb ? [n, k] : [k, n]), c = Tensor(zeros: [m, n])
                let at = tb ? a : a
                timer.time(label, flops: 2 * Double(m * n * k)) {
                    MatMul.forward(at.pointer, b.pointer, c.pointer, m: m, n: n, k: k, transA: false, transB: tb)
                }
            }
        }

        // LoRA's rank-sized products (r 8) at the benchmark's row counts (4 × 256, 2 × 2048), both widths.
        if selected.contains("lora") {
            let r = 8
            for rows in [1024, 4096] {
                for k in [576, 1536] {
                    let x = random([rows, k]), a = random([r, k]), t = random([rows, r]), y = Tensor(zeros: [rows, k])
                    let flops = 2 * Double(rows * r * k)
                    timer.time("LoRA t = x·Aᵀ \(rows)×\(r)×\(k)", flops: flops) {
                        SkinnyMatMul.dots(x.pointer, ldx: k, rows: rows, k: k, a.pointer, r: r, into: t.pointer, ldt: r)
                    }
                    timer.time("LoRA y += t·B \(rows)×\(k)×\(r)", flops: flops) {
                        SkinnyMatMul.rankUpdate(t.pointer, ldt: r, rows: rows, r: r, a.pointer, n: k, into: y.pointer, ldy: k, accumulate: true)
                    }
                    timer.time("LoRA dA = tᵀ·x \(r)×\(k)×\(rows)", flops: flops) {
                        SkinnyMatMul.outer(t.pointer, ldt: r, rows: rows, r: r, x.pointer, ldx: k, k: k, into: a.pointer, accumulate: false)
                    }
                }
            }
        }

        // Attention (9 heads, 3 kv heads, D 64), forward and backward.
        if selected.contains("attention") {
            for (batch, seq) in [(4, 256), (2, 2048), (1, 2048)] {
                let s = AttentionShape(batch: batch, seq: seq, heads: 9, kvHeads: 3, headDim: 64)
                let rows = batch * seq
                let q = random([rows, 576]), k = random([rows, 192]), v = random([rows, 192])
                let out = Tensor(zeros: [rows, 576]), lse = Tensor(zeros: [batch, 9, seq])
                let dq = Tensor(zeros: [rows, 576]), dk = Tensor(zeros: [rows, 192]), dv = Tensor(zeros: [rows, 192])
                let first = Attention.firstVisibleKeys(batch: batch, seq: seq, segments: nil, window: nil)
                let flops = 2 * 2 * Double(batch * 9 * 64) * Double(seq * seq) / 2  // QKᵀ and PV, causal half
                first.withUnsafeBufferPointer { fk in
                    timer.time("attention forward \(batch)×\(seq)", flops: flops) {
                        Attention.forward(q: q.pointer, k: k.pointer, v: v.pointer, out: out.pointer, lse: lse.pointer, shape: s, firstKey: fk)
                    }
                    timer.time("attention backward \(batch)×\(seq)", flops: 2.5 * flops) {
                        Attention.backward(dOut: q.pointer, q: q.pointer, k: k.pointer, v: v.pointer, out: out.pointer, lse: lse.pointer,
                                           dq: dq.pointer, dk: dk.pointer, dv: dv.pointer, shape: s, firstKey: fk)
                    }
                    guard Attention.bf16UsesAMX else { return }
                    timer.time("attention forward bf16 (AMX) \(batch)×\(seq)", flops: flops) {
                        Attention.forwardBF16(q: q.pointer, k: k.pointer, v: v.pointer, out: out.pointer, lse: lse.pointer, shape: s, firstKey: fk)
                    }
                    timer.time("attention backward bf16 (AMX) \(batch)×\(seq)", flops: 2.5 * flops) {
                        Attention.backwardBF16(dOut: q.pointer, q: q.pointer, k: k.pointer, v: v.pointer, out: out.pointer, lse: lse.pointer,
                                               dq: dq.pointer, dk: dk.pointer, dv: dv.pointer, shape: s, firstKey: fk)
                    }
                }
            }
        }

        // Elementwise kernels on [1024, 576] / [1024, 1536].
        if selected.contains("elementwise") {
            let x = random([1024, 576]), w = random([576]), y = Tensor(zeros: [1024, 576]), rstd = Tensor(zeros: [1024])
            let dx = Tensor(zeros: [1024, 576]), dw = Tensor(zeros: [576])
            let bytes = Double(x.count * 4)
            timer.time("rmsnorm forward 1024×576", bytes: 2 * bytes) {
                RMSNorm.forward(x: x.pointer, weight: w.pointer, y: y.pointer, rstd: rstd.pointer, rows: 1024, dim: 576, eps: 1e-5)
            }
            timer.time("rmsnorm backward 1024×576", bytes: 4 * bytes) {
                RMSNorm.backward(dy: y.pointer, x: x.pointer, weight: w.pointer, rstd: rstd.pointer, dx: dx.pointer, dWeight: dw.pointer, rows: 1024, dim: 576)
            }
            let rope = RoPECache(headDim: 64, theta: 10000, scaling: .none)
            rope.reserve(256)
            let positions = (0..<1024).map { Int32($0 % 256) }
            positions.withUnsafeBufferPointer { pos in
                _ = timer.time("rope 1024×9×64", bytes: 2 * bytes) {
                    RoPE.apply(x.pointer, y.pointer, rows: 1024, heads: 9, headDim: 64, positions: pos, cos: rope.cos, sin: rope.sin)
                }
            }
            let g = random([1024, 1536]), u = random([1024, 1536]), h = Tensor(zeros: [1024, 1536])
            let dg = Tensor(zeros: [1024, 1536]), du = Tensor(zeros: [1024, 1536])
            timer.time("swiglu forward 1024×1536", bytes: 3 * Double(g.count * 4)) {
                SwiGLU.forward(gate: g.pointer, up: u.pointer, h: h.pointer, count: h.count)
            }
            timer.time("swiglu backward 1024×1536", bytes: 5 * Double(g.count * 4)) {
                SwiGLU.backward(dh: h.pointer, gate: g.pointer, up: u.pointer, dGate: dg.pointer, dUp: du.pointer, count: h.count)
            }
        }

        // Fused linear + cross-entropy over the 49152-token vocabulary, with the input gradient.
        if selected.contains("cross-entropy") {
            let x = random([1024, 576])
            let table = random([49152, 576], 0.035)
            let labels = (0..<1024).map { _ in Int32(rng.next() % 49152) }
            labels.withUnsafeBufferPointer { lb in
                _ = timer.time("cross-entropy (linear fused) 1024×576×49152", flops: 4 * 1024 * 576 * 49152) {
                    _ = CrossEntropy.linearForward(hidden: x.pointer, weight: table.pointer, labels: lb, rows: 1024, dim: 576, vocab: 49152,
                                                   normalizer: 1024, wantInputGradient: true, weightGradient: nil)
                }
            }
        }
        if selected.contains("quantized") { try QuantizedKernels.run(random: random, timer: timer) }
    }
}

/// Times a kernel: one warm-up call, then `reps` calls; prints and returns the median seconds.
struct KernelTimer {
    let reps: Int

    /// `versus`, a reference median, adds the speed relative to it (e.g. to sgemm of the same shape).
    @discardableResult
    func time(_ name: String, flops: Double = 0, bytes: Double = 0, versus: Double? = nil, _ body: () -> Void) -> Double {
        body()
        var ts: [Double] = []
        for _ in 0..<max(1, reps) { let t = Date(); body(); ts.append(Date().timeIntervalSince(t)) }
        let m = ts.sorted()[ts.count / 2]
        let rate = flops > 0 ? String(format: "%8.1f GFLOP/s", flops / m / 1e9) : String(format: "%8.1f GB/s", bytes / m / 1e9)
        let ratio = versus.map { String(format: "   %.2f× sgemm", $0 / m) } ?? ""
        print(name.padding(toLength: 48, withPad: " ", startingAt: 0) + String(format: " %9.3f    ", m * 1e3) + rate + ratio)
        fflush(nil)
        return m
    }
}
