import ArgumentParser
import Foundation
import Tailor

@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tailor-bench",
        abstract: "Tailor's benchmarks: LoRA training steps, the PyTorch+PEFT comparison, kernel timings.",
        subcommands: [Step.self, Compare.self, Kernels.self],
        defaultSubcommand: Step.self)
}

/// One training configuration, timed in this process.
struct Step: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Times LoRA training steps (AdamW) on a named shape and compares with a plain sgemm.")

    @Option(help: "Shape: \(BenchShape.all.map(\.name).joined(separator: ", ")).") var shape = "smollm-135m"
    @Option(help: "Sequences per batch.") var batch = 4
    @Option(help: "Tokens per sequence.") var seq = 256
    @Option(help: "LoRA rank (all-linear).") var rank = 8
    @Option(help: "Checkpointing: none, blocks, every:K.") var checkpointing = "none"
    @Option(help: "Block projection weights: f32, or q8_0, q4_0, q4_k, q5_k, q6_k, nf4, bf16 (converted at load, as `tailor train --quantize`).")
    var quantize = "f32"
    @Option(help: "Products of block-format bases: f32, or bf16 (as `tailor train --compute bf16`).") var compute = "f32"
    @Option(help: "Dense frozen matrices: f32, or stored (held as bf16, as `tailor train --base-dtype stored` keeps a bf16 checkpoint).")
    var baseDtype = "f32"
    @Option(help: "Timed steps (after one warm-up step); the median is reported.") var steps = 3
    @Option(help: "Threads for BLAS and Tailor's loops (default: all cores).") var threads: Int?
    @Flag(help: "Skip the sgemm probe.") var noProbe = false
    @Flag(help: "Print one JSON line (used by `compare`).") var json = false

    func run() throws {
        try FastMath.checkInstructionSetCap()
        let r = try StepResult.measure(shape: shape, batch: batch, seq: seq, rank: rank, checkpointing: checkpointing,
                                       quantize: quantize, compute: compute, frozen: try FrozenStorage(parsing: baseDtype),
                                       steps: steps, threads: threads, probe: !noProbe)
        if json {
            let data = try JSONEncoder().encode(r)
            print(String(decoding: data, as: UTF8.self))
        } else {
            if let p = r.sgemmGFLOPs { print(String(format: "sgemm peak (2048³, %d threads): %.1f GFLOP/s", r.threads, p)) }
            print("shape \(r.shape)  base \(r.quantize)\(r.baseDtype == "stored" ? " (dense matrices stored bf16)" : "")\(r.compute == "bf16" ? " (bf16 compute)" : "")  batch \(r.batch)×\(r.seq)  r \(r.rank) all-linear  checkpointing \(r.checkpointing)  threads \(r.threads)  AdamW  kernels \(FastMath.kernelSet)")
            print(String(format: "median step %.3f s  %.1f tokens/s  %.1f GFLOP/s%@  peak RSS %.2f GiB  loss %.4f  (steps %@)",
                         r.medianStep, r.tokensPerSecond, r.gflops,
                         r.sgemmGFLOPs.map { String(format: " (%.0f%% of sgemm)", 100 * r.gflops / $0) } ?? "",
                         r.peakRSSGiB, r.loss, r.stepSeconds.map { String(format: "%.2f", $0) }.joined(separator: " ")))
        }
    }
}

struct StepResult: Codable {
    var shape: String, batch: Int, seq: Int, rank: Int, checkpointing: String, threads: Int
    /// The block projections' format: `f32` or a `--quantize` value.
    var quantize: String
    /// `bf16` when a block-format base ran its products in bf16 (nil in older results: f32).
    var compute: String?
    /// `stored` when the dense frozen matrices were held as bf16 (nil in older results: f32).
    var baseDtype: String?
    var stepSeconds: [Double], medianStep: Double, tokensPerSecond: Double, gflops: Double, sgemmGFLOPs: Double?
    var peakRSSGiB: Double, loss: Float
    /// Whether bf16 products ran on AMX tiles (nil in results from before the field existed).
    var amx: Bool?
    /// tokens/s of the fastest timed step (load only ever adds time).
    var bestTokensPerSecond: Double { Double(batch * seq) / stepSeconds.min()! }

    static func measure(shape: String, batch: Int, seq: Int, rank: Int, checkpointing: String, quantize: String = "f32",
                        compute: String = "f32", frozen: FrozenStorage = .f32, steps: Int, threads: Int?, probe: Bool) throws -> StepResult {
        if let threads { BLAS.threads = threads; Parallel.workers = threads }
        guard let s = BenchShape.all.first(where: { $0.name == shape }) else { throw ValidationError("unknown shape \(shape)") }
        let policy: CheckpointPolicy
        switch checkpointing {
        case "none": policy = .none
        case "blocks": policy = .everyBlock
        case let v where v.hasPrefix("every:"): policy = .every(Int(v.dropFirst(6)) ?? 1)
        default: throw ValidationError("checkpointing must be none, blocks or every:K")
        }
        // The same parser `tailor train --quantize` uses; "f32" keeps the dense weights.
        let base = quantize.lowercased() == "f32" ? nil : try BaseQuantization(parsing: quantize)
        let memory = Double(ProcessInfo.processInfo.physicalMemory)
        guard Double(s.weightBytes(base)) < 0.7 * memory else {
            throw ValidationError("\(s.name) on a \(base?.rawValue ?? "f32") base needs about "
                + String(format: "%.1f GiB of weights, more than 70 %% of this machine's %.1f GiB; use --quantize q4_0, q4_k or nf4",
                         Double(s.weightBytes(base)) / 1073741824, memory / 1073741824))
        }
        let peak = probe ? SgemmProbe.measure() : nil
        BufferPool.trim()  // the probe's buffers are not part of training

        let model = try s.makeModel(seed: 1, quantize: base, frozen: frozen)
        switch compute {
        case "f32": break
        case "bf16": try model.computeInBF16()
        default: throw ValidationError("--compute must be f32 or bf16")
        }
        try model.addAdapters(LoRAConfiguration(rank: rank, alpha: Float(2 * rank)), seed: 2)
        var rng = SeededGenerator(seed: 3)
        let rows = (0..<batch).map { _ in (0..<seq).map { _ in Int(rng.next() % UInt64(s.vocab)) } }
        let data = Batch(sequences: rows)
        let params = model.trainableParameters
        let optimizer = AdamW()
        func step() -> Float {
            let tape = Tape()
            let out = model.loss(tape, data, checkpointing: policy)
            tape.backward(out.loss)
            optimizer.step(params, lr: 1e-4)
            for p in params { p.zeroGradient() }
            return out.loss.value[0]
        }
        _ = step()
        var times: [Double] = []
        var loss: Float = 0
        for _ in 0..<steps {
            let start = Date()
            loss = step()
            times.append(Date().timeIntervalSince(start))
        }
        let median = times.sorted()[times.count / 2]
        let tokens = Double(batch * seq)
        let recompute = policy == .none ? 0.0 : 1.0
        // LoRA training: forward (2N) + input gradients (2N) [+ recomputed forward (2N)].
        let flops = tokens * ((2 + recompute) * s.forwardLinearFLOPsPerToken + (3 + recompute) * s.attentionFLOPsPerToken(seq: seq))
        return StepResult(shape: s.name, batch: batch, seq: seq, rank: rank, checkpointing: checkpointing, threads: BLAS.threads,
                          quantize: base?.rawValue ?? "f32", compute: compute, baseDtype: frozen.rawValue,
                          stepSeconds: times, medianStep: median, tokensPerSecond: tokens / median,
                          gflops: flops / median / 1e9, sgemmGFLOPs: peak, peakRSSGiB: PeakMemory.gibibytes, loss: loss,
                          amx: BF16MatMul.usesAMX)
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

/// The 1-, 5- and 15-minute load averages, to judge how noisy a timing is.
enum Load {
    static var text: String {
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
    }
}
