import Foundation

/// One optimizer step, as reported to the progress callback and written to `metrics.jsonl`.
public struct StepMetrics: Sendable, Codable, Equatable {
    public var step: Int
    public var totalSteps: Int
    /// Mean loss over the step's trained tokens.
    public var loss: Double
    public var learningRate: Double
    /// Trained tokens in the step.
    public var tokens: Int
    /// All tokens processed (including prompts and padding) per second of this step.
    public var tokensPerSecond: Double
    /// Global gradient norm before clipping.
    public var gradientNorm: Double
    public var seconds: Double
    public var elapsed: Double
    public var peakRSSBytes: Int
    public var epoch: Int
}

/// A validation pass.
public struct EvaluationMetrics: Sendable, Codable, Equatable {
    public var step: Int
    /// Mean negative log-likelihood over every trained token of the validation set.
    public var loss: Double
    public var perplexity: Double
    public var tokens: Int
    public var examples: Int
    public var isBest: Bool
}

/// What the trainer tells its observer.
public enum TrainingEvent: Sendable {
    case step(StepMetrics)
    case evaluation(EvaluationMetrics)
    case checkpoint(URL)
    case message(String)
}

/// The observer's answer: go on, or save a checkpoint and stop.
public enum TrainingControl: Sendable {
    case proceed
    case stop
}

/// How a run ended.
public struct TrainingSummary: Sendable {
    public var steps: Int
    public var finalLoss: Double?
    public var bestValidLoss: Double?
    public var bestCheckpoint: URL?
    public var stoppedEarly: Bool
    public var interrupted: Bool
    public var output: URL
    /// Steps skipped by `skipNonfinite` because their loss or gradients were NaN or infinite.
    public var skippedNonFinite: Int = 0
}

/// Peak resident set size of this process, in bytes.
public func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int(usage.ru_maxrss) * 1024
}
