import TailorOptim
import TailorTensor

/// The optimizer named by `--optimizer`, with the run's hyperparameters.
func makeOptimizer(_ c: TrainingConfiguration) throws -> any Optimizer {
    switch c.optimizer {
    case "adamw": return AdamW(weightDecay: c.weightDecay)
    case "adam": return Adam(weightDecay: c.weightDecay)
    case "sgd": return SGD(momentum: c.momentum, nesterov: c.nesterov, weightDecay: c.weightDecay)
    case "adafactor": return Adafactor(weightDecay: c.weightDecay)
    default: throw TailorError("--optimizer must be adamw, adam, sgd or adafactor (got \"\(c.optimizer)\")")
    }
}

extension LearningRateSchedule {
    /// The schedule named by `--schedule`.
    init(_ c: TrainingConfiguration) throws {
        guard let kind = Kind(rawValue: c.schedule) else {
            throw TailorError("--schedule must be constant, linear or cosine (got \"\(c.schedule)\")")
        }
        guard c.warmup >= 0, c.lr > 0, c.minLR >= 0, c.minLR <= c.lr else {
            throw TailorError("--lr must be positive, --warmup non-negative and 0 ≤ --min-lr ≤ --lr")
        }
        self.init(kind: kind, peakLR: c.lr, warmupSteps: c.warmup, minLR: c.minLR)
    }
}
