import Foundation
import TailorData
import TailorModels
import TailorTape
import TailorTensor

/// Compares an exported model with the model it came from on a fixed set of prompts: every
/// position's full next-token log-distribution, reported as the largest |Δ log p|, the mean
/// KL(reference ‖ export) and how often the greedy (argmax) token agrees.
///
/// The reference distributions are computed first and kept (prompt positions × vocabulary floats,
/// e.g. 48 × 32,000 × 4 bytes = 6 MiB), so the caller can release the source model before loading
/// the export: two full models never coexist. The reference runs the source with its adapters active
/// (nothing is merged in memory); with a memory-mapped GGUF on both sides
/// (``Merge/loadBase(_:)``), the proof never holds the model in fp32.
public struct ParityProof: Sendable {
    /// Log-softmax rows `[positions, vocab]` per prompt.
    public let reference: [[Float]]
    public let prompts: [[Int]]
    public let vocabularySize: Int

    /// Tolerances per output type (max |Δ log p|, mean KL). Measured on the tiny fixtures
    /// (random weights, so rounding errors are larger than on trained models) with headroom.
    public static func tolerance(_ type: String) -> (maxDelta: Double, meanKL: Double) {
        switch type {
        case "f32": (1e-4, 1e-8)
        case "f16": (2e-2, 1e-5)
        case "bf16": (1.5e-1, 5e-4)
        case "q8_0": (1.5e-1, 5e-4)
        case "q6_k": (3e-1, 2e-3)
        default: (0.6, 5e-3)  // q4_0, q4_k, q4_k_m, q5_k, q5_k_m
        }
    }

    /// The fixed prompts: three deterministic token sequences (seeded, in-vocabulary), each at
    /// most `maxLength` long (≤ a sliding window, which llama.cpp's `llama` graph does not have).
    public static func prompts(vocabularySize: Int, maxLength: Int = 24) -> [[Int]] {
        var rng = SeededGenerator(seed: 0x7A11_0E)
        return [maxLength, max(2, maxLength * 2 / 3), max(2, maxLength / 3)].map { n in
            (0..<n).map { _ in Int(rng.next() % UInt64(vocabularySize)) }
        }
    }

    /// Runs the prompts through `model` (with its adapters active).
    public init(model: LlamaModel, prompts: [[Int]]) {
        self.prompts = prompts
        vocabularySize = model.configuration.vocabularySize
        reference = prompts.map { Self.logSoftmax(model, $0) }
    }

    static func logSoftmax(_ model: LlamaModel, _ ids: [Int]) -> [Float] {
        let logits = model.logits(Batch(sequences: [ids]))
        let v = model.configuration.vocabularySize
        var out = [Float](repeating: 0, count: logits.count)
        for row in 0..<(logits.count / v) {
            let p = logits.pointer + row * v
            var m = -Float.infinity
            for j in 0..<v { m = max(m, p[j]) }
            var s = 0.0
            for j in 0..<v { s += exp(Double(p[j] - m)) }
            let lse = Double(m) + log(s)
            for j in 0..<v { out[row * v + j] = Float(Double(p[j]) - lse) }
        }
        return out
    }

    /// The comparison's figures.
    public struct Result: Sendable, CustomStringConvertible {
        public let maxDelta: Double
        public let meanKL: Double
        public let greedyAgreement: Double
        public let positions: Int
        public var description: String {
            String(format: "max |Δ logprob| %.3g, mean KL %.3g, greedy agreement %.1f%% (%d positions)", maxDelta, meanKL, greedyAgreement * 100, positions)
        }
        /// Whether both figures are within the type's tolerance.
        public func passes(_ type: String) -> Bool {
            let t = ParityProof.tolerance(type)
            return maxDelta <= t.maxDelta && meanKL <= t.meanKL
        }
    }

    /// Compares `candidate` (e.g. the re-read export) with the reference.
    public func compare(_ candidate: LlamaModel) throws -> Result {
        guard candidate.configuration.vocabularySize == vocabularySize else {
            throw TailorError("parity: the export has \(candidate.configuration.vocabularySize) tokens, the model \(vocabularySize)")
        }
        var maxDelta = 0.0, kl = 0.0, agree = 0, positions = 0
        let v = vocabularySize
        for (ids, ref) in zip(prompts, reference) {
            let got = Self.logSoftmax(candidate, ids)
            for row in 0..<ids.count {
                var klRow = 0.0, bestRef = 0, bestGot = 0
                for j in 0..<v {
                    let a = ref[row * v + j], b = got[row * v + j]
                    maxDelta = max(maxDelta, Double(abs(a - b)))
                    klRow += exp(Double(a)) * Double(a - b)
                    if a > ref[row * v + bestRef] { bestRef = j }
                    if b > got[row * v + bestGot] { bestGot = j }
                }
                kl += klRow; positions += 1
                if bestRef == bestGot { agree += 1 }
            }
        }
        return Result(maxDelta: maxDelta.isNaN ? .infinity : maxDelta, meanKL: max(0, kl / Double(positions)),
                      greedyAgreement: Double(agree) / Double(positions), positions: positions)
    }
}
