import ArgumentParser
import Foundation
import Tailor

/// The issue-7 table in one run: Tailor and PyTorch+PEFT side by side, each configuration in its
/// own process (peak RSS is per process), then the ratios against the targets; then Tailor on
/// Q8_0 and Q4_0 bases against its own f32 rows (issue #5: Q4 ≥ 0.9× f32 tokens/s).
struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tailor vs PyTorch+PEFT (tokens/s, peak RSS, ratios), quantized bases vs f32, thread scaling and long sequences.")

    @Option(help: "Shape (both systems).") var shape = "smollm-135m"
    @Option(help: "Sequences per batch.") var batch = 4
    @Option(help: "Tokens per sequence.") var seq = 256
    @Option(help: "Timed steps per configuration (median reported).") var steps = 3
    @Option(help: "Threads (both systems).") var threads = 2
    @Option(help: "Python with torch, transformers and peft (default: $TAILOR_PEER_PYTHON, else python3).")
    var peerPython: String?
    @Option(help: "Sequence length of the long-sequence row.") var longSeq = 2048
    @Option(help: "Batch of the long-sequence row.") var longBatch = 2
    @Flag(help: "Do not run the peer.") var skipPeer = false
    @Flag(help: "Skip the one-thread row.") var skipScaling = false
    @Flag(help: "Skip the long-sequence rows (f32, and bf16 unless --skip-bf16).") var skipLong = false
    @Flag(help: "Skip the quantized-base rows (q8_0, q4_0, q4_0 with bf16 compute).") var skipQuantized = false
    @Flag(help: "Skip the bf16 (AMX) rows and the peer's bf16 runs.") var skipBF16 = false

    /// Quantized bases timed against the f32 rows (issue #5/#7: Q4 ≥ 0.9× the f32 tokens/s), and Q4
    /// with bf16 compute (`--compute bf16`, QLoRA's usual compute dtype).
    static let quantizedBases = [(base: "q8_0", compute: "f32"), (base: "q4_0", compute: "f32"), (base: "q4_0", compute: "bf16")]

    func run() throws {
        try FastMath.checkInstructionSetCap()
        print("load average at start: \(Load.text); Tailor's kernels: \(FastMath.kernelSet)")
        let python = peerPython ?? ProcessInfo.processInfo.environment["TAILOR_PEER_PYTHON"] ?? "python3"
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("peers/peft_bench.py").path
        var rows: [(String, StepResult, Peer?)] = []
        for ck in ["none", "blocks"] {
            let t = try tailor(ck, batch: batch, seq: seq, threads: threads)
            let p = skipPeer ? nil : try peer(python: python, script: script, checkpointing: ck != "none")
            report(t, p)
            rows.append(("checkpointing \(ck)", t, p))
        }
        // The mixed-precision fast path against the peer in fp32 (the issue's baseline) and in bf16.
        var bf16: [(String, StepResult, Peer?)] = []
        if !skipBF16 {
            for ck in ["none", "blocks"] {
                let t = try tailor(ck, batch: batch, seq: seq, threads: threads, quantize: "bf16")
                let p = skipPeer ? nil : try peer(python: python, script: script, checkpointing: ck != "none", dtype: "bfloat16")
                report(t, p)
                bf16.append(("checkpointing \(ck)", t, p))
            }
        }
        // Tailor only: the same steps on a quantized base, per checkpointing mode.
        var quantized: [(base: String, none: StepResult, blocks: StepResult)] = []
        if !skipQuantized {
            for (q, compute) in Self.quantizedBases {
                let none = try tailor("none", batch: batch, seq: seq, threads: threads, quantize: q, compute: compute)
                report(none, nil)
                let blocks = try tailor("blocks", batch: batch, seq: seq, threads: threads, quantize: q, compute: compute)
                report(blocks, nil)
                quantized.append((compute == "f32" ? q : "\(q), bf16 compute", none, blocks))
            }
        }
        var oneThread: StepResult?
        if !skipScaling {
            oneThread = try tailor("none", batch: batch, seq: seq, threads: 1)
            report(oneThread!, nil)
        }
        // Each long row right after its short row again, so the ratio compares two runs a minute apart
        // rather than minutes apart (this host's load drifts by more than the margin).
        var longPairs: [(name: String, short: StepResult, long: StepResult)] = []
        if !skipLong {
            for q in bf16.isEmpty ? ["f32"] : ["f32", "bf16"] {
                let short = try tailor("none", batch: batch, seq: seq, threads: threads, quantize: q)
                report(short, nil)
                let long = try tailor("none", batch: longBatch, seq: longSeq, threads: threads, quantize: q)
                report(long, nil)
                longPairs.append((q, short, long))
            }
        }

        print("\nload average at end: \(Load.text)")
        print("\ntokens/s below are from each configuration's fastest timed step: on a shared machine load only adds time.")
        print("\n| \(shape), r 8 all-linear, AdamW, \(threads) threads, batch \(batch) × \(seq) | Tailor tokens/s | PyTorch+PEFT tokens/s | speed ratio (≥ 1.6) | Tailor peak RSS | PyTorch+PEFT peak RSS | RSS ratio (≤ 0.3) |")
        print("|---|---|---|---|---|---|---|")
        for (name, t, p) in rows {
            let speed = p.map { String(format: "%.2f×", t.bestTokensPerSecond / $0.bestTokensPerSecond) } ?? "–"
            let rss = p.map { String(format: "%.2f", t.peakRSSGiB / ($0.peak_rss_mib / 1024)) } ?? "–"
            print(String(format: "| %@ | %.1f | %@ | %@ | %.2f GiB | %@ | %@ |", name, t.bestTokensPerSecond,
                         p.map { String(format: "%.1f", $0.bestTokensPerSecond) } ?? "–", speed, t.peakRSSGiB,
                         p.map { String(format: "%.2f GiB", $0.peak_rss_mib / 1024) } ?? "–", rss))
        }
        if !bf16.isEmpty {
            print("\n| \(shape), bf16 mixed precision (Tailor `--quantize bf16`: AMX tiles \(bf16[0].1.amx ?? false ? "on" : "off")), r 8, \(threads) threads, batch \(batch) × \(seq) | Tailor tokens/s | / PyTorch+PEFT fp32 (≥ 1.6) | PyTorch+PEFT bf16 tokens/s | / PyTorch+PEFT bf16 | Tailor peak RSS | PyTorch+PEFT bf16 peak RSS |")
            print("|---|---|---|---|---|---|---|")
            for ((name, t, p), (_, _, p32)) in zip(bf16, rows) {
                print(String(format: "| %@ | %.1f | %@ | %@ | %@ | %.2f GiB | %@ |", name, t.bestTokensPerSecond,
                             p32.map { String(format: "%.2f×", t.bestTokensPerSecond / $0.bestTokensPerSecond) } ?? "–",
                             p.map { String(format: "%.1f", $0.bestTokensPerSecond) } ?? "–",
                             p.map { String(format: "%.2f×", t.bestTokensPerSecond / $0.bestTokensPerSecond) } ?? "–", t.peakRSSGiB,
                             p.map { String(format: "%.2f GiB", $0.peak_rss_mib / 1024) } ?? "–"))
            }
        }
        let base = rows[0].1
        if !quantized.isEmpty { printQuantizedTable(f32: (rows[0].1, rows[1].1), quantized) }
        if let oneThread {
            // The f32 seq-256 row of the long-sequence pairs runs right after the one-thread row: the
            // adjacent pair, as for the long sequences; the first row otherwise.
            let adjacent = longPairs.first(where: { $0.name == "f32" })?.short, many = adjacent ?? base
            print(String(format: "\nthreads: %d threads %.1f tokens/s (%@) vs 1 thread %.1f tokens/s = %.2f× (target ≥ 1.7×)",
                         threads, many.bestTokensPerSecond, adjacent == nil ? "the first row" : "run right after the one-thread row",
                         oneThread.bestTokensPerSecond, many.bestTokensPerSecond / oneThread.bestTokensPerSecond))
        }
        for (name, short, long) in longPairs {
            print(String(format: "seq %d (batch %d), %@: %.1f tokens/s, peak RSS %.2f GiB; cost per token %.2f× seq %d's (%.1f tokens/s, run just before; target ≤ 1.3×)",
                         long.seq, long.batch, name, long.bestTokensPerSecond, long.peakRSSGiB,
                         short.bestTokensPerSecond / long.bestTokensPerSecond, seq, short.bestTokensPerSecond))
        }
    }

    /// Quantized bases against the f32 rows: tokens/s, ratio, peak RSS, and the Q4 / f32 target line.
    func printQuantizedTable(f32: (none: StepResult, blocks: StepResult), _ quantized: [(base: String, none: StepResult, blocks: StepResult)]) {
        print("\n| \(shape), base of the block projections, Tailor, r 8 all-linear, AdamW, \(threads) threads, batch \(batch) × \(seq) | checkpointing none tokens/s | / f32 | checkpointing blocks tokens/s | / f32 | peak RSS none | peak RSS blocks |")
        print("|---|---|---|---|---|---|---|")
        for (name, none, blocks) in [("f32", f32.none, f32.blocks)] + quantized {
            print(String(format: "| %@ | %.1f | %.2f× | %.1f | %.2f× | %.2f GiB | %.2f GiB |", name,
                         none.bestTokensPerSecond, none.bestTokensPerSecond / f32.none.bestTokensPerSecond,
                         blocks.bestTokensPerSecond, blocks.bestTokensPerSecond / f32.blocks.bestTokensPerSecond,
                         none.peakRSSGiB, blocks.peakRSSGiB))
        }
        if let q4 = quantized.first(where: { $0.base == "q4_0" }) {
            print(String(format: "Q4 / f32 tokens/s, target ≥ 0.9: checkpointing none %.2f×, checkpointing blocks %.2f×",
                         q4.none.bestTokensPerSecond / f32.none.bestTokensPerSecond, q4.blocks.bestTokensPerSecond / f32.blocks.bestTokensPerSecond))
        }
    }

    struct Peer: Decodable {
        var tokens_per_s: Double
        var peak_rss_mib: Double
        var median_step_s: Double
        var step_s: [Double]
        var batch: Int, seq: Int
        /// tokens/s of the fastest timed step (load only ever adds time).
        var bestTokensPerSecond: Double { Double(batch * seq) / step_s.min()! }
    }

    func report(_ t: StepResult, _ p: Peer?) {
        var line = String(format: "tailor   %@%@ ckpt %@ batch %d×%d threads %d: %.1f tokens/s best, %.1f median (steps %@ s), peak RSS %.2f GiB, loss %.4f",
                          t.quantize, t.compute == "bf16" ? " (bf16 compute)" : "", t.checkpointing, t.batch, t.seq, t.threads, t.bestTokensPerSecond, t.tokensPerSecond,
                          t.stepSeconds.map { String(format: "%.2f", $0) }.joined(separator: " "), t.peakRSSGiB, t.loss)
        if let p {
            line += String(format: "\npeer     same: %.1f tokens/s best, %.1f median (steps %@ s), peak RSS %.2f GiB", p.bestTokensPerSecond, p.tokens_per_s,
                           p.step_s.map { String(format: "%.2f", $0) }.joined(separator: " "), p.peak_rss_mib / 1024)
        }
        print(line)
        fflush(nil)  // progress shows even when the output is a file
    }

    func tailor(_ checkpointing: String, batch: Int, seq: Int, threads: Int, quantize: String = "f32", compute: String = "f32") throws -> StepResult {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let out = try Self.runProcess(exe, ["step", "--shape", shape, "--batch", "\(batch)", "--seq", "\(seq)",
                                            "--checkpointing", checkpointing, "--quantize", quantize, "--compute", compute, "--steps", "\(steps)", "--threads", "\(threads)",
                                            "--no-probe", "--json"])
        return try JSONDecoder().decode(StepResult.self, from: Data(out.utf8))
    }

    func peer(python: String, script: String, checkpointing: Bool, dtype: String = "float32") throws -> Peer {
        var args = [script, "--shape", shape, "--batch", "\(batch)", "--seq", "\(seq)", "--steps", "\(steps)", "--threads", "\(threads)",
                    "--dtype", dtype]
        if checkpointing { args.append("--checkpointing") }
        let out = try Self.runProcess(python, args)
        return try JSONDecoder().decode(Peer.self, from: Data(out.utf8))
    }

    /// Runs a program and returns the last line of its standard output.
    static func runProcess(_ program: String, _ arguments: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: program.contains("/") ? program : "/usr/bin/env")
        p.arguments = program.contains("/") ? arguments : [program] + arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard p.terminationStatus == 0, let last = text.split(separator: "\n").last else {
            throw ValidationError("\(program) \(arguments.joined(separator: " ")) failed (\(p.terminationStatus)):\n\(text)")
        }
        return String(last)
    }
}
