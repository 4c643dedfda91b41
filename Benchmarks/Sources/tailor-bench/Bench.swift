import ArgumentParser
import Foundation
import Tailor

@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tailor-bench",
        abstract: "Times LoRA training steps on named model shapes and compares with a plain sgemm.")

    @Option(help: "Shape: \(BenchShape.all.map(\.name).joined(separator: ", ")).") var shape = "smollm-135m"
    @Option(help: "Sequences per batch.") var batch = 4
    @Option(help: "Tokens per sequence.") var seq = 256
    @Option(help: "LoRA rank (all-linear).") var rank = 8
    @Option(help: "Checkpointing: none, blocks, every:K.") var checkpointing = "none"
    @Option(help: "Timed steps (after one warm-up step).") var steps = 3
    @Option(help: "Threads for BLAS and Tailor's loops (default: all cores).") var threads: Int?

    func run() throws {
        if let threads { BLAS.threads = threads; Parallel.workers = threads }
        guard let s = BenchShape.all.first(where: { $0.name == shape }) else { throw ValidationError("unknown shape \(shape)") }
        let policy: CheckpointPolicy
        switch checkpointing {
        case "none": policy = .none
        case "blocks": policy = .everyBlock
        case let v where v.hasPrefix("every:"): policy = .every(Int(v.dropFirst(6)) ?? 1)
        default: throw ValidationError("checkpointing must be none, blocks or every:K")
        }
        let peak = SgemmProbe.measure()
        print(String(format: "sgemm peak (2048³, %d threads): %.1f GFLOP/s", BLAS.threads, peak))

        let model = try s.makeModel(seed: 1)
        try model.addAdapters(LoRAConfiguration(rank: rank, alpha: Float(2 * rank)), seed: 2)
        var rng = SeededGenerator(seed: 3)
        let rows = (0..<batch).map { _ in (0..<seq).map { _ in Int(rng.next() % UInt64(s.vocab)) } }
        let data = Batch(sequences: rows)
        let params = model.trainableParameters
        func step() -> Float {
            let tape = Tape()
            let out = model.loss(tape, data, checkpointing: policy)
            tape.backward(out.loss)
            // The update: plain SGD over the adapters (the optimizer module is not part of this benchmark).
            for p in params { if let g = p.grad { BLAS.axpy(p.value.count, alpha: -1e-3, x: g.pointer, y: p.value.pointer) }; p.zeroGradient() }
            return out.loss.value[0]
        }
        _ = step()
        let start = Date()
        var loss: Float = 0
        for _ in 0..<steps { loss = step() }
        let seconds = Date().timeIntervalSince(start) / Double(steps)
        let tokens = Double(batch * seq)
        let recompute = policy == .none ? 0.0 : 1.0
        // LoRA training: forward (2N) + input gradients (2N) [+ recomputed forward (2N)].
        let flops = tokens * ((2 + recompute) * s.forwardLinearFLOPsPerToken + (3 + recompute) * s.attentionFLOPsPerToken(seq: seq))
        let gflops = flops / seconds / 1e9
        print("shape \(s.name)  batch \(batch)×\(seq)  r \(rank) all-linear  checkpointing \(checkpointing)  threads \(BLAS.threads)")
        print(String(format: "step %.3f s  %.1f tokens/s  %.1f GFLOP/s (%.0f%% of sgemm)  peak RSS %.2f GiB  loss %.4f",
                     seconds, tokens / seconds, gflops, 100 * gflops / peak, PeakMemory.gibibytes, loss))
    }
}

enum SgemmProbe {
    /// GFLOP/s of one 2048×2048×2048 sgemm (best of three).
    static func measure(n: Int = 2048) -> Double {
        let a = Tensor(zeros: [n, n]), b = Tensor(zeros: [n, n]), c = Tensor(zeros: [n, n])
        for i in 0..<a.count { a[i] = Float(i % 7) * 0.01; b[i] = Float(i % 5) * 0.01 }
        var best = Double.infinity
        for _ in 0..<3 {
            let t = Date()
            MatMul.forward(a.pointer, b.pointer, c.pointer, m: n, n: n, k: n, transA: false, transB: false)
            best = min(best, Date().timeIntervalSince(t))
        }
        return 2 * Double(n * n * n) / best / 1e9
    }
}

enum PeakMemory {
    /// Peak resident set size of this process.
    static var gibibytes: Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) * 1024 / Double(1 << 30)  // ru_maxrss is in KiB on Linux
    }
}
