import CTailorKernels
import Testing
@testable import TailorQuant
import TailorTensor
import TailorTestSupport

/// `--compute bf16` on block-format matrices: every product equals the Double product of the
/// bf16-rounded activations and the bf16-rounded dequantized weights, on AMX tiles (where the
/// CPU has them) and on the sgemm path. The tolerance is fp32 accumulation error, far below what
/// skipping either rounding would change (~1e-2 here).
@Suite struct BF16ProductsTests {
    static let (rows, inF, outF) = (37, 128, 300)  // 300 outputs: two 256-row tiles, the second ragged
    static let atol: Float = 1e-4

    static func matrices() throws -> [any BF16Computable] {
        var rng = TestRandom(seed: 41)
        let w = rng.tensor([outF, inF])
        let q4 = try QuantizedMatrix(name: "q4_0", quantizing: w, as: .q4_0)
        let q8 = try QuantizedMatrix(name: "q8_0", quantizing: w, as: .q8_0)
        return [q4, try reordered(q4), q8, try reordered(q8), try NF4Matrix(name: "nf4", quantizing: w)]
    }

    /// `m`'s stored rows read through a row order (as llama's q/k rows in a GGUF).
    static func reordered(_ m: QuantizedMatrix) throws -> QuantizedMatrix {
        let order = (0..<Int32(m.outFeatures)).map { ($0 * 7) % Int32(m.outFeatures) }  // 7 is prime to 300
        return try QuantizedMatrix(name: "\(m.name) with a row order", type: m.type, outFeatures: m.outFeatures, inFeatures: m.inFeatures,
                                   bytes: m.bytes, owner: m, rowOrder: order)
    }

    /// Random blocks of `type` (one Tailor cannot quantize to) whose f16 scales and minimums are
    /// finite, of either sign, so that every element is a number to compare.
    static func randomBlocks(_ type: GGMLType, rows: Int, columns: Int, _ rng: inout TestRandom) throws -> QuantizedMatrix {
        let blocks = rows * columns / type.blockSize
        var bytes = (0..<blocks * type.blockBytes).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let halves = type == .q5_0 ? [0] : [0, 2]  // d, and m (Q4_1, Q5_1) or dmin (Q5_K)
        for b in 0..<blocks {
            for at in halves {
                let h = HalfFloat.floatToF16(rng.uniform(-0.2, 0.2))
                bytes[b * type.blockBytes + at] = UInt8(h & 0xFF); bytes[b * type.blockBytes + at + 1] = UInt8(h >> 8)
            }
        }
        let box = ByteBox(bytes)
        return try QuantizedMatrix(name: type.name, type: type, outFeatures: rows, inFeatures: columns,
                                   bytes: UnsafeRawBufferPointer(start: box.pointer, count: box.count), owner: box)
    }

    /// Every block format goes from its blocks straight to bf16 tiles: the same bits as
    /// dequantizing then packing, for full and ragged strips, both orientations, with and without a
    /// row order (NF4, double-quantized or not, has none).
    @Test(.enabled(if: BF16MatMul.usesAMX, "no AMX here: strips are dequantized, then packed"),
          arguments: ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q4_K", "Q5_K", "Q6_K", "F16", "BF16", "NF4", "NF4-DQ"])
    func blockStripsPackLikeDequantizeThenPack(_ type: String) throws {
        var rng = TestRandom(seed: 45)
        let inF = type.hasSuffix("_K") ? 512 : Self.inF  // two K-quant super-blocks per row
        let w = rng.tensor([Self.outF, inF], -3, 3)
        let matrices: [any BF16Computable]
        if type.hasPrefix("NF4") {
            matrices = [try NF4Matrix(name: type, quantizing: w, doubleQuantization: type == "NF4-DQ")]
        } else {
            let ggml = GGMLType(name: type)!
            let plainOrder = Quantize.supported.contains(ggml)
                ? try QuantizedMatrix(name: type, quantizing: w, as: ggml) : try Self.randomBlocks(ggml, rows: Self.outF, columns: inF, &rng)
            matrices = [plainOrder, try Self.reordered(plainOrder)]
        }
        let scratch = Tensor(zeros: [32, inF])
        for m in matrices {
            for (lo, tileRows) in [(0, 256), (256, 44), (37, 253)] {
                for transposed in [false, true] {
                    let count = transposed ? tailor_bf16_packed_count(Int32(inF), Int32(tileRows)) : tailor_bf16_packed_count(Int32(tileRows), Int32(inF))
                    var fused = [UInt16](repeating: 0xFFFF, count: count), plain = fused
                    for s in 0..<(tileRows + 31) / 32 {
                        let rows = (lo + 32 * s)..<min(lo + tileRows, lo + 32 * s + 32)
                        let at = transposed ? 0 : 32 * s * ((inF + 31) / 32 * 32)
                        fused.withUnsafeMutableBufferPointer {
                            m.packStripBF16(rows, transposed: transposed, tileRows: tileRows, strip: s, scratch: scratch.pointer, into: $0.baseAddress! + at)
                        }
                        plain.withUnsafeMutableBufferPointer {
                            m.packStripByDequantizing(rows, transposed: transposed, tileRows: tileRows, strip: s, scratch: scratch.pointer,
                                                      into: $0.baseAddress! + at)
                        }
                    }
                    // The first differing element, not the arrays: a failed == on them makes the test library diff 10⁵ elements.
                    let firstDifference = fused.indices.first { fused[$0] != plain[$0] }
                    #expect(firstDifference == nil, "\(m.name) rows \(lo)..<\(lo + tileRows) transposed \(transposed)")
                }
            }
        }
    }

    static var paths: [Bool] { BF16MatMul.usesAMX ? [false, true] : [false] }

    /// y = bf16(x)·bf16(W[outputs])ᵀ in Double.
    static func expected(_ x: Tensor, _ w: Tensor, outputs: Range<Int>) -> [Float] {
        let r = BF16MatMul.roundedToBF16
        return (0..<rows).flatMap { i in
            outputs.map { o in
                Float((0..<inF).reduce(0.0) { $0 + Double(r(x[i * inF + $1])) * Double(r(w[o * inF + $1])) })
            }
        }
    }

    @Test(arguments: paths)
    func forwardMatchesRoundedProduct(amx: Bool) throws {
        var rng = TestRandom(seed: 42)
        let x = rng.tensor([Self.rows, Self.inF], -2, 2)
        for m in try Self.matrices() {
            let w = m.dequantized()
            for outputs in [0..<Self.outF, 37..<290] {  // the whole matrix, and a slice as the cross-entropy takes
                let y = Tensor(zeros: [Self.rows, outputs.count])
                m.multiplyBF16(x.pointer, rows: Self.rows, outputs: outputs, into: y.pointer, ldy: outputs.count, amx: amx)
                expectClose(y.array, Self.expected(x, w, outputs: outputs), atol: Self.atol, "\(m.name) y[:, \(outputs)] amx \(amx)")
            }
        }
    }

    @Test(arguments: paths)
    func inputGradientMatchesRoundedProduct(amx: Bool) throws {
        var rng = TestRandom(seed: 43)
        let dy = rng.tensor([Self.rows, Self.outF + 3], -2, 2)  // a padded row stride
        let start = rng.tensor([Self.rows, Self.inF])
        let r = BF16MatMul.roundedToBF16
        for m in try Self.matrices() {
            let w = m.dequantized()
            for outputs in [0..<Self.outF, 37..<290] {
                let dx = start.copy()
                m.inputGradientBF16(dy.pointer + outputs.lowerBound, rows: Self.rows, outputs: outputs, ldDy: Self.outF + 3,
                                    into: dx.pointer, accumulate: true, amx: amx)
                let expected = (0..<Self.rows).flatMap { i in
                    (0..<Self.inF).map { c in
                        start[i * Self.inF + c] + Float(outputs.reduce(0.0) {
                            $0 + Double(r(dy[i * (Self.outF + 3) + $1])) * Double(r(w[$1 * Self.inF + c]))
                        })
                    }
                }
                expectClose(dx.array, expected, atol: Self.atol, "\(m.name) dx from dy[:, \(outputs)] amx \(amx)")
            }
        }
    }

    /// The switch is what routes the ``LinearWeight`` products: off, they are the exact fp32 ones.
    @Test func switchRoutesTheProducts() throws {
        var rng = TestRandom(seed: 44)
        let x = rng.tensor([Self.rows, Self.inF], -2, 2)
        for m in try Self.matrices() {
            let y = Tensor(zeros: [Self.rows, Self.outF]), y16 = Tensor(zeros: [Self.rows, Self.outF])
            m.multiply(x.pointer, rows: Self.rows, into: y.pointer)
            m.bf16Products = true
            m.multiply(x.pointer, rows: Self.rows, into: y16.pointer)
            m.bf16Products = false
            expectClose(y16.array, Self.expected(x, m.dequantized(), outputs: 0..<Self.outF), atol: Self.atol, "\(m.name) bf16")
            let far = zip(y.array, y16.array).map { abs($0 - $1) }.max()!
            #expect(far > 10 * Self.atol, "\(m.name): the fp32 and bf16 products should differ by bf16 rounding, max \(far)")
        }
    }
}
