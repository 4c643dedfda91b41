import Foundation
import Testing
import TailorTensor
import TailorTestSupport

/// `TAILOR_ISA` caps Tailor's own kernels, so the paths other CPUs take (AVX2 kernels without
/// AVX-512, the Swift loops without AVX2, sgemm over bf16 values without AMX) run end to end on
/// this machine and train as the native kernels do.
@Suite struct InstructionSetTests {
    /// Per-step training losses of a short run (`--json`), with `TAILOR_ISA` set to `isa`.
    static func losses(_ isa: String, extra: [String] = []) throws -> [Double] {
        let model = try TokenizeCommandTests.modelFolder()
        let work = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: model); try? FileManager.default.removeItem(at: work) }
        let data = try TrainCommandTests.chatData(in: work)
        let r = try runTailor(["train", "--model", model.path, "--data", data.path, "--output", work.appendingPathComponent("out").path,
                               "--steps", "4", "--batch-size", "4", "--lr", "0.01", "--eval-every", "0", "--save-every", "0", "--json"] + extra,
                              environment: ["TAILOR_ISA": isa])
        #expect(r.status == 0, "TAILOR_ISA=\(isa): \(r.stderr)")
        return r.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["type"] as? String == "train" }.compactMap { $0["loss"] as? Double }
    }

    /// The AVX2 kernels and the Swift loops (RMSNorm, SwiGLU, attention's row passes, the
    /// exponentials, LoRA's rank-sized products, Q4_0 dequantization) train an fp32 model and a
    /// Q4_0 base as the native kernels do: the same losses up to summation order and the
    /// exponentials' last ulps.
    @Test(arguments: ["avx2", "generic"])
    func cappedKernelsTrainLikeNative(isa: String) throws {
        for extra in [[], ["--quantize", "q4_0"]] {
            let native = try Self.losses("native", extra: extra), capped = try Self.losses(isa, extra: extra)
            #expect(native.count == 4 && capped.count == 4, "\(extra): \(native) / \(capped)")
            for (a, b) in zip(native, capped) { #expect(abs(a - b) <= 1e-5 * abs(a), "\(extra): native \(native), \(isa) \(capped)") }
        }
    }

    /// Without AMX, `--compute bf16` multiplies the same bf16 values through sgemm: the same
    /// losses up to fp32 summation order.
    @Test(.enabled(if: BF16MatMul.usesAMX, "no AMX here: both runs take the sgemm path"))
    func bf16ComputeWithoutAMXTrainsLikeAMX() throws {
        let extra = ["--quantize", "q4_0", "--compute", "bf16"]
        let amx = try Self.losses("native", extra: extra), sgemm = try Self.losses("avx512", extra: extra)
        #expect(amx.count == 4 && sgemm.count == 4, "\(amx) / \(sgemm)")
        for (a, b) in zip(amx, sgemm) { #expect(abs(a - b) <= 1e-4 * abs(a), "AMX \(amx), sgemm \(sgemm)") }
    }

    /// The dry run names the kernels in use; a value that names no instruction set is refused.
    /// (What it expects is what this process runs uncapped.)
    @Test(.enabled(if: ["", "native"].contains(ProcessInfo.processInfo.environment["TAILOR_ISA"] ?? ""),
                   "the suite itself runs under a TAILOR_ISA cap"))
    func capIsReportedAndCheckedByTheCommandLine() throws {
        let model = try TokenizeCommandTests.modelFolder()
        let work = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: model); try? FileManager.default.removeItem(at: work) }
        let data = try TrainCommandTests.chatData(in: work)
        let args = ["train", "--model", model.path, "--data", data.path, "--output", work.appendingPathComponent("o").path, "--dry-run"]
        let avx2 = FastMath.vectorLevels.contains(.avx2) ? "AVX2" : "generic"  // a cap does not add what the CPU lacks
        for (isa, named) in [("generic", "generic"), ("avx2", avx2)] {
            let capped = try runTailor(args, environment: ["TAILOR_ISA": isa])
            #expect(capped.status == 0 && capped.stdout.contains("Tailor's kernels: \(named))"), "\(capped.stdout)\n\(capped.stderr)")
        }
        let native = try runTailor(args, environment: ["TAILOR_ISA": "native"])
        #expect(native.stdout.contains("Tailor's kernels: \(FastMath.kernelSet))"), "\(native.stdout)")
        let bad = try runTailor(args, environment: ["TAILOR_ISA": "avx-512"])
        #expect(bad.status == 1 && bad.stderr.contains("TAILOR_ISA=avx-512: expected generic, avx2, avx512 or native"), "\(bad.stderr)")
    }
}
