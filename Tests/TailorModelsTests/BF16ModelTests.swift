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
}
