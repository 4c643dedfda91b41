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

    @Test(arguments: ["llama-gqa-f32", "llama-gqa-q8_0", "qwen2-tied-q8_0"])
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
