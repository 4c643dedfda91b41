import ArgumentParser
import Tailor

/// How the base model is held and multiplied, for the commands that load one to run it (`score`,
/// `eval`, `generate`): the same `--quantize` and `--compute` as `train`, so an adapter trained
/// on a QLoRA base can be scored, evaluated and sampled on that base.
struct BaseOptions: ParsableArguments {
    @Option(help: "Quantize the base's block projections at load: q8_0, q4_0, q4_k, q5_k, q6_k, nf4 or nf4-dq (NF4 with double quantization), or bf16 (mixed precision).")
    var quantize: String?
    @Option(help: "Frozen products in f32 or bf16 (bf16 operands, fp32 accumulation; see train --compute).") var compute = "f32"
    @Option(help: "Frozen F16/BF16 base matrices: stored (as the file has them, half the memory of fp32) or f32.") var baseDtype = "stored"

    /// Loads `model` (a folder or a `.gguf`) as these options say.
    func load(_ model: String) throws -> ModelBundle {
        guard TrainingConfiguration.computeChoices.contains(compute) else { throw TailorError("--compute \(compute): must be f32 or bf16") }
        return try ModelBundle.load(model, quantize: try quantize.map(BaseQuantization.init(parsing:)), computeBF16: compute == "bf16",
                                    frozen: try FrozenStorage(parsing: baseDtype))
    }
}
