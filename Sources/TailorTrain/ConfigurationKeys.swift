import Foundation
import TailorData
import TailorModels
import TailorTensor

extension TrainingConfiguration {
    /// Every settable key: the `tailor train` flag names without dashes, also used in YAML files.
    public static let keys = [
        "model", "data", "valid-data", "output", "format", "keys", "skip-bad", "mask", "max-seq", "pack", "valid-split", "template-kwargs",
        "rank", "alpha", "dropout", "rslora", "targets", "layers", "adapter", "full", "quantize", "compute", "base-dtype",
        "optimizer", "lr", "momentum", "nesterov", "weight-decay", "schedule", "warmup", "min-lr",
        "batch-size", "grad-accum", "steps", "epochs", "clip", "checkpointing", "seed", "skip-nonfinite",
        "eval-every", "save-every", "keep", "early-stop",
    ]

    /// Sets one field from its textual value; `source` names where it came from in errors.
    public mutating func set(_ key: String, _ value: String, source: String = "flag") throws {
        func int() throws -> Int {
            guard let v = Int(value) else { throw TailorError("\(source): \(key) must be an integer, got \"\(value)\"") }
            return v
        }
        func nonNegative() throws -> Int {
            let v = try int()
            guard v >= 0 else { throw TailorError("\(source): \(key) must not be negative, got \(v)") }
            return v
        }
        func positive() throws -> Int {
            let v = try int()
            guard v > 0 else { throw TailorError("\(source): \(key) must be positive, got \(v)") }
            return v
        }
        func double() throws -> Double {
            guard let v = Double(value), v.isFinite else { throw TailorError("\(source): \(key) must be a number, got \"\(value)\"") }
            return v
        }
        func bool() throws -> Bool {
            switch value.lowercased() {
            case "true", "yes", "1", "on": return true
            case "false", "no", "0", "off": return false
            default: throw TailorError("\(source): \(key) must be true or false, got \"\(value)\"")
            }
        }
        func oneOf(_ choices: [String]) throws -> String {
            guard choices.contains(value) else { throw TailorError("\(source): \(key) must be one of \(choices.joined(separator: ", ")), got \"\(value)\"") }
            return value
        }
        switch key {
        case "model": model = value
        case "data": data = value
        case "valid-data": validData = value
        case "output": output = value
        case "format":
            guard DatasetFormat(name: value) != nil else {
                throw TailorError("\(source): format must be one of \(DatasetFormat.choices), got \"\(value)\"")
            }
            format = value
        case "keys":
            _ = try DatasetOptions.keys(value.split(separator: ","), source: source)
            keys = value
        case "skip-bad": skipBad = try bool()
        case "mask": mask = try oneOf(["completions", "all"])
        case "max-seq": maxSeq = try positive()
        case "pack": pack = try bool()
        case "valid-split":
            validSplit = try double()
            guard (0..<1).contains(validSplit) else { throw TailorError("\(source): valid-split must be in [0, 1)") }
        case "template-kwargs":
            _ = try ChatTemplate.variables(json: value, source: source)
            templateKwargs = value
        case "rank": rank = try positive()
        case "alpha": alpha = try double()
        case "dropout":
            dropout = try double()
            guard (0..<1).contains(dropout) else { throw TailorError("\(source): dropout must be in [0, 1)") }
        case "rslora": rslora = try bool()
        case "targets": targets = value
        case "layers": layers = value
        case "adapter": adapter = value
        case "full": full = try bool()
        case "quantize": quantize = try BaseQuantization(parsing: value).rawValue
        case "compute": compute = try oneOf(Self.computeChoices)
        case "base-dtype": baseDtype = try FrozenStorage(parsing: value, source: source).rawValue
        case "optimizer": optimizer = try oneOf(["adamw", "adam", "sgd", "adafactor"])
        case "lr":
            lr = try double()
            guard lr > 0 else { throw TailorError("\(source): lr must be positive") }
        case "momentum": momentum = try double()
        case "nesterov": nesterov = try bool()
        case "weight-decay": weightDecay = try double()
        case "schedule": schedule = try oneOf(["constant", "linear", "cosine"])
        case "warmup": warmup = try nonNegative()
        case "min-lr": minLR = try double()
        case "batch-size": batchSize = try positive()
        case "grad-accum": gradAccum = try positive()
        case "steps": steps = try positive()
        case "epochs": epochs = try positive()
        case "clip": clip = try double()
        case "checkpointing":
            guard value == "none" || value == "blocks" || (value.hasPrefix("every:") && Int(value.dropFirst(6)).map { $0 > 0 } == true) else {
                throw TailorError("\(source): checkpointing must be none, blocks or every:K, got \"\(value)\"")
            }
            checkpointing = value
        case "seed":
            guard let v = UInt64(value) else { throw TailorError("\(source): seed must be a non-negative integer, got \"\(value)\"") }
            seed = v
        case "skip-nonfinite": skipNonfinite = try bool()
        case "eval-every": evalEvery = try nonNegative()
        case "save-every": saveEvery = try nonNegative()
        case "keep": keep = try nonNegative()
        case "early-stop": earlyStop = try nonNegative()
        default:
            throw TailorError("\(source): unknown setting \"\(key)\" (known: \(Self.keys.joined(separator: ", ")))")
        }
    }

    /// Settings that full fine-tuning cannot combine with.
    public func checkFullFineTuning() throws {
        guard compute == "f32" else { throw TailorError("--full trains the fp32 weights themselves; --compute bf16 is for adapters (use --compute f32)") }
        guard baseDtype != FrozenStorage.stored.rawValue else {
            throw TailorError("--full trains the fp32 weights themselves; --base-dtype stored is for adapters (use --base-dtype f32)")
        }
    }

    /// The settings as ordered key/value text, for `--dry-run` and logs.
    public var describedFields: [(String, String)] {
        let values: [String: String] = [
            "model": model, "data": data, "valid-data": validData ?? "-", "output": output, "format": format ?? "auto", "keys": keys ?? "-", "skip-bad": "\(skipBad)",
            "mask": mask, "max-seq": "\(maxSeq)", "pack": "\(pack)", "valid-split": "\(validSplit)", "template-kwargs": templateKwargs ?? "-", "rank": "\(rank)",
            "alpha": "\(alpha)", "dropout": "\(dropout)", "rslora": "\(rslora)", "targets": targets, "layers": layers ?? "all",
            "adapter": adapter ?? "-", "full": "\(full)", "quantize": quantize ?? "-", "compute": compute, "base-dtype": frozenStorage.rawValue, "optimizer": optimizer, "lr": "\(lr)", "momentum": "\(momentum)",
            "nesterov": "\(nesterov)", "weight-decay": "\(weightDecay)", "schedule": schedule, "warmup": "\(warmup)",
            "min-lr": "\(minLR)", "batch-size": "\(batchSize)", "grad-accum": "\(gradAccum)",
            "steps": steps.map(String.init) ?? "from epochs", "epochs": "\(epochs)", "clip": "\(clip)",
            "checkpointing": checkpointing, "seed": "\(seed)", "skip-nonfinite": "\(skipNonfinite)", "eval-every": "\(evalEvery)", "save-every": "\(saveEvery)",
            "keep": "\(keep)", "early-stop": "\(earlyStop)",
        ]
        return Self.keys.map { ($0, values[$0]!) }
    }
}
