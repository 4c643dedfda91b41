/// The trainer: configuration, training loop, evaluation, checkpoints and metrics.
public enum TailorTrain {}
