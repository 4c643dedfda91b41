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
    /// An output type: one ggml type for the matrices (norms and 1-D tensors stay F32), or
    /// llama-quantize's Q4_K_M or Q5_K_M mix, with llama-quantize's rules for the head and its fallbacks.
    public struct Target: Hashable, Sendable, CustomStringConvertible {
        /// The type of most matrices.
        public let type: GGMLType
        /// Q4_K_M / Q5_K_M: Q6_K for attn_v and ffn_down in the layers llama-quantize's `use_more_bits` picks.
        public let mediumMix: Bool

        public static func uniform(_ type: GGMLType) -> Target { Target(type: type, mediumMix: false) }
        public static let f32 = uniform(.f32), f16 = uniform(.f16), bf16 = uniform(.bf16), q8_0 = uniform(.q8_0)
        public static let q4_0 = uniform(.q4_0), q4_K = uniform(.q4_K), q5_K = uniform(.q5_K), q6_K = uniform(.q6_K)
        public static let q4_K_M = Target(type: .q4_K, mediumMix: true), q5_K_M = Target(type: .q5_K, mediumMix: true)

        /// `general.file_type` (`llama_ftype`).
        public var fileType: UInt32 {
            if mediumMix { return type == .q5_K ? 17 : 15 }  // MOSTLY_Q5_K_M, MOSTLY_Q4_K_M
            switch type {
            case .f32: return 0
            case .f16: return 1
            case .q4_0: return 2
            case .q8_0: return 7
            case .q4_K: return 14  // MOSTLY_Q4_K_S's type, though every matrix but the head is Q4_K here
            case .q5_K: return 16  // MOSTLY_Q5_K_S likewise
            case .q6_K: return 18
            case .bf16: return 32
            default: return 1024
            }
        }

        public var description: String { mediumMix ? "\(type)_M" : "\(type)" }
    }

    /// The output types `tailor merge --type` and `tailor quantize --type` accept.
    public static let types: [String: Target] = [
        "f32": .f32, "f16": .f16, "bf16": .bf16, "q8_0": .q8_0, "q4_0": .q4_0, "q4_k": .q4_K, "q5_k": .q5_K, "q6_k": .q6_K,
        "q4_k_m": .q4_K_M, "q5_k_m": .q5_K_M,
    ]

    /// `general.file_type` (`llama_ftype`) for an output type.
    public static func fileType(_ t: Target) -> UInt32 { t.fileType }

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

    /// The type a tensor is stored in for `target`, as llama-quantize chooses it: ``ruleType(_:shape:target:layers:tiedHead:)``,
    /// then ``fallback(_:columns:)``. `layers` is the model's layer count (the mixes depend on it).
    public static func tensorType(_ ggufName: String, shape: [Int], target: Target, layers: Int = 1, tiedHead: Bool) -> GGMLType {
        fallback(ruleType(ggufName, shape: shape, target: target, layers: layers, tiedHead: tiedHead), columns: shape.last ?? 1)
    }

    /// The type llama-quantize's rules pick before any fallback: 1-D tensors and norms F32; the
    /// output head (the embedding when tied) Q6_K under Q4_0, Q4_K, Q5_K and their _M mixes — Q8_0 when the
    /// target's block does not divide its rows; under the mixes, attn_v and ffn_down Q6_K in layer i of n when
    /// `i < n/8 || i >= 7n/8 || (i − n/8) % 3 == 2` (`use_more_bits`); else the target's type.
    public static func ruleType(_ ggufName: String, shape: [Int], target: Target, layers: Int, tiedHead: Bool) -> GGMLType {
        guard shape.count >= 2, !ggufName.hasSuffix("_norm.weight"), ggufName.hasSuffix("weight") else { return .f32 }
        let isHead = ggufName == "output.weight" || (tiedHead && ggufName == "token_embd.weight")
        if isHead, [.q4_0, .q4_K, .q5_K].contains(target.type) {
            return shape.last! % target.type.blockSize != 0 ? .q8_0 : .q6_K
        }
        if target.mediumMix, ggufName.hasSuffix(".attn_v.weight") || ggufName.hasSuffix(".ffn_down.weight"),
           let layer = ggufName.split(separator: ".").dropFirst().first.flatMap({ Int($0) }) {
            let n = layers
            if layer < n / 8 || layer >= 7 * n / 8 || (layer - n / 8) % 3 == 2 { return .q6_K }
        }
        return target.type
    }

    /// llama-quantize's fallback for rows a type's block does not divide: Q4_K → Q5_0, Q5_K → Q5_1,
    /// Q6_K → Q8_0 (256-blocks), then F16 when 32 does not divide them either.
    public static func fallback(_ type: GGMLType, columns: Int) -> GGMLType {
        var t = type
        if t.blockSize == 256, columns % 256 != 0 { t = t == .q4_K ? .q5_0 : t == .q5_K ? .q5_1 : .q8_0 }
        if t.blockSize == 32, columns % 32 != 0 { t = .f16 }
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
    ///   - target: the output type; see ``tensorType(_:shape:target:layers:tiedHead:)``.
    ///   - report: called after each tensor is written.
    @discardableResult
    public static func write(_ tensors: [MergedTensor], configuration c: ModelConfiguration, metadata: [(String, GGUFValue)],
                             target: Target, to url: URL, report: @escaping (TensorReport) -> Void = { _ in }) throws -> [TensorReport] {
        try write(tensors, configuration: c, metadata: metadata, target: target, to: url, typeFor: { _, _ in nil }, report: report)
    }

    /// ``write(_:configuration:metadata:target:to:report:)`` where `typeFor(ggufName, shape)` may
    /// choose a tensor's type before the fallbacks (nil: ``ruleType(_:shape:target:layers:tiedHead:)``).
    @discardableResult
    public static func write(_ tensors: [MergedTensor], configuration c: ModelConfiguration, metadata: [(String, GGUFValue)],
                             target: Target, to url: URL, typeFor: (String, [Int]) -> GGMLType?,
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
            let rule = typeFor(name, t.shape)
                ?? ruleType(name, shape: t.shape, target: target, layers: c.layerCount, tiedHead: c.tieWordEmbeddings)
            let type = fallback(rule, columns: t.shape.last!)
            let groups = GGUFNames.permutationGroups(t.name, c, architecture: arch)
            let byteCount = type.rowBytes(columns: t.shape.last!)! * t.shape.dropLast().reduce(1, *)
            let shape = t.shape
            try writer.addTensor(name, shape: shape, type: type, byteCount: byteCount) {
                var v = t.produce()
                if let bad = v.buffer.firstIndex(where: { !$0.isFinite }) {
                    throw TailorError("\(url.path): tensor \(name) (\(t.name)) has a non-finite value \(v[bad]) at index \(bad)")
                }
                if let groups { v = GGUFNames.permuteRows(v, groups: groups) }
                let bytes = try ExportEncoder.encode(type, v)
                let err: Double? = type == .f32 ? nil : relativeError(v, bytes, type)
                sink.emit(TensorReport(name: name, shape: shape, type: type, relativeError: err,
                                       fallbackFrom: type != rule ? rule : nil))
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
