import TailorTensor

/// A ggml tensor type (`enum ggml_type`): its id in GGUF files, block size and bytes per block.
///
/// Every id that ggml defines has a size here, so the reader can validate and `inspect` any file;
/// ``isDequantizable`` says which ones Tailor can turn into floats.
public struct GGMLType: Hashable, Sendable, CustomStringConvertible {
    /// The `ggml_type` id stored in tensor-info records.
    public let id: UInt32
    /// The name as ggml spells it (`Q4_K`).
    public let name: String
    /// Elements per block (1 for plain types, 32 or 256 for quantized blocks).
    public let blockSize: Int
    /// Bytes per block.
    public let blockBytes: Int

    public var description: String { name }

    public static let f32 = GGMLType(id: 0, name: "F32", blockSize: 1, blockBytes: 4)
    public static let f16 = GGMLType(id: 1, name: "F16", blockSize: 1, blockBytes: 2)
    public static let q4_0 = GGMLType(id: 2, name: "Q4_0", blockSize: 32, blockBytes: 18)
    public static let q4_1 = GGMLType(id: 3, name: "Q4_1", blockSize: 32, blockBytes: 20)
    public static let q5_0 = GGMLType(id: 6, name: "Q5_0", blockSize: 32, blockBytes: 22)
    public static let q5_1 = GGMLType(id: 7, name: "Q5_1", blockSize: 32, blockBytes: 24)
    public static let q8_0 = GGMLType(id: 8, name: "Q8_0", blockSize: 32, blockBytes: 34)
    public static let q4_K = GGMLType(id: 12, name: "Q4_K", blockSize: 256, blockBytes: 144)
    public static let q5_K = GGMLType(id: 13, name: "Q5_K", blockSize: 256, blockBytes: 176)
    public static let q6_K = GGMLType(id: 14, name: "Q6_K", blockSize: 256, blockBytes: 210)
    public static let bf16 = GGMLType(id: 30, name: "BF16", blockSize: 1, blockBytes: 2)

    /// Every type ggml defines (ids 0–42 at llama.cpp 0c1e570, removed ids left out), with
    /// block sizes from `ggml-common.h` / gguf-py `GGML_QUANT_SIZES`.
    public static let all: [GGMLType] = [
        .f32, .f16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0,
        GGMLType(id: 9, name: "Q8_1", blockSize: 32, blockBytes: 36),
        GGMLType(id: 10, name: "Q2_K", blockSize: 256, blockBytes: 84),
        GGMLType(id: 11, name: "Q3_K", blockSize: 256, blockBytes: 110),
        .q4_K, .q5_K, .q6_K,
        GGMLType(id: 15, name: "Q8_K", blockSize: 256, blockBytes: 292),
        GGMLType(id: 16, name: "IQ2_XXS", blockSize: 256, blockBytes: 66),
        GGMLType(id: 17, name: "IQ2_XS", blockSize: 256, blockBytes: 74),
        GGMLType(id: 18, name: "IQ3_XXS", blockSize: 256, blockBytes: 98),
        GGMLType(id: 19, name: "IQ1_S", blockSize: 256, blockBytes: 50),
        GGMLType(id: 20, name: "IQ4_NL", blockSize: 32, blockBytes: 18),
        GGMLType(id: 21, name: "IQ3_S", blockSize: 256, blockBytes: 110),
        GGMLType(id: 22, name: "IQ2_S", blockSize: 256, blockBytes: 82),
        GGMLType(id: 23, name: "IQ4_XS", blockSize: 256, blockBytes: 136),
        GGMLType(id: 24, name: "I8", blockSize: 1, blockBytes: 1),
        GGMLType(id: 25, name: "I16", blockSize: 1, blockBytes: 2),
        GGMLType(id: 26, name: "I32", blockSize: 1, blockBytes: 4),
        GGMLType(id: 27, name: "I64", blockSize: 1, blockBytes: 8),
        GGMLType(id: 28, name: "F64", blockSize: 1, blockBytes: 8),
        GGMLType(id: 29, name: "IQ1_M", blockSize: 256, blockBytes: 56),
        .bf16,
        GGMLType(id: 34, name: "TQ1_0", blockSize: 256, blockBytes: 54),
        GGMLType(id: 35, name: "TQ2_0", blockSize: 256, blockBytes: 66),
        GGMLType(id: 39, name: "MXFP4", blockSize: 32, blockBytes: 17),
        GGMLType(id: 40, name: "NVFP4", blockSize: 64, blockBytes: 36),
        GGMLType(id: 41, name: "Q1_0", blockSize: 128, blockBytes: 18),
        GGMLType(id: 42, name: "Q2_0", blockSize: 64, blockBytes: 18),
    ]

    private static let byID: [UInt32: GGMLType] = Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0) })

    /// The type with this id, or nil for ids ggml does not define.
    public init?(id: UInt32) {
        guard let t = GGMLType.byID[id] else { return nil }
        self = t
    }

    /// The type with this name (case-insensitive: `q4_k`, `Q4_K`), or nil.
    public init?(name: String) {
        guard let t = GGMLType.all.first(where: { $0.name.lowercased() == name.lowercased() }) else { return nil }
        self = t
    }

    private init(id: UInt32, name: String, blockSize: Int, blockBytes: Int) {
        self.id = id; self.name = name; self.blockSize = blockSize; self.blockBytes = blockBytes
    }

    /// Bytes of one row of `columns` elements; nil when `columns` is not a multiple of the block size.
    public func rowBytes(columns: Int) -> Int? {
        guard columns >= 0, columns % blockSize == 0 else { return nil }
        return columns / blockSize * blockBytes
    }

    /// Whether ``Dequantize`` handles this type.
    public var isDequantizable: Bool { Dequantize.supported.contains(id) }
}
