import TailorTape

/// Gradient accumulation over micro-batches weighted by token count.
///
/// **The rule.** An optimizer step trains on k micro-batches with `n₁ … n_k` trained tokens
/// (labels that are not −100, counted after any shift). Every micro-batch's loss is the *sum*
/// of its token losses divided by the step's **total** `N = n₁ + … + n_k`:
/// ```
/// loss_i = Σ_{tokens of micro-batch i} −log p(label) / N
/// ```
/// Gradients add up across the micro-batches' backward passes (``Parameter/grad`` accumulates),
/// so after all k of them each gradient equals that of the mean loss over the union of the
/// micro-batches — the same as one big batch, whatever the micro-batch lengths. (Dividing each
/// micro-batch by its own count and then by k would over-weight short micro-batches.)
///
/// Count every micro-batch's tokens *before* the first backward pass, then pass
/// ``normalizer`` to the loss:
/// ```swift
/// var accumulator = GradientAccumulator(labels: microBatches.map(\.labels))
/// for batch in microBatches {
///     let tape = Tape()
///     let output = tape.crossEntropy(hidden(batch, tape), weight: lmHead, labels: batch.labels,
///                                    normalizer: accumulator.normalizer)
///     tape.backward(output.loss)
///     accumulator.record(output)
/// }
/// optimizer.step(parameters, lr: lr)          // then log accumulator.meanLoss
/// ```
public struct GradientAccumulator: Sendable, Hashable {
    /// The label value that is not trained on (torch's `ignore_index`).
    public static let ignoreIndex: Int32 = -100

    /// N, the trained tokens of the whole step.
    public let totalTokens: Int
    /// Σ −log p(label) over the micro-batches recorded so far.
    public private(set) var lossSum: Double = 0
    /// Trained tokens in the micro-batches recorded so far.
    public private(set) var recordedTokens: Int = 0

    /// A step whose micro-batches have these trained-token counts.
    ///
    /// - Parameter tokenCounts: nᵢ for each micro-batch.
    public init(tokenCounts: [Int]) {
        precondition(tokenCounts.allSatisfy { $0 >= 0 }, "GradientAccumulator: negative token count in \(tokenCounts)")
        totalTokens = tokenCounts.reduce(0, +)
    }

    /// A step whose micro-batches have these (already shifted) labels; −100 is not trained.
    ///
    /// - Parameter labels: each micro-batch's labels, flattened.
    public init(labels: [[Int32]]) {
        self.init(tokenCounts: labels.map(Self.trainedTokens(in:)))
    }

    /// The number of labels that are not ``ignoreIndex``.
    public static func trainedTokens(in labels: [Int32]) -> Int {
        labels.reduce(0) { $0 + ($1 == ignoreIndex ? 0 : 1) }
    }

    /// N as the loss `normalizer` of every micro-batch (1 when the step has no trained token,
    /// so the loss and gradients are zero rather than NaN).
    public var normalizer: Float { Float(max(1, totalTokens)) }

    /// Adds a micro-batch's loss sum and token count (for ``meanLoss``).
    ///
    /// - Parameter output: the micro-batch's loss output.
    public mutating func record(_ output: LossOutput) {
        lossSum += output.lossSum
        recordedTokens += output.tokens
        assert(recordedTokens <= totalTokens, "GradientAccumulator: recorded \(recordedTokens) tokens, step has \(totalTokens)")
    }

    /// The step's mean token loss, `lossSum / N` (the full-batch loss once every micro-batch is recorded).
    public var meanLoss: Double { lossSum / Double(max(1, totalTokens)) }
}
