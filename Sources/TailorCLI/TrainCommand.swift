import ArgumentParser
import Foundation
import Tailor
import Yams

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a LoRA adapter (or, with --full, every weight) on a JSONL dataset.",
        discussion: """
        With no arguments, trains the embedded default: a tiny model made by this project on a small \
        task dataset shipped in Datasets/. A YAML --config file can set every option (keys are the \
        option names without dashes); options given on the command line override it. --resume \
        continues a run from its latest checkpoint (or a checkpoints/step-N folder) bit-identically.
        """
    )

    @Option(help: "YAML file with any of the options below.") var config: String?
    @Option(help: "Hugging Face model folder or .gguf file.") var model: String?
    @Option(help: "A .jsonl or .json file (JSON Lines, or an array of objects), or a folder with train.jsonl or train.json (+ valid).") var data: String?
    @Option(help: "Validation .jsonl or .json (default: valid.jsonl or valid.json beside the data, else a --valid-split).") var validData: String?
    @Option(help: "Output folder (adapter, checkpoints, metrics.jsonl, loss.svg).") var output: String?
    @Option(help: "Data format: \(DatasetFormat.choices) (default: detected per file).") var format: String?
    @Option(help: "Record key remapping, e.g. --key prompt=question (repeatable).") var key: [String] = []
    @Flag(help: "Skip malformed lines (counted and reported) instead of stopping at the first.") var skipBad = false
    @Option(help: "Trained tokens: completions (assistant turns) or all.") var mask: String?
    @Option(help: "Tokens per example; longer ones are cut, keeping the start (default 1024).") var maxSeq: Int?
    @Flag(help: "Pack several examples into each row of --max-seq tokens.") var pack = false
    @Option(help: "Share held out for validation when there is no validation file (default 0.05).") var validSplit: Double?
    @Option(help: TemplateOptions.help) var templateKwargs: String?
    @Option(help: "LoRA rank (default 8).") var rank: Int?
    @Option(help: "LoRA alpha (default 16).") var alpha: Double?
    @Option(help: "Dropout on the adapter input (default 0.05).") var dropout: Double?
    @Flag(help: "rsLoRA scaling alpha/√rank.") var rslora = false
    @Option(help: "Adapted layers: all-linear or a list like q_proj,v_proj (default all-linear).") var targets: String?
    @Option(help: "Adapted blocks: e.g. 0-3,8 or last:4 (default all).") var layers: String?
    @Option(help: "Start from an existing PEFT adapter folder.") var adapter: String?
    @Flag(help: "Train every weight instead of an adapter (small models).") var full = false
    @Option(help: "QLoRA: quantize the base's block projections at load (a folder or a GGUF): q8_0, q4_0, q4_k, q5_k, q6_k, nf4 or nf4-dq (NF4 with double quantization); or bf16 (mixed precision on AMX, the fast path).") var quantize: String?
    @Option(help: "Frozen products in f32 or bf16 (bf16 operands, fp32 accumulation, AMX where the CPU has it; attention too): bf16 is QLoRA's usual compute dtype, 2–4× faster on a quantized base on AMX CPUs (default f32).") var compute: String?
    @Option(help: "Frozen F16/BF16 base matrices: stored (kept as the file has them, memory-mapped: half the memory of fp32, the same values) or f32 (default stored; f32 with --full).") var baseDtype: String?
    @Option(help: "adamw, adam, sgd or adafactor (default adamw).") var optimizer: String?
    @Option(help: "Peak learning rate (default 2e-4).") var lr: Double?
    @Option(help: "SGD momentum (default 0).") var momentum: Double?
    @Flag(help: "SGD with Nesterov momentum.") var nesterov = false
    @Option(help: "Weight decay (default 0).") var weightDecay: Double?
    @Option(help: "constant, linear or cosine (default cosine).") var schedule: String?
    @Option(help: "Warm-up steps (default 0).") var warmup: Int?
    @Option(help: "Learning rate at the end of the schedule (default 0).") var minLr: Double?
    @Option(help: "Rows per micro-batch (default 4).") var batchSize: Int?
    @Option(help: "Micro-batches per step, weighted by trained tokens (default 1).") var gradAccum: Int?
    @Option(help: "Optimizer steps (default: --epochs over the data).") var steps: Int?
    @Option(help: "Passes over the data when --steps is not given (default 1).") var epochs: Int?
    @Option(help: "Clip the global gradient norm; 0 = off (default 1.0).") var clip: Double?
    @Option(help: "Gradient checkpointing: none, blocks or every:K (default blocks).") var checkpointing: String?
    @Option(help: "Seed for data order, adapter init and dropout (default 0).") var seed: UInt64?
    @Flag(help: "Skip (and count) a batch whose loss or gradients are NaN or infinite instead of stopping.") var skipNonfinite = false
    @Option(help: "Validate every N steps; 0 = only at the end (default 50).") var evalEvery: Int?
    @Option(help: "Checkpoint every N steps; 0 = never (default 100).") var saveEvery: Int?
    @Option(help: "Periodic checkpoints kept besides the best (default 3).") var keep: Int?
    @Option(help: "Stop after N evaluations without improvement; 0 = never (default 0).") var earlyStop: Int?
    @Option(help: "Continue from OUTPUT (its latest checkpoint) or OUTPUT/checkpoints/step-N.") var resume: String?
    @Flag(help: "Replace an existing output folder's adapter, checkpoints and metrics.") var overwrite = false
    @Flag(help: "Print the configuration, dataset statistics and estimates, then exit.") var dryRun = false
    @Flag(help: "Print metrics as JSON lines on stdout (progress goes to stderr).") var json = false

    /// The options given on the command line, as (key, value) pairs.
    var flagSettings: [(String, String)] {
        let pairs: [(String, String?)] = [
            ("model", model), ("data", data), ("valid-data", validData), ("output", output), ("format", format),
            ("keys", key.isEmpty ? nil : key.joined(separator: ",")), ("skip-bad", skipBad ? "true" : nil), ("mask", mask), ("max-seq", maxSeq.map { "\($0)" }), ("pack", pack ? "true" : nil),
            ("valid-split", validSplit.map { "\($0)" }), ("template-kwargs", templateKwargs), ("rank", rank.map { "\($0)" }), ("alpha", alpha.map { "\($0)" }),
            ("dropout", dropout.map { "\($0)" }), ("rslora", rslora ? "true" : nil), ("targets", targets), ("layers", layers),
            ("adapter", adapter), ("full", full ? "true" : nil), ("quantize", quantize), ("compute", compute), ("base-dtype", baseDtype), ("optimizer", optimizer), ("lr", lr.map { "\($0)" }),
            ("momentum", momentum.map { "\($0)" }), ("nesterov", nesterov ? "true" : nil),
            ("weight-decay", weightDecay.map { "\($0)" }), ("schedule", schedule), ("warmup", warmup.map { "\($0)" }),
            ("min-lr", minLr.map { "\($0)" }), ("batch-size", batchSize.map { "\($0)" }), ("grad-accum", gradAccum.map { "\($0)" }),
            ("steps", steps.map { "\($0)" }), ("epochs", epochs.map { "\($0)" }), ("clip", clip.map { "\($0)" }),
            ("checkpointing", checkpointing), ("seed", seed.map { "\($0)" }), ("skip-nonfinite", skipNonfinite ? "true" : nil), ("eval-every", evalEvery.map { "\($0)" }),
            ("save-every", saveEvery.map { "\($0)" }), ("keep", keep.map { "\($0)" }), ("early-stop", earlyStop.map { "\($0)" }),
        ]
        return pairs.compactMap { k, v in v.map { (k, $0) } }
    }

    func run() throws {
        try reportingErrors {
            var (c, isDefault) = try resolvedConfiguration()
            let out = URL(fileURLWithPath: c.output)
            if resume == nil && !dryRun { try checkOutput(out) }
            if c.full { try c.checkFullFineTuning() }  // before the model loads and the output folder changes
            // Model and data are validated before anything in the output folder changes, so bad
            // input leaves it as it was (no adapter, no partial file).
            var bundle = try ModelBundle.load(c.model, quantize: try c.quantize.map(BaseQuantization.init(parsing:)), computeBF16: c.compute == "bf16",
                                              frozen: c.frozenStorage)
            try bundle.setTemplateVariables(json: c.templateKwargs, source: "template-kwargs")
            let data = try TrainingData.load(c, bundle: bundle)
            if dryRun { return DryRun.print(c, data: data, bundle: bundle) }
            if resume == nil { try clearOutput(out) }
            c.output = out.path
            let trainer = try Trainer(configuration: c, model: bundle.model, modelFolder: bundle.folder,
                                      train: data.train, valid: data.valid, padding: bundle.paddingID)
            let progress = ProgressPrinter(json: json, totalSteps: trainer.totalSteps)
            progress.note(data.summary)
            for line in data.skipped { progress.note("skipped \(line)") }
            let question = isDefault ? EmbeddedDefault.sampleQuestion() : nil
            let before = try question.map { try sampleAnswer(bundle, question: $0) }
            Interrupt.install()
            let summary = try trainer.run(resume: resume.map { URL(fileURLWithPath: $0) }) { event in
                progress.handle(event)
                return Interrupt.requested ? .stop : .proceed
            }
            progress.finish(summary, configuration: c)
            if let question, let before, !summary.interrupted {
                let after = try sampleAnswer(bundle, question: question)
                progress.note("\nsample (greedy): \(question)\n  before training: \(before)\n  after training:  \(after)")
            }
            if summary.interrupted { throw ExitCode(130) }
        }
    }

    /// Defaults ← (checkpoint's configuration when resuming) ← YAML ← command-line options;
    /// also whether the embedded default applies.
    func resolvedConfiguration() throws -> (TrainingConfiguration, Bool) {
        var c = TrainingConfiguration()
        if let resume {
            c = try Checkpoints.loadState(Checkpoints.resolve(URL(fileURLWithPath: resume))).configuration
            c.output = Checkpoints.outputFolder(ofResume: URL(fileURLWithPath: resume)).path
        }
        let yaml = try config.map { path in try Self.yamlSettings(path).map { ($0.0, $0.1, path) } } ?? []
        let settings = yaml + flagSettings.map { ($0.0, $0.1, $0.0 == "keys" ? "--key" : "--\($0.0)") }  // the flag is --key
        // No model and no data anywhere: the embedded default, which other settings may still adjust.
        let isDefault = resume == nil && !settings.contains(where: { $0.0 == "model" || $0.0 == "data" })
        if isDefault { try EmbeddedDefault.apply(to: &c) }
        for (key, value, source) in settings { try c.set(key, value, source: source) }
        guard !c.model.isEmpty else { throw TailorError("--model is required (or run with no arguments for the embedded default)") }
        guard !c.data.isEmpty else { throw TailorError("--data is required") }
        return (c, isDefault)
    }

    static func yamlSettings(_ path: String) throws -> [(String, String)] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw TailorError("\(path): cannot read") }
        let loaded: Any?
        do { loaded = try Yams.load(yaml: text) } catch { throw TailorError("\(path): not valid YAML (\(error))") }
        guard let dict = loaded as? [String: Any] else { throw TailorError("\(path): expected a mapping of option: value") }
        return try dict.sorted { $0.key < $1.key }.map { key, value in
            let k = key.replacingOccurrences(of: "_", with: "-")
            switch value {
            case let b as Bool: return (k, b ? "true" : "false")
            case let s as String: return (k, s)
            case let n as Int: return (k, String(n))
            case let d as Double: return (k, String(d))
            case let list as [Any]: return (k, list.map { "\($0)" }.joined(separator: ","))
            case let map as [String: Any]:  // template-kwargs: {enable_thinking: false}
                guard JSONSerialization.isValidJSONObject(map) else { throw TailorError("\(path): \(key) has an unsupported value \(value)") }
                return (k, String(decoding: try JSONSerialization.data(withJSONObject: map, options: [.sortedKeys]), as: UTF8.self))
            default: throw TailorError("\(path): \(key) has an unsupported value \(value)")
            }
        }
    }

    /// Refuses an existing, non-empty output folder unless --overwrite.
    func checkOutput(_ out: URL) throws {
        let contents = (try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? []
        guard !contents.isEmpty, !overwrite else { return }
        throw TailorError("\(out.path): output folder exists and is not empty (use --resume \(out.path) to continue or --overwrite to replace it)")
    }

    /// With --overwrite, clears only what Tailor writes in the output folder.
    func clearOutput(_ out: URL) throws {
        let fm = FileManager.default
        guard overwrite, fm.fileExists(atPath: out.path) else { return }
        for name in ["adapter_config.json", "adapter_model.safetensors", "model.safetensors", "metrics.jsonl", "loss.svg", "checkpoints"] {
            try? fm.removeItem(at: out.appendingPathComponent(name))
        }
    }
}

/// Ctrl-C (or SIGTERM) asks the trainer to save a checkpoint and stop; a second one ends at once.
enum Interrupt {
    nonisolated(unsafe) static var flag: sig_atomic_t = 0

    static var requested: Bool { flag != 0 }

    static func install() {
        // Past a file size limit, write(2) then fails with EFBIG (reported like a full disk)
        // instead of the signal ending the process.
        signal(SIGXFSZ, SIG_IGN)
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber) { received in
                Interrupt.flag = 1
                signal(received, SIG_DFL)
            }
        }
        // A parent may have spawned us with these signals blocked (the mask is inherited).
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}
