import Testing
@testable import TailorQuant
import TailorTape
import TailorTensor
import TailorTestSupport

/// `inputGradient(accumulate: false)` writes dx without reading it — a buffer of NaNs comes out
/// holding what accumulating into zeros gives — for every kind of weight, over several tiles and
/// a slice of the outputs, on the fp32 and the bf16 paths (AMX and sgemm).
@Suite struct InputGradientWriteTests {
    static let (rows, inF, outF) = (9, 64, 300)  // 300 outputs: two 256-row tiles, and 7-row tiles below

    static func weights() throws -> [(String, any LinearWeight)] {
        var rng = TestRandom(seed: 51)
        let w = rng.tensor([outF, inF])
        var list: [(String, any LinearWeight)] = [("dense", Parameter("w", w.copy(), requiresGrad: false)),
                                                  ("bf16", try BF16Matrix(name: "w", rounding: w))]
        for (name, make) in [("q4_0", { try QuantizedMatrix(name: "w", quantizing: w, as: .q4_0) as any BF16Computable }),
                             ("q8_0", { try QuantizedMatrix(name: "w", quantizing: w, as: .q8_0) }),
                             ("nf4", { try NF4Matrix(name: "w", quantizing: w) })] {
            list.append((name, try make()))
            let m = try make()
            m.bf16Products = true
            list.append(("\(name), bf16 compute", m))
        }
        return list
    }

    @Test(arguments: [256, 7])
    func writingEqualsAccumulatingIntoZeros(tileRows: Int) throws {
        try QuantizedTiles.$rows.withValue(tileRows) { try writeAndAccumulate(tileRows: tileRows) }
    }

    func writeAndAccumulate(tileRows: Int) throws {
        var rng = TestRandom(seed: 52)
        let dy = rng.tensor([Self.rows, Self.outF])
        for (name, w) in try Self.weights() {
            for outputs in [0..<Self.outF, 37..<290, 64..<64] {
                let written = Tensor(shape: [Self.rows, Self.inF], values: [Float](repeating: .nan, count: Self.rows * Self.inF))
                let summed = Tensor(zeros: [Self.rows, Self.inF])
                w.inputGradient(dy.pointer + outputs.lowerBound, rows: Self.rows, outputs: outputs, ldDy: Self.outF, into: written.pointer,
                                accumulate: false)
                w.inputGradient(dy.pointer + outputs.lowerBound, rows: Self.rows, outputs: outputs, ldDy: Self.outF, into: summed.pointer,
                                accumulate: true)
                expectClose(written, summed, atol: 1e-6, "\(name), outputs \(outputs), tiles of \(tileRows)")
            }
        }
    }

    /// Without AMX the bf16 products run through sgemm; its first tile writes too.
    @Test func bf16SgemmPathWrites() throws {
        var rng = TestRandom(seed: 53)
        let m = try QuantizedMatrix(name: "w", quantizing: rng.tensor([Self.outF, Self.inF]), as: .q4_0)
        let dy = rng.tensor([Self.rows, Self.outF])
        let written = Tensor(shape: [Self.rows, Self.inF], values: [Float](repeating: .nan, count: Self.rows * Self.inF))
        let summed = Tensor(zeros: [Self.rows, Self.inF])
        m.inputGradientBF16(dy.pointer, rows: Self.rows, outputs: 0..<Self.outF, ldDy: Self.outF, into: written.pointer, accumulate: false, amx: false)
        m.inputGradientBF16(dy.pointer, rows: Self.rows, outputs: 0..<Self.outF, ldDy: Self.outF, into: summed.pointer, accumulate: true, amx: false)
        expectClose(written, summed, atol: 1e-6, "q4_0 bf16 on sgemm")
    }
}
