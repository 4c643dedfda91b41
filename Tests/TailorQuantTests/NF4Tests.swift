import Foundation
import Testing
import TailorQuant
import TailorTensor
import TailorTestSupport

/// NF4 against `quant/nf4.safetensors` (make_nf4_fixtures.py: a numpy port of bitsandbytes'
/// documented algorithm, with bitsandbytes' own dynamic map computed by torch). Bit-exact.
@Suite struct NF4Tests {
    static let f = try! SafetensorsFile(url: fixture("quant/nf4.safetensors"))
    func bytes(_ name: String) throws -> [UInt8] {
        try Self.f.withBytes(Self.f.entry(name)) { Array($0) }
    }
    func bits(_ t: Tensor) -> [UInt32] { t.array.map(\.bitPattern) }
    func bits(_ a: [Float]) -> [UInt32] { a.map(\.bitPattern) }

    @Test func dynamicMapIsBitsAndBytes() throws {
        #expect(bits(NF4.dynamicMap) == bits(try Self.f.tensor("dynamic_map")))
        #expect(NF4.dynamicMap[127] == 0 && NF4.dynamicMap[255] == 1)
    }

    @Test func quantizeIsBitExact() throws {
        let w = try Self.f.tensor("weight")  // [24, 192]: a zero block, code values and midpoints, an outlier
        let (packed, absmax) = NF4.quantize(w.buffer)
        #expect(packed == (try bytes("packed")))
        #expect(bits(absmax) == bits(try Self.f.tensor("absmax")))
        let m = try NF4Matrix(name: "w", quantizing: w)
        #expect(bits(m.dequantized()) == bits(try Self.f.tensor("dequant")))
        // Tiled rows equal the whole.
        let rows = Tensor(uninitialized: [3, 192])
        m.dequantizeRows(5..<8, into: rows.pointer)
        #expect(bits(rows) == Array(bits(try Self.f.tensor("dequant"))[(5 * 192)..<(8 * 192)]))
    }

    @Test func doubleQuantizationIsBitExact() throws {
        let absmax = try Self.f.tensor("absmax").array
        let dq = NF4.doubleQuantize(absmax)
        #expect(dq.codes == (try bytes("dq.qabsmax")))
        #expect(bits(dq.nestedAbsmax) == bits(try Self.f.tensor("dq.nested_absmax")))
        #expect(dq.offset.bitPattern == (try Self.f.tensor("dq.offset"))[0].bitPattern)
        let restored = NF4.restoreAbsmax(codes: dq.codes, nestedAbsmax: dq.nestedAbsmax, offset: dq.offset)
        #expect(bits(restored) == bits(try Self.f.tensor("dq.absmax")))
        let m = try NF4Matrix(name: "w", quantizing: try Self.f.tensor("weight"), doubleQuantization: true)
        #expect(bits(m.dequantized()) == bits(try Self.f.tensor("dq.dequant")))
    }

    @Test func rejectsRowsNotAMultipleOf64() {
        #expect(throws: TailorError.self) { try NF4Matrix(name: "w", quantizing: Tensor(zeros: [2, 96])) }
    }
}
