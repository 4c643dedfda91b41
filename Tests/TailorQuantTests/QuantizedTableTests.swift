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

    /// A bf16 head (AMX where available): logits and loss equal the dense path on the same
    /// bf16-rounded operands within 1e-5; the input gradient, whose softmax probabilities are
    /// rounded to bf16 for the product with W, within 1e-2 of the largest element. 4200 rows of
    /// vocabulary span two vocabulary slices.
    @Test func crossEntropyOnBF16Head() throws {
        var g = TestRandom(seed: 13)
        let vocab = 4200, dim = 64, rows = 90
        let dense = g.tensor([vocab, dim])
        let head = try BF16Matrix(name: "output.weight", rounding: dense)
        let rounded = Parameter("output.weight", Tensor(shape: dense.shape, values: dense.array.map(BF16MatMul.roundedToBF16)))
        let h = g.tensor([rows, dim], -0.5, 0.5)
        let hRounded = Tensor(shape: h.shape, values: h.array.map(BF16MatMul.roundedToBF16))
        let labels: [Int32] = (0..<rows).map { $0 % 9 == 4 ? CrossEntropy.ignoreIndex : Int32(g.next() % UInt64(vocab)) }
        func run(_ w: any LinearWeight, _ input: Tensor) -> (Float, [Float], Tensor) {
            let tape = Tape()
            let x = Parameter("h", input.copy(), requiresGrad: true)
            let out = tape.crossEntropy(tape.parameter(x), weight: w, labels: labels)
            tape.backward(out.loss)
            let logits = Tape(recording: false).logits(Tape(recording: false).constant(input), weight: w)
            return (out.loss.value[0], x.grad!.array, logits)
        }
        let (lb, gb, zb) = run(head, h), (ld, gd, zd) = run(rounded, hRounded)
        expectClose(zb, zd, rtol: 1e-5, "bf16 logits")
        #expect(abs(lb - ld) <= 1e-5 * abs(ld), "loss \(lb) vs \(ld)")
        expectClose(gb, gd, rtol: 1e-2, "bf16 dHidden")
        var row = [Float](repeating: 0, count: dim)
        row.withUnsafeMutableBufferPointer { head.dequantizeRows(4100..<4101, into: $0.baseAddress!) }
        #expect(row == Array(rounded.value.array[4100 * dim..<4101 * dim]))
    }
}
