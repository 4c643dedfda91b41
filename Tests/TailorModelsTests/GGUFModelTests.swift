import Foundation
import Testing
import TailorModels
import TailorQuant
import TailorTensor
import TailorTestSupport

/// GGUFs written by llama.cpp's convert_hf_to_gguf.py (see make_gguf_fixtures.py) score like
/// transformers: f32 against the HF model, q8_0 against HF holding the dequantized weights.
@Suite struct GGUFModelTests {
    nonisolated(unsafe) static let expected: [String: [String: Any]] = {
        let data = try! Data(contentsOf: fixture("gguf/expected.json"))
        return try! JSONSerialization.jsonObject(with: data) as! [String: [String: Any]]
    }()

    @Test(arguments: ["llama-gqa-f32", "llama-gqa-q8_0", "qwen2-tied-q8_0", "llama3-rope-f32"])
    func scoreMatchesTransformers(_ name: String) throws {
        let file = try GGUFFile(path: fixture("gguf/\(name).gguf").path)
        let model = try GGUFModel.load(file)
        let e = Self.expected[name]!
        let ids = (e["ids"] as! [NSNumber]).map(\.intValue)
        let want = (e["logprobs"] as! [NSNumber]).map(\.floatValue)
        expectClose(model.logProbabilities(ids), want, atol: 1e-4, "\(name) log-probabilities")
        if name.hasSuffix("q8_0") {
            #expect(model.hasQuantizedBase)
            #expect(model.blocks[0][.o].weight is QuantizedMatrix)  // qwen2-tied q/k/v (48 columns) stay F16, as the converter leaves them
        }
    }

    /// llama.cpp's converter writes Llama 3.1 RoPE scaling as `rope_freqs.weight` alone (no keys): the
    /// `rope_scaling` comes back from it — the fixture's (one in-between divisor), and Llama 3.1 8B's and
    /// 3.2 1B's (several) from the converter's own divisors, exactly as released.
    @Test func llama3ScalingFromConverterFactors() throws {
        let file = try GGUFFile(path: fixture("gguf/llama3-rope-f32.gguf").path)
        #expect(file.metadata.keys.allSatisfy { !$0.hasPrefix("tailor.") })
        #expect(try GGUFModel.configuration(file).ropeScaling == ModelConfiguration(folder: fixture("models/llama3-rope/model")).ropeScaling)
        for name in ["llama-3.1-8b", "llama-3.2-1b"] {
            let e = Self.expected["rope-freqs-\(name)"]!, rope = e["rope_scaling"] as! [String: Any]
            func number(_ key: String) -> Float { (rope[key] as! NSNumber).floatValue }
            let factors = (e["factors"] as! [NSNumber]).map(\.floatValue), headDim = (e["head_dim"] as! NSNumber).intValue
            let want = RoPEScaling.llama3(factor: number("factor"), lowFrequencyFactor: number("low_freq_factor"),
                                          highFrequencyFactor: number("high_freq_factor"), originalContext: number("original_max_position_embeddings"))
            #expect(GGUFModel.llama3Scaling(factors: factors, headDim: headDim, theta: number("rope_theta")) == want, "\(name)")
            // Factors that no llama3 scaling makes are refused, not approximated.
            var bent = factors
            bent[bent.firstIndex { $0 > 1 && $0 < number("factor") }!] *= 1.01
            #expect(GGUFModel.llama3Scaling(factors: bent, headDim: headDim, theta: number("rope_theta")) == nil, "\(name) bent")
            #expect(GGUFModel.llama3Scaling(factors: Array(factors.dropLast()), headDim: headDim, theta: number("rope_theta")) == nil)
        }
    }

    /// `--quantize` on a GGUF: the f32 file's projections quantized at load give the same model as
    /// the Hugging Face folder it was converted from, quantized the same way — log-probabilities
    /// equal, the projections in the asked format; a q8_0 file takes a second rounding and still
    /// scores within 2e-2 of transformers.
    @Test(arguments: [BaseQuantization.q8_0, .q4_0, .bf16])
    func quantizingAtLoadMatchesTheFolder(_ q: BaseQuantization) throws {
        let fromGGUF = try GGUFModel.load(GGUFFile(path: fixture("gguf/llama-gqa-f32.gguf").path), quantizing: q)
        let fromFolder = try LlamaModel(folder: fixture("models/llama-gqa/model"), quantizing: q)
        let e = Self.expected["llama-gqa-f32"]!
        let ids = (e["ids"] as! [NSNumber]).map(\.intValue)
        expectClose(fromGGUF.logProbabilities(ids), fromFolder.logProbabilities(ids), atol: 1e-6, "\(q.rawValue) GGUF vs folder")
        #expect(fromGGUF.hasQuantizedBase && fromGGUF.bf16Attention == (q == .bf16))
        if q == .bf16 { #expect(fromGGUF.blocks[1][.down].weight is BF16Matrix) } else {
            #expect((fromGGUF.blocks[1][.down].weight as? QuantizedMatrix)?.type == q.ggmlType)
        }
        let requantized = try GGUFModel.load(GGUFFile(path: fixture("gguf/llama-gqa-q8_0.gguf").path), quantizing: .q8_0)
        let want = (Self.expected["llama-gqa-q8_0"]!["logprobs"] as! [NSNumber]).map(\.floatValue)
        expectClose(requantized.logProbabilities(ids), want, atol: 2e-2, "q8_0 file quantized again")
    }

    @Test func configurationFromMetadata() throws {
        let file = try GGUFFile(path: fixture("gguf/qwen2-tied-q8_0.gguf").path)
        let c = try GGUFModel.configuration(file)
        #expect(c.modelType == "qwen2" && c.hiddenSize == 48 && c.headDim == 16 && c.kvHeadCount == 2)
        #expect(c.tieWordEmbeddings && c.attentionBias && c.ropeTheta == 1e6)
    }

    @Test func unpermuteInvertsTheConverterPermutation() {
        // convert_hf_to_gguf: GGUF_row[h*D + 2i] = HF_row[h*D + i], GGUF_row[h*D + 2i + 1] = HF_row[h*D + D/2 + i]
        let order = GGUFModel.unpermuteOrder(rows: 8, headDim: 4)
        #expect(order == [0, 2, 1, 3, 4, 6, 5, 7])
    }
}
