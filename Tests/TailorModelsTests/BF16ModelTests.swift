import Foundation
import Testing
import TailorModels
import TailorQuant
import TailorTape
import TailorTensor
import TailorTestSupport

/// `--quantize bf16`: every frozen matrix in bf16, products (attention's too) in bf16 with fp32 accumulation.
/// Mixed precision is not Tailor's exact path, so it is held to bf16 tolerances against fp32.
@Suite struct BF16ModelTests {
    @Test func lossAndAdapterGradientsTrackFP32() throws {
        let f = try ParityTests.Fixture("llama-gqa")
        let folder = f.folder.appendingPathComponent("model")
        let bf = try LlamaModel(folder: folder, quantizing: .bf16)
        try PEFTAdapter.load(folder: f.folder.appendingPathComponent("adapter"), into: bf, trainable: true)
        #expect(bf.embedding is BF16Matrix && bf.blocks[0][.q].weight is BF16Matrix && bf.hasQuantizedBase && bf.bf16Attention)
        func run(_ m: LlamaModel) -> (Float, [[Float]]) {
            let tape = Tape()
            let out = m.loss(tape, f.batch)
            tape.backward(out.loss)
            return (out.loss.value[0], m.adaptedLayers.flatMap { [$0.lora!.a.grad!.array, $0.lora!.b.grad!.array] })
        }
        let (l32, g32) = run(f.model), (l16, g16) = run(bf)
        #expect(abs(l16 - l32) <= 1e-2 * abs(l32), "loss bf16 \(l16) vs fp32 \(l32)")
        for (a, b) in zip(g16, g32) { expectClose(a, b, atol: 1e-6, rtol: 5e-2, "bf16 adapter gradient") }
    }

    /// `--compute bf16` on a QLoRA base: the quantized projections keep their blocks and multiply in
    /// bf16, the head becomes bf16, attention runs in bf16; loss and adapter gradients stay within
    /// bf16 tolerances of the same base computed in fp32, and differ from it (the switch took).
    @Test func computeInBF16OnAQuantizedBaseTracksFP32Compute() throws {
        let f = try ParityTests.Fixture("llama-gqa")
        let folder = f.folder.appendingPathComponent("model")
        let q32 = try LlamaModel(folder: folder, quantizing: .q8_0), q16 = try LlamaModel(folder: folder, quantizing: .q8_0)
        try q16.computeInBF16()
        for m in [q32, q16] { try PEFTAdapter.load(folder: f.folder.appendingPathComponent("adapter"), into: m, trainable: true) }
        let projections = q16.blocks.flatMap { b in LinearKind.allCases.map { b[$0].weight } }
        #expect(projections.allSatisfy { ($0 as? QuantizedMatrix)?.bf16Products == true })
        #expect(q16.outputHead is BF16Matrix && q16.embedding.parameter != nil && q16.bf16Attention, "untied: the embedding stays fp32")
        func run(_ m: LlamaModel) -> (Float, [[Float]]) {
            let tape = Tape()
            let out = m.loss(tape, f.batch)
            tape.backward(out.loss)
            return (out.loss.value[0], m.adaptedLayers.flatMap { [$0.lora!.a.grad!.array, $0.lora!.b.grad!.array] })
        }
        let (l32, g32) = run(q32), (l16, g16) = run(q16)
        #expect(l16 != l32)
        #expect(abs(l16 - l32) <= 1e-2 * abs(l32), "loss bf16 compute \(l16) vs fp32 compute \(l32)")
        for (a, b) in zip(g16, g32) { expectClose(a, b, atol: 1e-6, rtol: 5e-2, "bf16-compute adapter gradient") }
    }

    /// On a dense tied model, `--compute bf16` is `--quantize bf16`: the same bf16 matrices, bit for bit.
    @Test func computeInBF16OnADenseTiedModelIsQuantizeBF16() throws {
        let folder = try ParityTests.Fixture("qwen2-tied").folder.appendingPathComponent("model")
        let converted = try LlamaModel(folder: folder), loaded = try LlamaModel(folder: folder, quantizing: .bf16)
        try converted.computeInBF16()
        #expect(converted.embedding === converted.outputHead && converted.embedding is BF16Matrix)
        let batch = Batch(sequences: [[1, 5, 9, 3, 7, 2], [4, 4, 8, 1, 6, 0]])
        let a = converted.logits(batch), b = loaded.logits(batch)
        #expect(a.array == b.array)
    }

    /// A quantized GGUF (llama.cpp's converter left the 48-wide matrices F16, the rest Q8_0) with
    /// bf16 compute: Q8_0 matrices stay mapped and switch, F16 ones become bf16 matrices; logits
    /// within bf16 tolerance of fp32 compute.
    /// (llama-gqa's Q8_0 q/k rows are also permuted in the file, and read back through the row order.)
    @Test(arguments: ["qwen2-tied-q8_0", "llama-gqa-q8_0"])
    func computeInBF16OnAQuantizedGGUF(_ name: String) throws {
        let path = fixture("gguf/\(name).gguf").path
        let f32 = try GGUFModel.load(GGUFFile(path: path)), bf = try GGUFModel.load(GGUFFile(path: path))
        try bf.computeInBF16()
        // Every multiplied matrix: the head (the embedding when tied; an untied embedding is only looked up) and the projections.
        let weights = [bf.outputHead] + bf.blocks.flatMap { b in LinearKind.allCases.map { b[$0].weight } }
        let switched = weights.filter { ($0 as? QuantizedMatrix)?.bf16Products == true }.count, rounded = weights.filter { $0 is BF16Matrix }.count
        #expect(switched > 0 && switched + rounded == weights.count, "\(name): \(switched) Q8_0 + \(rounded) bf16 of \(weights.count)")
        let batch = Batch(sequences: [[1, 5, 9, 3, 7, 2], [4, 4, 8, 1, 6, 0]])
        let a = bf.logits(batch).array, b = f32.logits(batch).array
        #expect(a != b)
        let scale = b.map(abs).max()!
        expectClose(a, b, atol: 2e-2 * scale, "\(name): bf16-compute logits vs fp32-compute")
    }
}
