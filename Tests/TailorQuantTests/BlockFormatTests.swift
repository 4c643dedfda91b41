import Foundation
import Testing
@testable import TailorQuant
import TailorTensor
import TailorTestSupport

/// Dequantization and quantization against ggml's own C reference (`quant/reference.gguf`, made by
/// `make_quant_fixtures.py` from ggml-quants.c).
@Suite struct BlockFormatTests {
    static let reference = try! GGUFFile(path: fixture("quant/reference.gguf").path)
    static let dequantTypes = ["F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q4_K", "Q5_K", "Q6_K"]

    func bits(_ a: [Float]) -> [UInt32] { a.map(\.bitPattern) }

    @Test func blockSizesMatchGGML() {
        // ggml-common.h static_asserts: sizeof(block_*) for each format.
        let expected: [(GGMLType, Int, Int)] = [
            (.q4_0, 32, 2 + 16), (.q4_1, 32, 2 + 2 + 16), (.q5_0, 32, 2 + 4 + 16), (.q5_1, 32, 2 + 2 + 4 + 16),
            (.q8_0, 32, 2 + 32), (.q4_K, 256, 2 + 2 + 12 + 128), (.q5_K, 256, 2 + 2 + 12 + 32 + 128),
            (.q6_K, 256, 128 + 64 + 16 + 2), (.f32, 1, 4), (.f16, 1, 2), (.bf16, 1, 2),
        ]
        for (t, block, bytes) in expected {
            #expect(t.blockSize == block && t.blockBytes == bytes, "\(t)")
            #expect(GGMLType(id: t.id) == t && GGMLType(name: t.name.lowercased()) == t)
        }
        #expect(GGMLType.q4_K.rowBytes(columns: 4096) == 16 * 144)
        #expect(GGMLType.q4_K.rowBytes(columns: 100) == nil)
        #expect(GGMLType(id: 4) == nil && GGMLType(id: 43) == nil)
    }

    @Test(arguments: dequantTypes)
    func dequantizationIsBitExact(_ name: String) throws {
        let f = Self.reference
        let q = try f.info("quant.\(name)")
        #expect(q.type.name == name)
        let ours = try f.floats("quant.\(name)").array
        let theirs = try f.floats("dequant.\(name)").array
        #expect(ours.count == theirs.count)
        let firstDiff = zip(bits(ours), bits(theirs)).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(firstDiff == nil, "\(name): dequantized bits differ from ggml at element \(firstDiff ?? -1)")
    }

    /// The AVX-512 Q4_0 loop against the plain Swift one on random blocks, whose f16 scales cover
    /// every kind of half (normal, subnormal, zero, infinity, NaN): the same bits.
    @Test(arguments: [GGMLType.q4_0])
    func fastDequantizationMatchesPlainLoop(_ type: GGMLType) {
        var state: UInt64 = 7  // a fixed LCG: the same bytes every run
        let blocks = 4099, count = blocks * 32
        var bytes = (0..<blocks * type.blockBytes).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
        for (b, scale) in [0x0000, 0x0001, 0x03FF, 0x3C00, 0xBC00, 0x7C00, 0xFC00, 0x7E00, 0x7BFF].enumerated() {  // fixed scales first
            bytes[b * type.blockBytes] = UInt8(scale & 0xFF); bytes[b * type.blockBytes + 1] = UInt8(scale >> 8)
        }
        var fast = [Float](repeating: 1, count: count), plain = [Float](repeating: 2, count: count)
        bytes.withUnsafeBytes { src in
            fast.withUnsafeMutableBufferPointer { Dequantize.rows(type, src, into: $0.baseAddress!, count: count) }
            plain.withUnsafeMutableBufferPointer { Dequantize.rowsReference(type, src, into: $0.baseAddress!, count: count) }
        }
        let wrong = zip(fast, plain).filter { !($0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN)) }.count
        #expect(wrong == 0, "\(type): \(wrong) of \(count) values differ")
    }

    @Test(arguments: ["F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q5_K", "Q6_K"])
    func quantizerMatchesGGMLReference(_ name: String) throws {
        let f = Self.reference
        let input = try f.floats("input.\(name)")
        let info = try f.info("quant.\(name)")
        let ours = try Quantize.encode(info.type, input.buffer)
        let theirs = Array(f.bytes(info))
        #expect(ours.count == theirs.count)
        let firstDiff = zip(ours, theirs).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(firstDiff == nil, "\(name): quantized bytes differ from quantize_row_\(name.lowercased())_ref at byte \(firstDiff ?? -1)")
    }

    @Test func quantizerRejectsBadInput() {
        #expect(throws: TailorError.self) { try Quantize.encode(.q4_0, [Float](repeating: 1, count: 31)) }
        #expect(throws: TailorError.self) { try Quantize.encode(.q8_0, [Float](repeating: .nan, count: 32)) }
        #expect(throws: TailorError.self) { try Quantize.encode(.q5_0, [Float](repeating: 1, count: 32)) }
    }

    /// The tiled products against a plain loop over the fully dequantized matrix.
    @Test(arguments: ["Q4_0", "Q8_0", "Q4_K", "Q6_K"])
    func tiledProductsMatchDenseReference(_ name: String) throws {
        var rng = TestRandom(seed: 3)
        let out = 40, inF = 256, rows = 5
        let w = rng.tensor([out, inF])
        let m = try QuantizedMatrix(name: "w", quantizing: w, as: GGMLType(name: name)!)
        let dense = m.dequantized()
        let x = rng.tensor([rows, inF]), dy = rng.tensor([rows, out])
        // Unset, the fp32 tile holds up to 16 MiB and at least 256 rows.
        #expect(QuantizedTiles.rows == nil && QuantizedTiles.fp32Rows(inFeatures: 4096) == 1024 && QuantizedTiles.fp32Rows(inFeatures: 32768) == 256)
        for tile in [7, 256] { QuantizedTiles.$rows.withValue(tile) {  // partial tiles and one tile
            var tiles = 0
            m.forEachTile(0..<out) { _, _, _ in tiles += 1 }
            #expect(tiles == (out + tile - 1) / tile, "tiles of \(tile)")
            let y = Tensor(zeros: [rows, out]), ref = Tensor(zeros: [rows, out])
            m.multiply(x.pointer, rows: rows, into: y.pointer)
            BLAS.gemmReference(transB: true, m: rows, n: out, k: inF, a: x.pointer, lda: inF, b: dense.pointer, ldb: inF, c: ref.pointer, ldc: out)
            expectClose(y, ref, atol: 1e-4, rtol: 1e-5, "\(name) forward, tile \(tile)")
            let dx = Tensor(shape: [rows, inF], values: [Float](repeating: 0.5, count: rows * inF))
            let dref = dx.copy()
            m.accumulateInputGradient(dy.pointer, rows: rows, into: dx.pointer)
            BLAS.gemmReference(m: rows, n: inF, k: out, a: dy.pointer, lda: out, b: dense.pointer, ldb: inF, beta: 1, c: dref.pointer, ldc: inF)
            expectClose(dx, dref, atol: 1e-4, rtol: 1e-5, "\(name) input gradient, tile \(tile)")
        } }
    }

    /// A decoding step's product (1–4 rows, blocks decoded in registers with AVX-512, else a few rows at a
    /// time in cache) equals the product with the dequantized matrix, for every format the kernel reads, an
    /// output slice and a row order, on each path; five rows, or F32 rows, are left to the tiled product.
    @Test(arguments: ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q4_K", "Q5_K", "Q6_K", "F16", "BF16"])
    func fewRowsMatchDequantizedProduct(_ name: String) throws {
        let type = GGMLType(name: name)!
        var rng = TestRandom(seed: 11)
        let out = 70, inF = type.blockSize == 256 ? 512 : 96
        let plain = Quantize.supported.contains(type) ? try QuantizedMatrix(name: name, quantizing: rng.tensor([out, inF]), as: type)
            : try BF16ProductsTests.randomBlocks(type, rows: out, columns: inF, &rng)
        let box = ByteBox(Array(plain.bytes))
        let reordered = try QuantizedMatrix(name: name, type: type, outFeatures: out, inFeatures: inF,
                                            bytes: UnsafeRawBufferPointer(start: box.pointer, count: box.count), owner: box,
                                            rowOrder: (0..<Int32(out)).reversed().map { $0 })
        for m in [plain, reordered] {
            let dense = m.dequantized(), outputs = 3..<61
            for rows in 1...4 {
                let x = rng.tensor([rows, inF])
                let y = Tensor(zeros: [rows, 80]), ref = Tensor(zeros: [rows, 80])
                BLAS.gemmReference(transB: true, m: rows, n: outputs.count, k: inF, a: x.pointer, lda: inF, b: dense.pointer + outputs.lowerBound * inF,
                                   ldb: inF, c: ref.pointer, ldc: 80)
                for level in [FastMath.KernelLevel.generic] + FastMath.vectorLevels {
                    let z = Tensor(zeros: [rows, 80])
                    #expect(m.multiplyFewRows(x.pointer, rows: rows, outputs: outputs, into: z.pointer, ldy: 80, kernels: level))
                    expectClose(z, ref, atol: 1e-4, rtol: 1e-5, "\(name) \(rows) rows, row order \(m.rowOrder != nil), \(level)")
                }
                #expect(m.multiplyFewRows(x.pointer, rows: rows, outputs: outputs, into: y.pointer, ldy: 80))
                // multiply takes this path for a decoding step even with bf16 compute on (no bf16 rounding of x).
                m.bf16Products = true
                let z = Tensor(zeros: [rows, 80])
                m.multiply(x.pointer, rows: rows, outputs: outputs, into: z.pointer, ldy: 80)
                m.bf16Products = false
                #expect(z.array == y.array, "\(name) \(rows) rows through multiply with bf16 compute")
            }
            #expect(!m.multiplyFewRows(rng.tensor([5, inF]).pointer, rows: 5, outputs: outputs, into: Tensor(zeros: [5, 80]).pointer, ldy: 80))
        }
    }

    @Test func fewRowsLeavesOtherShapesToTiles() throws {
        var rng = TestRandom(seed: 12)
        let m = try QuantizedMatrix(name: "w", quantizing: rng.tensor([8, 64]), as: .f32)
        #expect(!m.multiplyFewRows(rng.tensor([1, 64]).pointer, rows: 1, outputs: 0..<8, into: Tensor(zeros: [1, 8]).pointer, ldy: 8))
        // A BF16 width that is not a multiple of 32 takes the cached-rows path.
        let narrow = try QuantizedMatrix(name: "w", quantizing: rng.tensor([8, 40]), as: .bf16), x = rng.tensor([2, 40]), dense = narrow.dequantized()
        let y = Tensor(zeros: [2, 8]), ref = Tensor(zeros: [2, 8])
        #expect(narrow.multiplyFewRows(x.pointer, rows: 2, outputs: 0..<8, into: y.pointer, ldy: 8))
        BLAS.gemmReference(transB: true, m: 2, n: 8, k: 40, a: x.pointer, lda: 40, b: dense.pointer, ldb: 40, c: ref.pointer, ldc: 8)
        expectClose(y, ref, atol: 1e-5, rtol: 1e-5, "BF16, width 40")
    }

    @Test func rowOrderPermutesRows() throws {
        var rng = TestRandom(seed: 5)
        let w = rng.tensor([4, 32])
        let bytes = try Quantize.encode(.q8_0, w.buffer)
        let box = bytes.withUnsafeBytes { Array($0) }
        let owner = NSData(bytes: box, length: box.count)
        let m = try QuantizedMatrix(name: "w", type: .q8_0, outFeatures: 4, inFeatures: 32,
                                    bytes: UnsafeRawBufferPointer(start: owner.bytes, count: owner.length), owner: owner, rowOrder: [2, 0, 3, 1])
        let plain = Dequantize.floats(.q8_0, bytes, count: 128)
        let d = m.dequantized().array
        for (i, r) in [2, 0, 3, 1].enumerated() { #expect(Array(d[(32 * i)..<(32 * i + 32)]) == Array(plain[(32 * r)..<(32 * r + 32)])) }
        #expect(throws: TailorError.self) {
            try QuantizedMatrix(name: "w", type: .q8_0, outFeatures: 4, inFeatures: 32,
                                bytes: UnsafeRawBufferPointer(start: owner.bytes, count: owner.length), owner: owner, rowOrder: [0, 0, 1, 2])
        }
    }
}
