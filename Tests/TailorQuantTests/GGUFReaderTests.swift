import Foundation
import Testing
import TailorQuant
import TailorTensor
import TailorTestSupport

@Suite struct GGUFReaderTests {
    /// A small valid file: metadata of every kind and three tensors of different types.
    static func sample() throws -> [UInt8] {
        var w = GGUFWriter()
        w.set("general.architecture", .string("llama"))
        w.set("llama.block_count", .uint32(2))
        w.set("llama.rope.freq_base", .float32(10000))
        w.set("flag", .bool(true))
        w.set("tokens", .array(elementType: 8, [.string("a"), .string("bc"), .string("▁d")]))
        w.set("scores", .array(elementType: 6, [.float32(0), .float32(-1), .float32(-2.5)]))
        w.set("big", .int64(-5))
        var rng = TestRandom(seed: 1)
        try w.addTensor("a.weight", rng.tensor([3, 32]), type: .q8_0)
        try w.addTensor("b.weight", rng.tensor([2, 256]), type: .q4_K)
        try w.addTensor("norm.weight", rng.tensor([5]), type: .f32)
        return try w.serialized()
    }

    @Test func writerRoundTrip() throws {
        let bytes = try Self.sample()
        let f = try GGUFFile(bytes: bytes)
        #expect(f.version == 3 && f.alignment == 32)
        #expect(f.metadataKeys == ["general.architecture", "llama.block_count", "llama.rope.freq_base", "flag", "tokens", "scores", "big"])
        #expect(f.metadata["llama.block_count"] == .uint32(2))
        #expect(f.metadata["tokens"]?.array?.compactMap(\.string) == ["a", "bc", "▁d"])
        #expect(f.metadata["big"]?.integer == -5)
        #expect(f.tensors.map(\.name) == ["a.weight", "b.weight", "norm.weight"])
        let a = try f.info("a.weight")
        #expect(a.dims == [32, 3] && a.shape == [3, 32] && a.type == .q8_0 && a.byteCount == 3 * 34)
        let bInfo = try f.info("b.weight")
        #expect(f.dataOffset % 32 == 0 && bInfo.offset == 128)
        #expect(try f.floats("norm.weight").shape == [5])
        // Re-serializing what was read gives the same bytes.
        var w = GGUFWriter()
        for k in f.metadataKeys { w.set(k, f.metadata[k]!) }
        for t in f.tensors { try w.addTensor(t.name, shape: t.shape, type: t.type, bytes: Array(f.bytes(t))) }
        #expect(try w.serialized() == bytes)
    }

    /// The Python `gguf` package's writer (via the block-format fixture) reads back.
    @Test func readsGGUFPyFiles() throws {
        let f = try GGUFFile(path: fixture("quant/reference.gguf").path)
        #expect(f.metadata["general.architecture"]?.string == "quant-reference")
        #expect(try f.info("quant.Q4_K").shape == [4, 256])
    }

    func expectError(_ bytes: [UInt8], _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try GGUFFile(bytes: bytes, source: "x.gguf")
            Issue.record("accepted a malformed file (expected \(fragment))", sourceLocation: sourceLocation)
        } catch let e as TailorError {
            #expect(e.message.hasPrefix("x.gguf") && e.message.contains(fragment), "\(e.message)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    func patch(_ bytes: [UInt8], at offset: Int, _ value: UInt64, width: Int = 8) -> [UInt8] {
        var b = bytes
        for i in 0..<width { b[offset + i] = UInt8((value >> (8 * UInt64(i))) & 0xFF) }
        return b
    }

    @Test func hostileHeadersGetClearErrors() throws {
        let good = try Self.sample()
        expectError(Array(good.prefix(10)), "too short")
        expectError(patch(good, at: 0, 0x4647_4747, width: 4), "not a GGUF file")
        expectError(patch(good, at: 4, 1, width: 4), "version 1")
        expectError(patch(good, at: 4, 0x0300_0000, width: 4), "big-endian")
        expectError(patch(good, at: 8, UInt64.max), "tensors")
        expectError(patch(good, at: 16, 1 << 40), "metadata entries")
        expectError(patch(good, at: 24, 1 << 50), "string length")  // first key length
        // An array claiming 2^40 elements must fail before allocating.
        var w = GGUFWriter()
        w.set("tokens", .array(elementType: 8, [.string("a")]))
        var b = try w.serialized()
        let countOffset = 24 + 8 + 6 + 4 + 4
        b = patch(b, at: countOffset, 1 << 40)
        expectError(b, "array of 1099511627776 elements")
        // A tensor offset out of order, an unknown type, a bad row length.
        var w2 = GGUFWriter()
        try w2.addTensor("t", shape: [1, 32], type: .q8_0, bytes: [UInt8](repeating: 0, count: 34))
        let t = try w2.serialized()
        let infoStart = 24 + 8 + 1  // name length + "t"
        expectError(patch(t, at: infoStart + 4 + 16, 99, width: 4), "unknown ggml type id 99")
        expectError(patch(t, at: infoStart + 4, 31), "not a multiple of the Q8_0 block size")
        expectError(patch(t, at: infoStart + 4 + 16 + 4, 32), "has offset 32, expected 0")
        expectError(patch(t, at: infoStart, 7, width: 4), "dimensions")
        expectError(Array(t.dropLast(40)), "truncated")
    }

    /// Every truncation and many single-byte flips of a valid file either parse (and then every tensor
    /// lies inside the file and dequantizes) or throw; none may crash or read out of bounds.
    @Test func truncationsAndByteFlipsNeverCrash() throws {
        let good = try Self.sample()
        let whole = try GGUFFile(bytes: good), last = whole.tensors.last!
        let needed = whole.dataOffset + last.offset + last.byteCount  // trailing padding is optional
        for n in 0..<needed {
            #expect(throws: TailorError.self) { try GGUFFile(bytes: Array(good.prefix(n))) }
        }
        var rng = TestRandom(seed: 9)
        var parsed = 0
        for trial in 0..<3000 {
            var b = good
            let flips = 1 + trial % 3
            for _ in 0..<flips {
                let i = trial < 2 * good.count / 3 ? rng.int(min(good.count, 600)) : rng.int(good.count)
                b[i] = UInt8(truncatingIfNeeded: rng.next())
            }
            guard let f = try? GGUFFile(bytes: b) else { continue }
            parsed += 1
            for t in f.tensors {
                #expect(f.dataOffset + t.offset + t.byteCount <= f.fileSize)
                if t.type.isDequantizable && t.count < 1 << 20 { _ = try? f.floats(t.name) }
            }
        }
        #expect(parsed > 0)
    }
}
