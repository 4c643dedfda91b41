import Foundation
import Testing
import TailorTrain

/// `TrainingConfiguration` is saved in every checkpoint; its decoder must accept checkpoints
/// written before a field existed (and after one was removed).
@Suite struct ConfigurationDecodingTests {
    /// A configuration with every field away from its default.
    static func everyFieldChanged() -> TrainingConfiguration {
        var c = TrainingConfiguration()
        c.model = "m"; c.data = "d.jsonl"; c.validData = "v.jsonl"; c.output = "out"; c.format = "chat"
        c.keys = "prompt=q"; c.skipBad = true; c.mask = "all"; c.maxSeq = 77; c.pack = true; c.validSplit = 0.25
        c.templateKwargs = #"{"enable_thinking": false}"#
        c.rank = 4; c.alpha = 3; c.dropout = 0.5; c.rslora = true; c.targets = "q_proj"; c.layers = "0-1"
        c.adapter = "a"; c.full = true; c.quantize = "q4_0"; c.compute = "bf16"; c.baseDtype = "f32"
        c.optimizer = "sgd"; c.lr = 0.5; c.momentum = 0.9; c.nesterov = true; c.weightDecay = 0.1
        c.schedule = "linear"; c.warmup = 3; c.minLR = 1e-6; c.batchSize = 2; c.gradAccum = 5; c.steps = 9
        c.epochs = 2; c.clip = 0; c.checkpointing = "every:2"; c.seed = 42; c.skipNonfinite = true
        c.evalEvery = 7; c.saveEvery = 8; c.keep = 1; c.earlyStop = 2
        return c
    }

    /// Every stored field survives encode → decode, so none was left out of `init(from:)`.
    @Test func roundTripKeepsEveryField() throws {
        let changed = Self.everyFieldChanged()
        let defaults = Mirror(reflecting: TrainingConfiguration()).children.map { "\($0.value)" }
        let fields = Mirror(reflecting: changed).children
        // Guards the test itself: a field left at its default would round-trip even if not decoded.
        for (field, d) in zip(fields, defaults) { #expect("\(field.value)" != d, "\(field.label ?? "?") is still the default") }
        let data = try JSONEncoder().encode(changed)
        #expect(try JSONDecoder().decode(TrainingConfiguration.self, from: data) == changed)
    }

    /// An older checkpoint's configuration: several fields missing, one null, one key this version
    /// does not know. Missing fields take their defaults; present ones are kept.
    @Test func missingFieldsTakeDefaultsAndUnknownKeysAreIgnored() throws {
        let json = #"""
        {"model": "models/old", "data": "train.jsonl", "output": "runs/old", "rank": 16, "alpha": 32,
         "lr": 0.001, "steps": 12, "seed": 7, "validData": null, "removedOption": [1, 2, 3]}
        """#
        let c = try JSONDecoder().decode(TrainingConfiguration.self, from: Data(json.utf8))
        var want = TrainingConfiguration()
        want.model = "models/old"; want.data = "train.jsonl"; want.output = "runs/old"
        want.rank = 16; want.alpha = 32; want.lr = 0.001; want.steps = 12; want.seed = 7
        #expect(c == want)
        #expect(try JSONDecoder().decode(TrainingConfiguration.self, from: Data("{}".utf8)) == TrainingConfiguration())
    }

    /// A whole `trainer_state.json` whose configuration predates `skipNonfinite`, `quantize`
    /// and `pack` still decodes.
    @Test func olderTrainerStateDecodes() throws {
        let json = #"""
        {"format": 1, "step": 5, "totalSteps": 10, "cursor": {"epoch": 0, "batch": 5},
         "seed": 0, "evalsWithoutImprovement": 0, "elapsedSeconds": 1.5,
         "configuration": {"model": "m", "data": "d.jsonl", "rank": 8, "optimizer": "adamw", "checkpointing": "none"}}
        """#
        let s = try JSONDecoder().decode(TrainerState.self, from: Data(json.utf8))
        #expect(s.step == 5 && s.configuration.model == "m" && s.configuration.checkpointing == "none")
        #expect(!s.configuration.skipNonfinite && s.configuration.quantize == nil && !s.configuration.pack)
    }

    /// Lenient about absence, not about types: a field of the wrong type is still an error.
    @Test func wrongTypeIsStillAnError() {
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(TrainingConfiguration.self, from: Data(#"{"rank": "eight"}"#.utf8))
        }
    }
}
