import Foundation
import TailorModels
import TailorQuant
import TailorTensor

/// Writes a merged model as a GGUF file llama.cpp loads: architecture metadata with the exact
/// types llama.cpp checks, the tokenizer, tensors under llama.cpp's names with the `llama` Q/K row
/// permutation, norms and 1-D tensors in F32, other tensors in the chosen type with llama-quantize's
/// fallbacks (gguf.md §2.11, §3). Tensors are merged, encoded and written one at a time; the file
/// is written under a temporary name and renamed into place.
public enum GGUFExport {
    /// The output types `tailor merge --type` accepts.
    public static let types: [String: GGMLType] = [
        "f32": .f32, "f16": .f16, "bf16": .bf16, "q8_0": .q8_0, "q4_0": .q4_0, "q4_k": .q4_K, "q6_k": .q6_K,
    ]

    /// `general.file_type` (`llama_ftype`) for an output type.
    public static func fileType(_ t: GGMLType) -> UInt32 {
        switch t {
        case .f32: 0
        case .f16: 1
        case .q4_0: 2
        case .q8_0: 7
        case .q4_K: 14  // MOSTLY_Q4_K_S: every matrix Q4_K except the head
        case .q6_K: 18
        case .bf16: 32
        default: 1024
        }
    }

    /// What one tensor became.
    public struct TensorReport: Sendable {
        public let name: String
        public let shape: [Int]
        public let type: GGMLType
        /// ‖W − decode(encode(W))‖ / ‖W‖ for lossy types (nil for F32).
        public let relativeError: Double?
        /// The type asked for, when a fallback was taken.
        public let fallbackFrom: GGMLType?
    }

    /// The type a tensor is stored in for target `target`, as llama-quantize chooses it:
    /// 1-D tensors and norms F32; the output head Q6_K under Q4_0/Q4_K; K-quants on rows that are
    /// not a multiple of 256 fall back to Q5_0 (Q4_K) or Q8_0 (Q6_K), and to F16 when rows are
    /// not a multiple of 32 either.
    public static func tensorType(_ ggufName: String, shape: [Int], target: GGMLType, tiedHead: Bool) -> GGMLType {
        guard shape.count >= 2, !ggufName.hasSuffix("_norm.weight"), ggufName.hasSuffix("weight") else { return .f32 }
        var t = target
        let isHead = ggufName == "output.weight" || (tiedHead && ggufName == "token_embd.weight")
        if isHead, [.q4_0, .q4_K].contains(target) { t = .q6_K }
        let cols = shape.last!
        if t.blockSize == 256, cols % 256 != 0 { t = t == .q4_K ? .q5_0 : .q8_0 }
        if t.blockSize == 32, cols % 32 != 0 { t = .f16 }
        return t
    }

    /// Model metadata for `config` (gguf.md §3.1): counts UINT32, eps and rope base FLOAT32.
    public static func modelMetadata(_ c: ModelConfiguration, architecture arch: String, name: String, fileType: UInt32) -> [(String, GGUFValue)] {
        var m: [(String, GGUFValue)] = [
            ("general.architecture", .string(arch)),
            ("general.type", .string("model")),
            ("general.name", .string(name)),
            ("general.file_type", .uint32(fileType)),
            ("general.quantization_version", .uint32(2)),
            ("\(arch).context_length", .uint32(UInt32(c.maxPositionEmbeddings))),
            ("\(arch).embedding_length", .uint32(UInt32(c.hiddenSize))),
            ("\(arch).block_count", .uint32(UInt32(c.layerCount))),
            ("\(arch).feed_forward_length", .uint32(UInt32(c.intermediateSize))),
            ("\(arch).attention.head_count", .uint32(UInt32(c.headCount))),
            ("\(arch).attention.head_count_kv", .uint32(UInt32(c.kvHeadCount))),
            ("\(arch).attention.layer_norm_rms_epsilon", .float32(c.rmsNormEps)),
            ("\(arch).rope.freq_base", .float32(c.ropeTheta)),
            ("\(arch).rope.dimension_count", .uint32(UInt32(c.headDim))),
            ("\(arch).attention.key_length", .uint32(UInt32(c.headDim))),
            ("\(arch).attention.value_length", .uint32(UInt32(c.headDim))),
            ("\(arch).vocab_size", .uint32(UInt32(c.vocabularySize))),
        ]
        switch c.ropeScaling {
        case .none: break
        case .linear(let f):
            m.append(("\(arch).rope.scaling.type", .string("linear")))
            m.append(("\(arch).rope.scaling.factor", .float32(f)))
        case .llama3(let f, let lo, let hi, let old):
            // llama.cpp reads the scaling from the rope_freqs tensor; these keys (ignored by
            // llama.cpp) let Tailor's reader rebuild and check it.
            m += [("tailor.rope.llama3.factor", .float32(f)), ("tailor.rope.llama3.low_freq_factor", .float32(lo)),
                  ("tailor.rope.llama3.high_freq_factor", .float32(hi)), ("tailor.rope.llama3.original_context_length", .float32(old))]
        }
        return m
    }

    /// Writes `tensors` (Hugging Face names; see ``Merge/tensors(of:)``) as a GGUF model.
    /// - Parameters:
    ///   - metadata: model and tokenizer metadata, in order.
    ///   - target: the output type; see ``tensorType(_:shape:target:tiedHead:)``.
    ///   - report: called after each tensor is written.
    @discardableResult
    public static func write(_ tensors: [MergedTensor], configuration c: ModelConfiguration, metadata: [(String, GGUFValue)],
                             target: GGMLType, to url: URL, report: @escaping (TensorReport) -> Void = { _ in }) throws -> [TensorReport] {
        try write(tensors, configuration: c, metadata: metadata, target: target, to: url, typeFor: { _, _ in nil }, report: report)
    }

    /// ``write(_:configuration:metadata:target:to:report:)`` where `typeFor(ggufName, shape)` may
    /// choose a tensor's type (nil: ``tensorType(_:shape:target:tiedHead:)``).
    @discardableResult
    public static func write(_ tensors: [MergedTensor], configuration c: ModelConfiguration, metadata: [(String, GGUFValue)],
                             target: GGMLType, to url: URL, typeFor: (String, [Int]) -> GGMLType?,
                             report: @escaping (TensorReport) -> Void) throws -> [TensorReport] {
        let arch = try GGUFNames.architecture(modelType: c.modelType)
        var writer = GGUFWriter()
        for (k, v) in metadata { writer.set(k, v) }
        var reports: [TensorReport] = []
        let sink = ReportSink(report)
        if let factors = GGUFModel.ropeFrequencyFactors(c) {
            try writer.addTensor("rope_freqs.weight", Tensor(shape: [factors.count], values: factors), type: .f32)
        }
        for t in tensors {
            guard let name = GGUFNames.gguf(t.name) else { throw TailorError("\(url.path): tensor \(t.name) has no llama.cpp name") }
            let type = typeFor(name, t.shape) ?? tensorType(name, shape: t.shape, target: target, tiedHead: c.tieWordEmbeddings)
            let groups = GGUFNames.permutationGroups(t.name, c, architecture: arch)
            let byteCount = type.rowBytes(columns: t.shape.last!)! * t.shape.dropLast().reduce(1, *)
            let shape = t.shape, requested = target
            try writer.addTensor(name, shape: shape, type: type, byteCount: byteCount) {
                var v = t.produce()
                if let bad = v.buffer.firstIndex(where: { !$0.isFinite }) {
                    throw TailorError("\(url.path): tensor \(name) (\(t.name)) has a non-finite value \(v[bad]) at index \(bad)")
                }
                if let groups { v = GGUFNames.permuteRows(v, groups: groups) }
                let bytes = try ExportEncoder.encode(type, v)
                let err: Double? = type == .f32 ? nil : relativeError(v, bytes, type)
                sink.emit(TensorReport(name: name, shape: shape, type: type, relativeError: err,
                                       fallbackFrom: shape.count >= 2 && type != requested && type != .f32 ? requested : nil))
                return bytes
            }
        }
        try writer.write(to: url)
        reports = sink.reports
        return reports
    }

    static func relativeError(_ v: Tensor, _ bytes: [UInt8], _ type: GGMLType) -> Double {
        let back = Dequantize.floats(type, bytes, count: v.count)
        var num = 0.0, den = 0.0
        for i in 0..<v.count { let d = Double(v[i] - back[i]); num += d * d; den += Double(v[i]) * Double(v[i]) }
        return den > 0 ? (num / den).squareRoot() : num.squareRoot()
    }

    /// Collects reports from the writer's producer closures.
    final class ReportSink {
        var reports: [TensorReport] = []
        let callback: (TensorReport) -> Void
        init(_ callback: @escaping (TensorReport) -> Void) { self.callback = callback }
        func emit(_ r: TensorReport) { reports.append(r); callback(r) }
    }
}
