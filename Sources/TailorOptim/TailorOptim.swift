/// Optimizers, learning-rate schedules, gradient clipping and gradient accumulation.
///
/// - ``Optimizer``: ``AdamW``, ``Adam``, ``SGD`` and ``Adafactor``, each following its
///   `torch.optim` namesake, with state saved and restored by parameter name (``OptimizerState``).
/// - ``LearningRateSchedule``: warmup then constant, linear or cosine decay (Hugging Face conventions).
/// - ``clipGradientNorm(_:maxNorm:)``: global-norm clipping like `torch.nn.utils.clip_grad_norm_`.
/// - ``GradientAccumulator``: the token-weighted normaliser for micro-batches.
///
/// A training step runs: backward (gradients) → clip → lr from the schedule → `step` → zero gradients.
public enum TailorOptim {}
