import Foundation
import Testing
import TailorModels
import TailorQuant
import TailorTape
import TailorTensor
import TailorTestSupport

/// `--base-dtype stored`: a 16-bit checkpoint's frozen matrices stay as stored, memory-mapped, and
/// every product converts them to fp32 on the way — the same values as loading them into fp32.
@Suite struct FrozenStorageTests {
    /// The llama-gqa fixture folder (adapter included) rewritten with every tensor in `dtype`.
    static func folder(_ dtype: SafetensorsDType) throws -> URL {
        let source = fixture("models/llama-gqa/model"), files = try WeightFiles(folder: source)
        let out = temporaryFolder()
        try FileManager.default.copyItem(at: source.appendingPathComponent("config.json"), to: out.appendingPathComponent("config.json"))
        let tensors = try files.names.sorted().map { (name: $0, tensor: try files.tensor($0, shape: try files.entry($0).shape)) }
        try SafetensorsWriter.write(tensors, dtype: dtype, to: out.appendingPathComponent("model.safetensors"))
        return out
    }

    /// Logits and LoRA gradients equal the fp32 load's (summation order aside); the projections, embedding
    /// and head are mapped 16-bit matrices holding half the bytes, the norms fp32 parameters.
    @Test(arguments: [SafetensorsDType.bf16, .f16])
    func storedMatchesFP32(_ dtype: SafetensorsDType) throws {
        let folder = try Self.folder(dtype)
        defer { try? FileManager.default.removeItem(at: folder) }
        let f32 = try LlamaModel(folder: folder), stored = try LlamaModel(folder: folder, frozen: .stored)
        let type: GGMLType = dtype == .bf16 ? .bf16 : .f16
        let matrices = [stored.embedding, stored.outputHead] + stored.blocks.flatMap { b in LinearKind.allCases.map { b[$0].weight } }
        #expect(matrices.allSatisfy { ($0 as? QuantizedMatrix)?.type == type })
        #expect(stored.blocks[0].inputNorm.value.count == 64 && stored.baseParameters.allSatisfy { !$0.name.hasSuffix("proj.weight") })
        let matrixBytes = matrices.reduce(0) { $0 + 2 * $1.outFeatures * $1.inFeatures }
        #expect(stored.weightBytes == f32.weightBytes - matrixBytes, "each matrix holds 2 bytes a weight instead of 4")

        let adapter = fixture("models/llama-gqa/adapter")
        let batch = Batch(sequences: [[1, 5, 9, 3, 7, 2, 11, 4], [4, 4, 8, 1, 6, 0, 2, 9]])
        func run(_ m: LlamaModel) throws -> (Tensor, [[Float]]) {
            try PEFTAdapter.load(folder: adapter, into: m, trainable: true)
            let tape = Tape()
            tape.backward(m.loss(tape, batch).loss)
            return (m.logits(batch), m.adaptedLayers.flatMap { [$0.lora!.a.grad!.array, $0.lora!.b.grad!.array] })
        }
        let (l32, g32) = try run(f32), (ls, gs) = try run(stored)
        expectClose(ls, l32, atol: 1e-5, rtol: 1e-5, "\(dtype) logits")
        for (a, b) in zip(gs, g32) { expectClose(a, b, atol: 1e-6, rtol: 1e-4, "\(dtype) adapter gradient") }
        // Generation's cached path multiplies the same matrices.
        let prompt = [1, 5, 9, 3]
        #expect(try stored.generate(prompt: prompt, maxTokens: 4, sampling: .greedy, stopTokens: [], seed: 0)
                == (try f32.generate(prompt: prompt, maxTokens: 4, sampling: .greedy, stopTokens: [], seed: 0)))
    }

    /// `--quantize q4_k|q5_k|q6_k` on a model whose widths are multiples of 256: every projection is held in
    /// that format, with the bytes of ggml's reference quantizer; a width that is not is refused by name.
    @Test(arguments: [BaseQuantization.q4_K, .q5_K, .q6_K])
    func kQuantsAtLoad(_ q: BaseQuantization) throws {
        let json = #"{"model_type": "llama", "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 1, "num_attention_heads": 4, "#
            + #""num_key_value_heads": 2, "vocab_size": 32, "rms_norm_eps": 1e-5, "tie_word_embeddings": true}"#
        let config = try ModelConfiguration(json: Data(json.utf8), source: "test")
        var rng = TestRandom(seed: 9)
        var dense: [String: Tensor] = [:]
        let model = try LlamaModel(configuration: config, quantizing: q, source: "test") { name, shape in
            let t = name.hasSuffix("norm.weight") ? Tensor(shape: shape, values: [Float](repeating: 1, count: shape.reduce(1, *))) : rng.tensor(shape)
            dense[name] = t
            return t
        }
        for kind in LinearKind.allCases {
            let w = try #require(model.blocks[0][kind].weight as? QuantizedMatrix)
            let type = try #require(GGMLType(name: q.rawValue.uppercased()))  // q5_k → Q5_K, independently of ggmlType
            let want = try Quantize.encode(type, dense[w.name]!.buffer)
            #expect(w.type == type && Array(w.bytes) == want, "\(kind)")
        }
        let narrow = try ModelConfiguration(json: Data(json.replacingOccurrences(of: "\"hidden_size\": 256", with: "\"hidden_size\": 128").utf8), source: "test")
        #expect { try LlamaModel(configuration: narrow, quantizing: q, source: "narrow") { _, shape in Tensor(zeros: shape) } } throws: {
            "\($0)".contains("128 input features, not a multiple of the \(q.rawValue) block size 256")
        }
        #expect(try BaseQuantization(parsing: q.rawValue) == q)
    }

    /// F32 checkpoints, and `.f32` storage, load as before: dense parameters; a `--quantize` base keeps a
    /// 16-bit embedding and head as stored.
    @Test func otherDtypesAndQuantizedBases() throws {
        let dense = try LlamaModel(folder: fixture("models/llama-gqa/model"), frozen: .stored)
        #expect(dense.blocks[0][.q].weight.parameter != nil && dense.embedding.parameter != nil)
        let folder = try Self.folder(.bf16)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(try LlamaModel(folder: folder).blocks[0][.q].weight.parameter != nil)
        let q = try LlamaModel(folder: folder, quantizing: .q8_0, frozen: .stored)
        #expect((q.blocks[0][.q].weight as? QuantizedMatrix)?.type == .q8_0)
        #expect((q.embedding as? QuantizedMatrix)?.type == .bf16 && (q.outputHead as? QuantizedMatrix)?.type == .bf16)
        #expect(try FrozenStorage(parsing: "stored") == .stored)
        #expect(throws: TailorError.self) { try FrozenStorage(parsing: "f16") }
    }
}
