import ArgumentParser
import Foundation
import Tailor

/// Writes a random Llama-shaped GGUF (for memory and speed measurements; never commit the output).
struct SyntheticGGUFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synthetic-gguf",
        abstract: "Write a random Llama-shaped GGUF (Q4_0/Q8_0 blocks) with a byte-level tokenizer, for benchmarks.",
        discussion: "--shape llama2-7b: hidden 4096, 32 layers, 32 heads, intermediate 11008, vocab 32000."
    )

    @Option(help: "llama2-7b or tiny.") var shape = "llama2-7b"
    @Option(help: "Block type of the linear weights, embedding and head: q4_0 or q8_0.") var type = "q4_0"
    @Option(help: "Number of blocks (default: the shape's).") var layers: Int?
    @Option(help: "Output .gguf path.") var output: String

    func run() throws {
        try reportingErrors {
            let (h, f, heads, defaultLayers, vocab): (Int, Int, Int, Int, Int) = switch shape {
            case "llama2-7b": (4096, 11008, 32, 32, 32000)
            case "tiny": (256, 512, 4, 2, 512)
            default: throw TailorError("--shape \(shape): choose llama2-7b or tiny")
            }
            guard let t = GGMLType(name: type), [GGMLType.q4_0, .q8_0].contains(t) else { throw TailorError("--type \(type): choose q4_0 or q8_0") }
            let nLayers = layers ?? defaultLayers
            var w = GGUFWriter()
            let meta: [(String, GGUFValue)] = [
                ("general.architecture", .string("llama")), ("general.name", .string("synthetic-\(shape)")),
                ("llama.context_length", .uint32(4096)), ("llama.embedding_length", .uint32(UInt32(h))),
                ("llama.block_count", .uint32(UInt32(nLayers))), ("llama.feed_forward_length", .uint32(UInt32(f))),
                ("llama.attention.head_count", .uint32(UInt32(heads))), ("llama.attention.head_count_kv", .uint32(UInt32(heads))),
                ("llama.rope.dimension_count", .uint32(UInt32(h / heads))), ("llama.rope.freq_base", .float32(10000)),
                ("llama.attention.layer_norm_rms_epsilon", .float32(1e-5)), ("general.file_type", .uint32(t == .q4_0 ? 2 : 7)),
                ("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.pre", .string("default")),
            ]
            for (k, v) in meta { w.set(k, v) }
            // Byte-level vocabulary: the 256 GPT-2 byte symbols, then unused padding tokens.
            var tokens = Self.byteSymbols()
            while tokens.count < vocab { tokens.append("[PAD\(tokens.count)]") }
            w.set("tokenizer.ggml.tokens", .array(elementType: 8, tokens.map { .string($0) }))
            w.set("tokenizer.ggml.token_type", .array(elementType: 5, tokens.indices.map { .int32($0 < 256 ? 1 : 5) }))
            w.set("tokenizer.ggml.merges", .array(elementType: 8, []))
            w.set("tokenizer.ggml.bos_token_id", .uint32(0)); w.set("tokenizer.ggml.eos_token_id", .uint32(1))
            w.set("tokenizer.ggml.add_bos_token", .bool(false))
            var seed: UInt64 = 1
            func random(_ name: String, _ shape: [Int]) throws {
                let bytes = t.rowBytes(columns: shape[1])! * shape[0]
                seed &+= 1
                let s = seed
                try w.addTensor(name, shape: shape, type: t, byteCount: bytes) { Self.randomBlocks(t, bytes: bytes, seed: s) }
            }
            func norm(_ name: String) throws { try w.addTensor(name, Tensor(shape: [h], values: [Float](repeating: 1, count: h)), type: .f32) }
            try random("token_embd.weight", [vocab, h])
            for i in 0..<nLayers {
                try norm("blk.\(i).attn_norm.weight")
                for n in ["attn_q", "attn_k", "attn_v", "attn_output"] { try random("blk.\(i).\(n).weight", [h, h]) }
                try norm("blk.\(i).ffn_norm.weight")
                try random("blk.\(i).ffn_gate.weight", [f, h]); try random("blk.\(i).ffn_up.weight", [f, h]); try random("blk.\(i).ffn_down.weight", [h, f])
            }
            try norm("output_norm.weight")
            try random("output.weight", [vocab, h])
            try w.write(to: URL(fileURLWithPath: output))
        }
    }

    /// Random blocks with small scales (weights of about ±0.02).
    static func randomBlocks(_ t: GGMLType, bytes: Int, seed: UInt64) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: bytes)
        var s = seed &* 0x9E37_79B9_7F4A_7C15
        let d = HalfFloat.floatToF16(t == .q4_0 ? 0.005 : 0.0002)
        out.withUnsafeMutableBytes { p in
            for b in 0..<(bytes / t.blockBytes) {
                let base = b * t.blockBytes
                p.storeBytes(of: d.littleEndian, toByteOffset: base, as: UInt16.self)
                for j in stride(from: 2, to: t.blockBytes, by: 8) {
                    s ^= s << 13; s ^= s >> 7; s ^= s << 17
                    for k in 0..<min(8, t.blockBytes - j) { p[base + j + k] = UInt8(truncatingIfNeeded: s >> (8 * UInt64(k))) }
                }
            }
        }
        return out
    }

    /// GPT-2's `bytes_to_unicode` symbols for bytes 0…255, in byte order.
    static func byteSymbols() -> [String] {
        var printable = Array(33...126) + Array(161...172) + Array(174...255)
        var map: [Int: Int] = [:]
        for b in printable { map[b] = b }
        var n = 0
        for b in 0..<256 where map[b] == nil { map[b] = 256 + n; n += 1; printable.append(b) }
        return (0..<256).map { String(UnicodeScalar(UInt32(map[$0]!))!) }
    }
}
