import Foundation
import TailorData
import TailorModels
import TailorOptim
import TailorTape
import TailorTensor

/// The training loop: token-weighted gradient accumulation, scheduling, clipping, validation,
/// checkpoints with exact resume, and early stopping.
///
/// Everything random is a function of the seed and the step (data order, dropout masks, adapter
/// initialisation), so a run resumed from a checkpoint continues bit-identically.
public final class Trainer {
    public let configuration: TrainingConfiguration
    public let model: LlamaModel
    /// The adapter settings (unused in full fine-tuning).
    public private(set) var lora: LoRAConfiguration
    public let output: URL
    let modelFolder: URL?
    let train: [TokenizedExample]
    let valid: [TokenizedExample]
    let padding: Int
    let planner: BatchPlanner
    let policy: CheckpointPolicy
    let schedule: LearningRateSchedule
    let optimizer: any Optimizer
    /// Optimizer steps of the whole run.
    public let totalSteps: Int

    /// Prepares a run: adapters (fresh, or from `configuration.adapter`) or full fine-tuning.
    ///
    /// - Parameters:
    ///   - model: the loaded base model; its adapters and trainable flags are set here.
    ///   - modelFolder: where the base came from (full fine-tuning copies its config and tokenizer).
    ///   - train, valid: tokenized examples, already truncated to `maxSeq`.
    ///   - padding: the id used to pad rows (never trained).
    public init(configuration c: TrainingConfiguration, model: LlamaModel, modelFolder: URL?,
                train: [TokenizedExample], valid: [TokenizedExample], padding: Int) throws {
        configuration = c
        self.model = model
        self.modelFolder = modelFolder
        self.train = train
        self.valid = valid
        self.padding = padding
        output = URL(fileURLWithPath: c.output)
        guard !train.isEmpty else { throw TailorError("\(c.data): no training examples") }
        guard c.batchSize > 0, c.gradAccum > 0, c.maxSeq > 1 else {
            throw TailorError("batch-size, grad-accum must be positive and max-seq at least 2")
        }
        policy = try Self.parseCheckpointing(c.checkpointing)
        lora = try Self.loraConfiguration(c, layerCount: model.blocks.count)
        if c.full {
            try c.checkFullFineTuning()
            guard !model.hasQuantizedBase else { throw TailorError("--full cannot train a quantized base (use LoRA, i.e. QLoRA)") }
            guard c.adapter == nil else { throw TailorError("--full trains every weight; it cannot start from --adapter") }
            model.removeAdapters()
            model.setBaseTrainable(true)
        } else {
            model.setBaseTrainable(false)
            if let adapter = c.adapter {
                lora = try PEFTAdapter.load(folder: URL(fileURLWithPath: adapter), into: model, trainable: true)
            } else {
                try model.addAdapters(lora, seed: c.seed)
            }
        }
        planner = BatchPlanner(lengths: train.map(\.ids.count), batchSize: c.batchSize, maxLength: c.maxSeq, pack: c.pack, seed: c.seed)
        let perEpoch = planner.batches(epoch: 0).count
        totalSteps = c.steps ?? max(1, (c.epochs * perEpoch + c.gradAccum - 1) / c.gradAccum)
        guard totalSteps > 0 else { throw TailorError("--steps must be positive") }
        schedule = try LearningRateSchedule(c)
        optimizer = try makeOptimizer(c)
    }

    /// Runs until `totalSteps`, early stopping, or `onEvent` answering `.stop` (which saves a
    /// checkpoint first). With `resume`, continues from that checkpoint folder.
    public func run(resume: URL? = nil, onEvent: (TrainingEvent) -> TrainingControl = { _ in .proceed }) throws -> TrainingSummary {
        let fm = FileManager.default
        do { try fm.createDirectory(at: output, withIntermediateDirectories: true) } catch {
            throw TailorError("\(output.path): cannot create the output folder (\(error.localizedDescription))")
        }
        Checkpoints.removeIncomplete(output: output)
        var state = TrainerState(step: 0, totalSteps: totalSteps, cursor: DataCursor(epoch: 0, batch: 0), seed: configuration.seed,
                                 bestValidLoss: nil, bestStep: nil, evalsWithoutImprovement: 0, elapsedSeconds: 0,
                                 configuration: configuration)
        if let resume {
            let folder = try Checkpoints.resolve(resume)
            let saved = try Checkpoints.loadState(folder)
            try restoreWeights(from: folder)
            let moments = try OptimizerState(file: SafetensorsFile(url: folder.appendingPathComponent(Checkpoints.optimizerFile)))
            try optimizer.loadState(moments, parameters: model.trainableParameters)
            state = saved
            state.configuration = configuration
            state.totalSteps = totalSteps
            _ = onEvent(.message("resumed from \(folder.path) at step \(saved.step)"))
        }
        let metrics = MetricsLog(output: output, resumeStep: resume == nil ? nil : state.step)
        defer { BufferPool.trim() }  // the steps' activation pages stay pooled while training, not after
        let params = model.trainableParameters
        var epochBatches = (epoch: -1, batches: [[[Int]]]())
        var lastLoss: Double?
        var interrupted = false, stoppedEarly = false
        let started = Date().addingTimeInterval(-state.elapsedSeconds)

        /// The next batch's rows, and its name for messages: `epoch E batch B (file:line, …)`.
        func nextBatch() -> (rows: [[Int]], name: String) {
            if epochBatches.epoch != state.cursor.epoch { epochBatches = (state.cursor.epoch, planner.batches(epoch: state.cursor.epoch)) }
            if state.cursor.batch >= epochBatches.batches.count {
                state.cursor = DataCursor(epoch: state.cursor.epoch + 1, batch: 0)
                epochBatches = (state.cursor.epoch, planner.batches(epoch: state.cursor.epoch))
            }
            defer { state.cursor.batch += 1 }
            let rows = epochBatches.batches[state.cursor.batch]
            let sources = rows.flatMap { $0.map { train[$0].source } }
            let listed = sources.prefix(4).joined(separator: ", ") + (sources.count > 4 ? ", …" : "")
            return (rows, "epoch \(state.cursor.epoch) batch \(state.cursor.batch) (\(listed))")
        }
        func checkpoint() throws -> URL {
            state.elapsedSeconds = Date().timeIntervalSince(started)
            let url = try Checkpoints.save(output: output, state: state) { folder in
                try self.writeWeights(to: folder)
                try self.optimizer.state().write(to: folder.appendingPathComponent(Checkpoints.optimizerFile))
            }
            Checkpoints.prune(output: output, keep: configuration.keep, protected: state.bestStep)
            return url
        }

        while state.step < totalSteps {
            let stepStart = Date()
            let drawn = (0..<configuration.gradAccum).map { _ in nextBatch() }
            let micro = drawn.map { makeBatch($0.rows, from: train) }
            // Every micro-batch's loss is divided by the whole step's token count, so the summed
            // gradients are those of one batch made of all micro-batches.
            let tokens = micro.reduce(0) { $0 + $1.trainedTokens }
            var lossSum: Double = 0
            var fault: String?
            for (i, batch) in micro.enumerated() {
                let tape = Tape()
                let out = model.loss(tape, batch, checkpointing: policy, dropoutSeed: dropoutSeed(step: state.step, micro: i),
                                     normalizer: Float(max(tokens, 1)))
                if fault == nil, !out.lossSum.isFinite { fault = "the loss is \(out.lossSum) on \(drawn[i].name)" }
                tape.backward(out.loss)
                lossSum += out.lossSum
            }
            let loss = lossSum / Double(max(tokens, 1))
            // Measured before clipping (which would spread a NaN into every gradient).
            let norm = gradientNorm(params)
            if fault == nil, !norm.isFinite {
                fault = "the gradient norm is \(norm) on \(drawn.map(\.name).joined(separator: " + "))"
            }
            let lr = schedule.lr(at: state.step, totalSteps: totalSteps)
            if let fault {
                // Nothing of this step reaches the weights or the optimizer moments.
                for p in params { p.zeroGradient() }
                guard configuration.skipNonfinite else {
                    let last = Checkpoints.list(output: output).last.map { "the last checkpoint, \($0.url.path), is kept" }
                        ?? "no checkpoint had been written"
                    throw TailorError("step \(state.step + 1): \(fault) (non-finite); training stopped and \(last). "
                                      + "--skip-nonfinite skips such batches instead")
                }
                state.step += 1
                state.skippedNonFinite = (state.skippedNonFinite ?? 0) + 1
                _ = onEvent(.message("step \(state.step): skipped, \(fault) (\(state.skippedNonFinite ?? 0) skipped so far)"))
            } else {
                if configuration.clip > 0 { _ = clipGradientNorm(params, maxNorm: Float(configuration.clip)) }
                optimizer.step(params, lr: lr)
                for p in params { p.zeroGradient() }
                state.step += 1
                lastLoss = loss
                let seconds = Date().timeIntervalSince(stepStart)
                let processed = micro.reduce(0) { $0 + $1.rows * $1.length }
                let m = StepMetrics(step: state.step, totalSteps: totalSteps, loss: loss, learningRate: Double(lr), tokens: tokens,
                                    tokensPerSecond: Double(processed) / seconds, gradientNorm: norm, seconds: seconds,
                                    elapsed: Date().timeIntervalSince(started), peakRSSBytes: peakResidentBytes(), epoch: state.cursor.epoch)
                try metrics.record(m)
                if onEvent(.step(m)) == .stop { interrupted = true }
            }

            let last = state.step == totalSteps
            var saved = false
            if !valid.isEmpty, (configuration.evalEvery > 0 && state.step % configuration.evalEvery == 0) || last {
                let (vLoss, vTokens) = evaluate(valid)
                let better = state.bestValidLoss.map { vLoss < $0 } ?? true
                if better {
                    state.bestValidLoss = vLoss; state.bestStep = state.step; state.evalsWithoutImprovement = 0
                } else {
                    state.evalsWithoutImprovement += 1
                }
                let e = EvaluationMetrics(step: state.step, loss: vLoss, perplexity: exp(vLoss), tokens: vTokens, examples: valid.count, isBest: better)
                try metrics.record(e)
                if onEvent(.evaluation(e)) == .stop { interrupted = true }
                if better && (configuration.saveEvery > 0 || configuration.earlyStop > 0) {
                    _ = onEvent(.checkpoint(try checkpoint())); saved = true
                }
                if configuration.earlyStop > 0 && state.evalsWithoutImprovement >= configuration.earlyStop { stoppedEarly = true }
            }
            if !saved, interrupted || stoppedEarly || (configuration.saveEvery > 0 && state.step % configuration.saveEvery == 0) {
                _ = onEvent(.checkpoint(try checkpoint()))
            }
            if interrupted || stoppedEarly { break }
        }
        if !interrupted { try writeWeights(to: output) }
        let best = state.bestStep.map { Checkpoints.folder(output: output).appendingPathComponent(Checkpoints.name(step: $0)) }
        return TrainingSummary(steps: state.step, finalLoss: lastLoss, bestValidLoss: state.bestValidLoss,
                               bestCheckpoint: best.flatMap { fm.fileExists(atPath: $0.path) ? $0 : nil },
                               stoppedEarly: stoppedEarly, interrupted: interrupted, output: output,
                               skippedNonFinite: state.skippedNonFinite ?? 0)
    }

    /// Mean negative log-likelihood over every trained token of `examples`, and the token count.
    public func evaluate(_ examples: [TokenizedExample]) -> (loss: Double, tokens: Int) {
        Self.evaluate(model: model, examples: examples, batchSize: configuration.batchSize, padding: padding)
    }

    /// Token-weighted evaluation loss of `examples` under `model`, batched by similar length.
    public static func evaluate(model: LlamaModel, examples: [TokenizedExample], batchSize: Int, padding: Int) -> (loss: Double, tokens: Int) {
        let order = examples.indices.sorted { (examples[$0].ids.count, $0) < (examples[$1].ids.count, $1) }
        var sum: Double = 0, tokens = 0
        for start in stride(from: 0, to: order.count, by: batchSize) {
            let rows = order[start..<min(order.count, start + batchSize)].map { [$0] }
            let batch = makeBatch(rows, from: examples, pack: false, maxSeq: 0, padding: padding)
            let out = model.loss(Tape(recording: false), batch)
            sum += out.lossSum; tokens += out.tokens
        }
        return (tokens > 0 ? sum / Double(tokens) : .nan, tokens)
    }

    func makeBatch(_ rows: [[Int]], from examples: [TokenizedExample]) -> Batch {
        Self.makeBatch(rows, from: examples, pack: configuration.pack, maxSeq: configuration.maxSeq, padding: padding)
    }

    static func makeBatch(_ rows: [[Int]], from examples: [TokenizedExample], pack: Bool, maxSeq: Int, padding: Int) -> Batch {
        if pack {
            return Batch(packed: rows.map { $0.map { examples[$0].ids } }, labels: rows.map { $0.map { examples[$0].labels } },
                         length: maxSeq, padding: padding)
        }
        return Batch(sequences: rows.map { examples[$0[0]].ids }, labels: rows.map { examples[$0[0]].labels }, padding: padding)
    }

    /// The LoRA dropout seed of one micro-batch: a function of (seed, step, micro-batch) only.
    func dropoutSeed(step: Int, micro: Int) -> UInt64 {
        var g = SeededGenerator(seed: (configuration.seed ^ 0xD50F_A11E) &+ UInt64(step) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(micro))
        return g.next()
    }

    /// Adapter (PEFT files) or, in full fine-tuning, the whole model as a Hugging Face folder.
    func writeWeights(to folder: URL) throws {
        if configuration.full {
            try model.save(to: folder, copyingFrom: modelFolder)
        } else {
            try PEFTAdapter.save(model, config: lora, to: folder, baseModel: configuration.model.isEmpty ? nil : configuration.model)
        }
    }

    func restoreWeights(from folder: URL) throws {
        if configuration.full {
            let files = try WeightFiles(folder: folder)
            for p in model.baseParameters {
                let t = try files.tensor(p.name, shape: p.value.shape)
                p.value.pointer.update(from: t.pointer, count: t.count)
            }
        } else {
            try PEFTAdapter.load(folder: folder, into: model, trainable: true)
        }
    }

    static func parseCheckpointing(_ text: String) throws -> CheckpointPolicy {
        switch text {
        case "none": return .none
        case "blocks": return .everyBlock
        default:
            if text.hasPrefix("every:"), let k = Int(text.dropFirst(6)), k > 0 { return .every(k) }
            throw TailorError("--checkpointing must be none, blocks or every:K (got \"\(text)\")")
        }
    }

    static func loraConfiguration(_ c: TrainingConfiguration, layerCount: Int) throws -> LoRAConfiguration {
        guard c.rank > 0 else { throw TailorError("--rank must be positive") }
        guard (0..<1).contains(c.dropout) else { throw TailorError("--dropout must be in [0, 1)") }
        return LoRAConfiguration(rank: c.rank, alpha: Float(c.alpha), dropout: Float(c.dropout), useRSLoRA: c.rslora,
                                 targets: try LoRAConfiguration.parseTargets(c.targets),
                                 layers: try c.layers.flatMap { try parseLayers($0, layerCount: layerCount) })
    }

    /// `"0-3,8"`, `"last:4"` or `"all"`.
    public static func parseLayers(_ text: String, layerCount: Int) throws -> [Int]? {
        if text == "all" { return nil }
        if text.hasPrefix("last:"), let n = Int(text.dropFirst(5)), n > 0 { return Array(max(0, layerCount - n)..<layerCount) }
        var out: [Int] = []
        for part in text.split(separator: ",") {
            let ends = part.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard let lo = ends.first ?? nil, let hi = ends.last ?? nil, ends.count <= 2, lo <= hi, lo >= 0, hi < layerCount else {
                throw TailorError("--layers: \"\(part)\" is not a layer or range within 0-\(layerCount - 1)")
            }
            out += Array(lo...hi)
        }
        return out.isEmpty ? nil : Array(Set(out)).sorted()
    }
}
