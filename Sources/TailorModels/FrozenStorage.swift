import TailorTensor

/// How a model's frozen dense matrices (the block projections, token embedding and output head) are held.
public enum FrozenStorage: String, Sendable, CaseIterable {
    /// Converted to fp32 at load: 4 bytes a weight. Full fine-tuning needs it (the weights are trained).
    case f32
    /// F16 and BF16 matrices kept as the file stores them, memory-mapped: 2 bytes a weight. Each product
    /// converts a tile of rows to fp32 — exactly, every 16-bit value being an fp32 value — and multiplies it
    /// by sgemm, so results equal the fp32 ones up to summation order. F32 and block-format matrices load as
    /// they would anyway.
    case stored

    /// Parses `--base-dtype`; other values are refused with the choices.
    public init(parsing text: String, source: String = "--base-dtype") throws {
        guard let v = FrozenStorage(rawValue: text) else {
            throw TailorError("\(source) \(text): must be one of \(FrozenStorage.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = v
    }
}
