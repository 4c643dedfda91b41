/// Optimizers, learning-rate schedules and gradient clipping.
public enum TailorOptim {}
