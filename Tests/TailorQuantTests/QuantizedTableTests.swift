import Foundation
import Testing
import TailorQuant
import TailorTape
import TailorTensor
import TailorTestSupport

/// A quantized token embedding (row lookup) and output head (tiled fused cross-entropy) give what
/// the same table dequantized to a dense ``Parameter`` gives, without ever expanding it.
@Suite struct QuantizedTableTests {
    static func table(_ type: GGMLType) throws -> (QuantizedMatrix, Parameter) {
        var g = TestRandom(seed: 11)
        let dense = g.tensor([600, 64])
        let q = try QuantizedMatrix(name: "output.weight", quantizing: dense, as: type)
        return (q, Parameter("output.weight", q.dequantized(), requiresGrad: false))
    }

    @Test(arguments: [GGMLType.q4_0, .q8_0])
    func embeddingLooksUpDequantizedRows(type: GGMLType) throws {
        let (q, p) = try Self.table(type)
        let ids: [Int32] = [5, 599, 0, 5, 321]
        let tape = Tape()
        #expect(tape.embedding(ids, table: q as any LinearWeight).value.array == tape.embedding(ids, table: p).value.array)
    }

    /// Loss and input gradient within 1e-5 relative (the tiled sgemm sums in another order);
    /// 700 rows span two tiled chunks, some labels are ignored.
    @Test(arguments: [GGMLType.q4_0, .q8_0])
    func crossEntropyMatchesDenseHead(type: GGMLType) throws {
        let (q, p) = try Self.table(type)
        let rows = 700
        var g = TestRandom(seed: 12)
        let h = g.tensor([rows, 64], -0.5, 0.5)
        let labels: [Int32] = (0..<rows).map { $0 % 7 == 3 ? CrossEntropy.ignoreIndex : Int32(g.next() % 600) }
        func run(_ head: any LinearWeight) -> (Float, [Float], Tensor) {
            let tape = Tape()
            let x = Parameter("h", h.copy(), requiresGrad: true)
            let hidden = tape.parameter(x)
            let out = tape.crossEntropy(hidden, weight: head, labels: labels)
            tape.backward(out.loss)
            let logits = Tape(recording: false).logits(Tape(recording: false).constant(h), weight: head)
            return (out.loss.value[0], x.grad!.array, logits)
        }
        let (lq, gq, zq) = run(q), (ld, gd, zd) = run(p)
        #expect(abs(lq - ld) <= 1e-5 * abs(ld), "loss \(lq) vs \(ld)")
        expectClose(gq, gd, rtol: 1e-5, "\(type) dHidden")
        expectClose(zq, zd, rtol: 1e-5, "\(type) logits")
        #expect(p.grad == nil)
    }
}
