import Foundation
import Testing
import TailorTensor
import TailorTestSupport

@Suite struct SafetensorsTests {
    @Test func roundTripInEveryWritableType() throws {
        let dir = temporaryFolder(); defer { try? FileManager.default.removeItem(at: dir) }
        let a = Tensor(shape: [2, 3], values: [1, -2, 0.5, 3.25, -0.125, 1e-3])
        let b = Tensor(shape: [4], values: [0, 1, 2, 3])
        for dtype in [SafetensorsDType.f32, .f16, .bf16] {
            let url = dir.appendingPathComponent("t-\(dtype.rawValue).safetensors")
            try SafetensorsWriter.write([("a", a), ("b", b)], dtype: dtype, to: url)
            let f = try SafetensorsFile(url: url)
            #expect(f.metadata == ["format": "pt"])
            #expect(try f.entry("a").shape == [2, 3])
            let tol: Float = dtype == .f32 ? 0 : (dtype == .f16 ? 1e-3 : 1e-2)
            expectClose(try f.tensor("a"), a, atol: tol, rtol: tol, "a as \(dtype)")
            expectClose(try f.tensor("b"), b, "b as \(dtype)")
        }
    }

    @Test func halfConversionsRoundToNearestEven() {
        #expect(HalfFloat.bf16ToFloat(0x3AE5) == Float(bitPattern: 0x3AE5_0000))
        #expect(HalfFloat.floatToBF16(Float(bitPattern: 0x3F80_8000)) == 0x3F80)  // tie → even
        #expect(HalfFloat.floatToBF16(Float(bitPattern: 0x3F81_8000)) == 0x3F82)  // tie → even
        #expect(HalfFloat.floatToF16(1.0) == 0x3C00)
        #expect(HalfFloat.f16ToFloat(0xC000) == -2)
    }

    /// The bit-moving f16 → f32 conversion equals the language's for all 65,536 patterns (NaNs stay
    /// NaN, quieted, with their payload).
    @Test func halfToFloatIsExactForEveryPattern() {
        var wrong: [UInt16] = []
        for bits in 0...UInt16.max {
            let got = HalfFloat.f16ToFloat(bits), want = Float(Float16(bitPattern: bits))
            let same = want.isNaN ? got.isNaN && got.bitPattern & 0x3F_FFFF == want.bitPattern & 0x3F_FFFF : got.bitPattern == want.bitPattern
            if !same { wrong.append(bits) }
        }
        #expect(wrong.count == 0, "\(wrong.count) patterns differ, first \(wrong.prefix(5).map { String($0, radix: 16) })")
    }

    /// Truncated, oversized and inconsistent headers give errors naming the file, never a crash.
    @Test func malformedFilesAreRejectedWithTheFileName() throws {
        let dir = temporaryFolder(); defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good.safetensors")
        try SafetensorsWriter.write([("w", Tensor(shape: [2, 2], values: [1, 2, 3, 4]))], to: good)
        let bytes = try Data(contentsOf: good)
        func header(_ json: String, data: Int) -> Data {
            var d = Data()
            withUnsafeBytes(of: UInt64(json.utf8.count).littleEndian) { d.append(contentsOf: $0) }
            d.append(contentsOf: Array(json.utf8)); d.append(Data(count: data))
            return d
        }
        let cases: [(String, Data, String)] = [
            ("empty", Data(), "too short"),
            ("truncated", bytes.prefix(bytes.count - 3), "truncated"),
            ("huge-header", Data([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]) + Data(count: 8), "header length"),
            ("not-json", header("{oops", data: 0), "not a JSON object"),
            ("bad-dtype", header(#"{"w":{"dtype":"Q9","shape":[1],"data_offsets":[0,4]}}"#, data: 4), "unsupported dtype Q9"),
            ("size-mismatch", header(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: 4), "needs 8"),
            ("overlap", header(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: 4), "overlapping"),
            ("negative-dim", header(#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: 4), "bad dimension"),
            ("past-end", header(#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: 4), "truncated"),
        ]
        for (name, data, message) in cases {
            let url = dir.appendingPathComponent("\(name).safetensors")
            try data.write(to: url)
            do {
                _ = try SafetensorsFile(url: url)
                Issue.record("\(name): accepted")
            } catch let e as TailorError {
                #expect(e.message.contains(url.path), "\(name): \(e.message)")
                #expect(e.message.contains(message), "\(name): \(e.message)")
            }
        }
    }
}
