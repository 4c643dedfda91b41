import Foundation
import TailorModels

/// Everything that defines a training run. Every field has a default that follows common
/// practice; the `tailor train` flags and a YAML `--config` file set the same fields (YAML keys
/// are the flag names without dashes, e.g. `max-seq: 512`).
public struct TrainingConfiguration: Sendable, Codable, Equatable {
    // MARK: Inputs and outputs
    /// Hugging Face model folder.
    public var model: String = ""
    /// A `.jsonl` file or a folder with `train.jsonl` (+ `valid.jsonl`).
    public var data: String = ""
    /// A separate validation `.jsonl`.
    public var validData: String? = nil
    /// Output folder: adapter, checkpoints, metrics, plot.
    public var output: String = "tailor-output"
    /// Dataset format override (`text`, `completion`, `chat`, `alpaca`, `sharegpt`); nil: detect per file.
    public var format: String? = nil
    /// Record key remapping, `canonical=fileKey` pairs separated by commas (e.g. `prompt=question`).
    public var keys: String? = nil
    /// Skip (and count, and report) malformed lines instead of stopping at the first.
    public var skipBad: Bool = false
    /// `completions` (assistant turns only) or `all`.
    public var mask: String = "completions"
    /// Tokens per example; longer ones are cut (the start is kept).
    public var maxSeq: Int = 1024
    /// Pack several examples into each row of `maxSeq` tokens.
    public var pack: Bool = false
    /// Share of the training set held out for validation when there is no validation file.
    public var validSplit: Double = 0.05
    /// Chat-template variables as a JSON object, e.g. `{"enable_thinking": false}` (see ``ChatTemplate/variables``).
    public var templateKwargs: String? = nil

    // MARK: Adapter
    public var rank: Int = 8
    public var alpha: Double = 16
    public var dropout: Double = 0.05
    public var rslora: Bool = false
    /// `all-linear` or a comma-separated list such as `q_proj,v_proj`.
    public var targets: String = "all-linear"
    /// Layers to adapt: nil = all; `"0-3,8"` style ranges, or `last:N`.
    public var layers: String? = nil
    /// Start from an existing PEFT adapter folder instead of a fresh one.
    public var adapter: String? = nil
    /// Train every weight instead of an adapter (small models only).
    public var full: Bool = false
    /// Quantize the base's block projections at load (`q8_0`, `q4_0`, `q4_k`, `nf4`, `nf4-dq`: QLoRA; `bf16`: the AMX fast path), or nil. A folder or a GGUF.
    public var quantize: String? = nil
    /// Precision of the frozen products: `f32` (exact to the stored or quantized weights) or `bf16`
    /// (bf16 operands, fp32 accumulation, AMX tiles where the CPU has them; attention too): QLoRA's
    /// usual compute dtype. Block formats stay compact; dense frozen matrices are rounded to bf16.
    public var compute: String = "f32"
    /// The values `compute` takes.
    public static let computeChoices = ["f32", "bf16"]
    /// How frozen F16/BF16 matrices are held (``FrozenStorage``): `stored` (2 bytes a weight) or `f32`; nil:
    /// `stored`, or `f32` with `full` (trained weights are fp32).
    public var baseDtype: String? = nil

    /// The frozen storage the run loads its base with.
    public var frozenStorage: FrozenStorage { full ? .f32 : baseDtype.flatMap(FrozenStorage.init(rawValue:)) ?? .stored }

    // MARK: Optimisation
    /// `adamw`, `adam`, `sgd` or `adafactor`.
    public var optimizer: String = "adamw"
    public var lr: Double = 2e-4
    /// SGD momentum (0 = plain SGD).
    public var momentum: Double = 0
    /// SGD with Nesterov momentum.
    public var nesterov: Bool = false
    public var weightDecay: Double = 0.0
    /// `constant`, `linear` or `cosine`.
    public var schedule: String = "cosine"
    /// Warm-up steps.
    public var warmup: Int = 0
    public var minLR: Double = 0
    /// Rows per micro-batch.
    public var batchSize: Int = 4
    /// Micro-batches per optimizer step (weighted by trained tokens).
    public var gradAccum: Int = 1
    /// Optimizer steps; nil: `epochs` passes over the data.
    public var steps: Int? = nil
    public var epochs: Int = 1
    /// Global gradient-norm clip; 0 = off.
    public var clip: Double = 1.0
    /// `none`, `blocks` or `every:K`.
    public var checkpointing: String = "blocks"
    public var seed: UInt64 = 0
    /// On a NaN or infinite loss or gradient, skip the step's batch (and count it) instead of
    /// stopping the run.
    public var skipNonfinite: Bool = false

    // MARK: Evaluation and checkpoints
    /// Validate every N steps (0 = only at the end).
    public var evalEvery: Int = 50
    /// Save a checkpoint every N steps (0 = never).
    public var saveEvery: Int = 100
    /// Periodic checkpoints kept (the best is kept as well).
    public var keep: Int = 3
    /// Stop after this many evaluations without a better validation loss (0 = never).
    public var earlyStop: Int = 0

    public init() {}
}

extension TrainingConfiguration {
    /// Decodes a configuration saved in a checkpoint's `trainer_state.json`.
    ///
    /// Every field is optional: a missing (or null) field keeps its default, so checkpoints written
    /// before a field existed still resume; keys this version does not know are ignored.
    /// (The synthesized decoder required every field, so each new field broke every older checkpoint.)
    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func read<T: Decodable>(_ key: CodingKeys, _ field: WritableKeyPath<TrainingConfiguration, T>) throws {
            if let v = try c.decodeIfPresent(T.self, forKey: key) { self[keyPath: field] = v }
        }
        try read(.model, \.model); try read(.data, \.data); try read(.validData, \.validData)
        try read(.output, \.output); try read(.format, \.format); try read(.keys, \.keys)
        try read(.skipBad, \.skipBad); try read(.mask, \.mask); try read(.maxSeq, \.maxSeq)
        try read(.pack, \.pack); try read(.validSplit, \.validSplit); try read(.templateKwargs, \.templateKwargs)
        try read(.rank, \.rank); try read(.alpha, \.alpha); try read(.dropout, \.dropout)
        try read(.rslora, \.rslora); try read(.targets, \.targets); try read(.layers, \.layers)
        try read(.adapter, \.adapter); try read(.full, \.full); try read(.quantize, \.quantize); try read(.compute, \.compute)
        try read(.baseDtype, \.baseDtype)
        try read(.optimizer, \.optimizer); try read(.lr, \.lr); try read(.momentum, \.momentum)
        try read(.nesterov, \.nesterov); try read(.weightDecay, \.weightDecay); try read(.schedule, \.schedule)
        try read(.warmup, \.warmup); try read(.minLR, \.minLR); try read(.batchSize, \.batchSize)
        try read(.gradAccum, \.gradAccum); try read(.steps, \.steps); try read(.epochs, \.epochs)
        try read(.clip, \.clip); try read(.checkpointing, \.checkpointing); try read(.seed, \.seed)
        try read(.skipNonfinite, \.skipNonfinite)
        try read(.evalEvery, \.evalEvery); try read(.saveEvery, \.saveEvery); try read(.keep, \.keep)
        try read(.earlyStop, \.earlyStop)
    }
}
