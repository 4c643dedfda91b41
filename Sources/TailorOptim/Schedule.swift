import Foundation

/// A learning-rate schedule: linear warmup, then constant, linear or cosine decay to a minimum.
///
/// Steps are 0-based: `lr(at: 0, …)` is the rate of the first optimizer step. With `W =
/// warmupSteps`, `T = totalSteps`, `peak = peakLR`, `min = minLR`, in `Double`:
/// ```
/// warmup (step < W):   peak · step / max(1, W)
/// constant:            peak
/// linear:              min + (peak − min) · max(0, (T − step) / max(1, T − W))
/// cosine:              min + (peak − min) · 0.5 · (1 + cos(π · p)),  p = min(1, (step − W) / max(1, T − W))
/// ```
/// The warmup follows Hugging Face transformers exactly (`current_step / max(1, num_warmup_steps)`),
/// so the first step of a warmup runs at lr 0. With `minLR = 0` the three kinds equal
/// `get_constant_schedule_with_warmup`, `get_linear_schedule_with_warmup` and
/// `get_cosine_schedule_with_warmup` (`num_cycles = 0.5`) for every step in `0..<T`; with a
/// minimum the cosine equals `get_cosine_with_min_lr_schedule_with_warmup(min_lr: minLR)`.
/// Past `T` the cosine stays at `min` (transformers' would rise again); the linear one stays at `min`.
///
/// ```swift
/// let schedule = LearningRateSchedule(kind: .cosine, peakLR: 2e-4, warmupSteps: 100, minLR: 2e-5)
/// let lr = schedule.lr(at: step, totalSteps: 1000)
/// ```
public struct LearningRateSchedule: Sendable, Hashable, Codable {
    /// The shape after warmup.
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// Stay at the peak.
        case constant
        /// Decay linearly from the peak to the minimum at `totalSteps`.
        case linear
        /// Half a cosine from the peak to the minimum at `totalSteps`.
        case cosine
    }

    /// The shape after warmup.
    public var kind: Kind
    /// The rate reached at the end of warmup.
    public var peakLR: Double
    /// The number of warmup steps (0: none).
    public var warmupSteps: Int
    /// The rate at the end of the decay (ignored by `.constant`).
    public var minLR: Double

    /// - Parameters:
    ///   - kind: constant, linear or cosine.
    ///   - peakLR: the rate after warmup.
    ///   - warmupSteps: linear warmup length from 0 (default 0).
    ///   - minLR: the final rate of a decay (default 0).
    public init(kind: Kind, peakLR: Double, warmupSteps: Int = 0, minLR: Double = 0) {
        precondition(warmupSteps >= 0 && peakLR >= 0 && minLR >= 0, "LearningRateSchedule: negative warmup \(warmupSteps), peak \(peakLR) or minimum \(minLR)")
        self.kind = kind; self.peakLR = peakLR; self.warmupSteps = warmupSteps; self.minLR = minLR
    }

    /// The rate at `step` (0-based) of a run of `totalSteps` optimizer steps, as `Double`.
    public func value(at step: Int, totalSteps: Int) -> Double {
        precondition(step >= 0, "LearningRateSchedule: negative step \(step)")
        if step < warmupSteps { return peakLR * (Double(step) / Double(max(1, warmupSteps))) }
        let span = Double(max(1, totalSteps - warmupSteps))
        switch kind {
        case .constant:
            return peakLR
        case .linear:
            return minLR + (peakLR - minLR) * max(0, Double(totalSteps - step) / span)
        case .cosine:
            let progress = min(1, Double(step - warmupSteps) / span)
            return minLR + (peakLR - minLR) * (0.5 * (1 + cos(Double.pi * progress)))
        }
    }

    /// The rate at `step` (0-based) of a run of `totalSteps` optimizer steps (formula above).
    public func lr(at step: Int, totalSteps: Int) -> Float {
        Float(value(at: step, totalSteps: totalSteps))
    }
}
