import Foundation
import TailorQuant
import TailorTape
import TailorTensor

/// The base-weight formats `--quantize` accepts.
public enum BaseQuantization: String, CaseIterable, Sendable {
    case q8_0, q4_0, q4_K = "q4_k", q5_K = "q5_k", q6_K = "q6_k"
    /// bitsandbytes NF4 (blocks of 64), and NF4 with double-quantized absmax.
    case nf4, nf4DoubleQuantized = "nf4-dq"
    /// bf16 weights multiplied with bf16 activations and fp32 accumulation (AMX tiles where the
    /// CPU has them): mixed precision for speed, not a compact format.
    case bf16

    /// The ggml block type, or nil for NF4 (not a ggml format).
    public var ggmlType: GGMLType? {
        switch self {
        case .q8_0: .q8_0
        case .q4_0: .q4_0
        case .q4_K: .q4_K
        case .q5_K: .q5_K
        case .q6_K: .q6_K
        case .nf4, .nf4DoubleQuantized, .bf16: nil
        }
    }

    /// Elements per block: the input width must be a multiple.
    public var blockSize: Int {
        switch self {
        case .bf16: 1
        case .nf4, .nf4DoubleQuantized: NF4.blockSize
        default: ggmlType!.blockSize
        }
    }

    /// Quantizes one dense `[out, in]` block projection.
    public func quantize(_ name: String, _ dense: Tensor) throws -> any LinearWeight {
        switch self {
        case .nf4: try NF4Matrix(name: name, quantizing: dense)
        case .nf4DoubleQuantized: try NF4Matrix(name: name, quantizing: dense, doubleQuantization: true)
        case .bf16: try BF16Matrix(name: name, rounding: dense)
        default: try QuantizedMatrix(name: name, quantizing: dense, as: ggmlType!)
        }
    }

    /// Parses a `--quantize` value; others are rejected with the supported list.
    public init(parsing text: String) throws {
        guard let v = BaseQuantization(rawValue: text.lowercased()) else {
            throw TailorError("--quantize \(text): not supported (supported: \(BaseQuantization.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        self = v
    }
}

extension LlamaModel {
    /// Loads a Hugging Face folder with the seven block projections quantized at load time
    /// (ggml's reference rounding); embeddings, the output head, norms and biases stay fp32, as in QLoRA
    /// (bf16 rounds the embedding and head too, see ``init(configuration:quantizing:source:loadTable:load:)``);
    /// with ``FrozenStorage/stored`` an F16/BF16 embedding and head stay as stored instead.
    public convenience init(folder: URL, quantizing q: BaseQuantization, frozen: FrozenStorage = .f32) throws {
        let config = try ModelConfiguration(folder: folder)
        let files = try WeightFiles(folder: folder)
        try self.init(configuration: config, quantizing: q, source: folder.path, loadTable: files.frozenLoader(frozen)) { name, shape in
            try files.tensor(name, shape: shape)
        }
    }

    /// Builds a model from dense tensors with the seven block projections quantized as they are
    /// loaded (one dense projection exists at a time); embeddings, head, norms and biases stay fp32
    /// — except with ``BaseQuantization/bf16``, where the token embedding and output head are
    /// bf16 matrices too, so the fused cross-entropy also runs on bf16 products, and attention's
    /// products run in bf16 as well (``bf16Attention``).
    ///
    /// - Parameters:
    ///   - q: the block format; each projection's input width must be a multiple of its block size.
    ///   - source: names the weights' origin in errors (a folder path, a benchmark shape).
    ///   - loadTable: may return the embedding or head as a frozen matrix (nil: fp32); not asked for `bf16`.
    ///   - load: returns the fp32 tensor of a Hugging Face name with the given shape.
    public convenience init(configuration: ModelConfiguration, quantizing q: BaseQuantization, source: String,
                            loadTable: ((String, [Int]) throws -> (any LinearWeight)?)? = nil,
                            load: @escaping (String, [Int]) throws -> Tensor) throws {
        try self.init(configuration: configuration, load: load, loadLinear: { name, shape in
            guard shape[1] % q.blockSize == 0 else {
                throw TailorError("\(source): \(name) has \(shape[1]) input features, not a multiple of the \(q.rawValue) block size \(q.blockSize)")
            }
            return try q.quantize(name, try load(name, shape))
        }, loadTable: q == .bf16 ? { name, shape in try BF16Matrix(name: name, rounding: try load(name, shape)) } : loadTable)
        bf16Attention = q == .bf16
    }

    /// Runs every frozen product in bf16 with fp32 accumulation (AMX tiles where the CPU has them),
    /// and attention too: QLoRA with bf16 compute, as bitsandbytes' `bnb_4bit_compute_dtype=
    /// torch.bfloat16` with the rest of the model loaded in bf16. Block-format weights stay compact
    /// and are rounded tile by tile as they are multiplied; dense frozen matrices (the output head,
    /// which is the embedding when tied, and dense projections) become ``BF16Matrix``es, as
    /// `--quantize bf16` makes them. An untied embedding is only looked up and stays as it is.
    ///
    /// Call before adapters are added; full fine-tuning needs the dense fp32 weights.
    public func computeInBF16() throws {
        func converted(_ w: any LinearWeight) throws -> any LinearWeight {
            if let m = w as? any BF16Computable { m.bf16Products = true; return w }
            guard let p = w.parameter else { return w }  // already bf16
            guard !p.requiresGrad else { throw TailorError("\(p.name): a trained weight cannot be multiplied in bf16 (full fine-tuning needs --compute f32)") }
            return try BF16Matrix(name: p.name, rounding: p.value)
        }
        // An untied embedding is only looked up, never multiplied: it stays as it is.
        if outputHead === embedding { embedding = try converted(embedding); outputHead = embedding } else { outputHead = try converted(outputHead) }
        for b in blocks { for kind in LinearKind.allCases { b[kind].weight = try converted(b[kind].weight) } }
        bf16Attention = true
    }

    /// Bytes the base weights hold: fp32 parameters at 4 a value, frozen matrices at their storage (a
    /// memory-mapped one counts as it is paged in).
    public var weightBytes: Int {
        var seen = Set<ObjectIdentifier>()  // a tied head once
        let frozen = ([embedding, outputHead] + blocks.flatMap { b in LinearKind.allCases.map { b[$0].weight } })
            .compactMap { $0 as? any TiledMatrix }.filter { seen.insert(ObjectIdentifier($0)).inserted }
        return baseParameters.reduce(0) { $0 + 4 * $1.value.count } + frozen.reduce(0) { $0 + $1.storageBytes }
    }

    /// Whether any block projection is a frozen quantized matrix (full fine-tuning is then impossible).
    public var hasQuantizedBase: Bool {
        embedding.parameter == nil || outputHead.parameter == nil
            || blocks.contains { b in LinearKind.allCases.contains { b[$0].weight.parameter == nil } }
    }
}
