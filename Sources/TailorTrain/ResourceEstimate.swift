import Foundation
import TailorModels
import TailorTensor

/// A rough forecast of a run's peak memory and step time, for `--dry-run`.
///
/// Memory: the base's weights (fp32 unless the loaded model says otherwise) + trainable state (value, gradient and two moments) + kept activations
/// (every block's, or only block inputs plus one block's working set with checkpointing) + the
/// cross-entropy chunk + a fixed runtime overhead. Time: matmul FLOPs of the step divided by
/// 60 % of a plain sgemm measured now (of a bf16 product on AMX under bf16 compute).
public struct ResourceEstimate: Sendable {
    public let peakBytes: Double
    public let secondsPerStep: Double
    public let sgemmGFLOPs: Double
    /// The measured rate of a bf16 product on AMX when the step's products run in bf16, else nil.
    public let bf16GFLOPs: Double?

    /// - Parameter weightBytes: what the loaded base holds (``LlamaModel/weightBytes``); nil: fp32 weights.
    public init(model m: ModelConfiguration, configuration c: TrainingConfiguration, longest: Int, weightBytes: Int? = nil) {
        let h = Double(m.hiddenSize), q = Double(m.headCount * m.headDim), kv = Double(m.kvHeadCount * m.headDim)
        let f = Double(m.intermediateSize), layers = Double(m.layerCount), vocab = Double(m.vocabularySize)
        let length = Double(c.pack ? c.maxSeq : min(c.maxSeq, max(longest, 1)))
        let tokens = Double(c.batchSize) * length
        let weights = weightBytes.map(Double.init) ?? Double(m.parameterCount) * 4
        var trainable: Double
        if c.full {
            trainable = Double(m.parameterCount) * 16
        } else {
            let perLayer = Double(c.rank) * (2 * (h + q) + 2 * (h + kv) + 3 * (h + f))
            trainable = perLayer * layers * 16
        }
        // Floats kept per token by one block: its input and the attention residual (for the norms),
        // the rotated q and k, v, attention's output, gate and up. The normed inputs and the SwiGLU
        // output are rebuilt in the backward; LoRA's rank-sized products and row statistics are noise.
        let perBlock = 2 * h + 2 * q + 2 * kv + 2 * f
        let activations: Double
        if c.checkpointing == "none" {
            activations = layers * perBlock * tokens * 4
        } else {
            let k = c.checkpointing == "blocks" ? 1.0 : Double(Int(c.checkpointing.dropFirst(6)) ?? 1)
            activations = (layers / k * h + 2 * k * perBlock) * tokens * 4
        }
        let crossEntropy = (Double(CrossEntropy.chunkRows) * vocab + 2 * tokens * h) * 4
        peakBytes = weights + trainable + activations + crossEntropy + 300 * Double(1 << 20)
        let forward = 2 * (Double(m.parameterCount) - (m.tieWordEmbeddings ? 0 : vocab * h))
        let recompute = c.checkpointing == "none" ? 0.0 : 1.0
        let flopsPerToken = forward * (2 + recompute + (c.full ? 1 : 0))
        sgemmGFLOPs = Self.measureSgemm()
        // bf16 products on AMX (`--compute bf16`, `--quantize bf16`) run at a measured bf16 rate.
        bf16GFLOPs = (c.compute == "bf16" || c.quantize == "bf16") && BF16MatMul.usesAMX ? Self.measureBF16() : nil
        secondsPerStep = flopsPerToken * tokens * Double(c.gradAccum) / (0.6 * (bf16GFLOPs ?? sgemmGFLOPs) * 1e9)
    }

    /// GFLOP/s of a 512³ product with bf16 operands on AMX, best of five.
    static func measureBF16() -> Double {
        let b = Tensor(zeros: [512, 512])
        let packed = BF16MatMul.Packed(b.pointer, n: 512, k: 512, ldb: 512, transposed: false)
        return rate { a, out, n in BF16MatMul.multiply(a, m: n, lda: n, packed, into: out, ldc: n, accumulate: false) }
    }

    /// GFLOP/s of a 512³ sgemm, best of five (about 0.1 s).
    static func measureSgemm() -> Double {
        let b = Tensor(zeros: [512, 512])
        return rate { a, out, n in MatMul.forward(a, b.pointer, out, m: n, n: n, k: n, transA: false, transB: false) }
    }

    /// GFLOP/s of `product(a, out, n)`, an n³ product with n = 512 on zero operands, best of five.
    private static func rate(_ product: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) -> Double {
        let n = 512
        let a = Tensor(zeros: [n, n]), out = Tensor(zeros: [n, n])
        var best = Double.infinity
        for _ in 0..<5 {
            let t = Date()
            product(a.pointer, out.pointer, n)
            best = min(best, Date().timeIntervalSince(t))
        }
        return 2 * Double(n * n * n) / max(best, 1e-9) / 1e9
    }
}
