import Foundation
import Testing
@testable import TailorExport
import TailorModels
import TailorQuant
import TailorTape
import TailorTensor
import TailorTestSupport

@Suite struct MergeExportTests {
    /// W' = W + scale·B·A, checked element by element in Double against the PEFT files, for plain
    /// LoRA, rsLoRA (α/√r) and rank/alpha patterns.
    @Test(arguments: [("llama-gqa", Float(8) / 4), ("qwen2-tied", Float(4) / Float(8).squareRoot())])
    func mergedWeightIsBasePlusScaledBA(variant: String, scale: Float) throws {
        let (m, _) = try adaptedModel(variant)
        let layer = m.blocks[1][.q]
        #expect(abs(layer.lora!.scale - scale) < 1e-6)
        let w = Merge.mergedWeight(layer)
        let base = layer.weight.parameter!.value, a = layer.lora!.a.value, b = layer.lora!.b.value
        let r = a.shape[0], n = layer.inFeatures
        var worst = 0.0
        for o in 0..<layer.outFeatures {
            for i in 0..<n {
                var s = 0.0
                for k in 0..<r { s += Double(b[o * r + k]) * Double(a[k * n + i]) }
                worst = max(worst, abs(Double(base[o * n + i]) + Double(scale) * s - Double(w[o * n + i])))
            }
        }
        #expect(worst < 1e-6)
    }

    @Test func patternScalesAreUsed() throws {
        let (m, _) = try adaptedModel("mistral-mqa")
        #expect(m.blocks[1][.q].lora?.scale == 4 && m.blocks[1][.v].lora?.scale == 8 && m.blocks[1][.o].lora?.scale == 1)
        #expect(m.blocks[0][.q].lora == nil)
        let t = Merge.tensors(of: m)
        #expect(t.filter(\.isMerged).map(\.name) == ["model.layers.1.self_attn.q_proj.weight", "model.layers.1.self_attn.v_proj.weight", "model.layers.1.self_attn.o_proj.weight"])
    }

    /// The merged HF folder reloads (sharded here) with logits equal to the in-memory adapter
    /// model within 1e-5, and to transformers + PEFT within 1e-4.
    @Test(arguments: ["llama-gqa", "qwen2-tied", "mistral-mqa", "qwen3-qknorm"])
    func hfFolderReloadsWithSameLogits(variant: String) throws {
        let (m, _) = try adaptedModel(variant)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("tailor-hf-\(UUID().uuidString)")
        let shards = try HFFolderExport.write(Merge.tensors(of: m), config: try HFFolderExport.readConfig(folder: fixture("models/\(variant)/model")),
                                              companionSource: fixture("models/\(variant)/model"), to: out, maxShardBytes: 100_000)
        #expect(shards.count > 1)
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("model.safetensors.index.json").path))
        let reloaded = try LlamaModel(folder: out)
        let (ids, expected) = try expectedLogits(variant)
        let mine = logits(m, ids), theirs = logits(reloaded, ids)
        #expect(maxAbsDifference(mine, theirs) < 1e-5)
        #expect(maxAbsDifference(theirs, expected) < 1e-4)
        #expect(throws: TailorError.self) {
            try HFFolderExport.write(Merge.tensors(of: m), config: [:], companionSource: nil, to: out)
        }
    }

    @Test func permutationMatchesIndexFormulaAndInverts() {
        // 2 heads of D = 4: rows h·4 + [0, 1, 2, 3] → [0, 2, 1, 3] within each head.
        let t = Tensor(shape: [8, 1], values: (0..<8).map(Float.init))
        let p = GGUFNames.permuteRows(t, groups: 2)
        #expect(p.array == [0, 2, 1, 3, 4, 6, 5, 7])
        let t2 = Tensor(shape: [12, 3], values: (0..<36).map(Float.init))
        #expect(GGUFNames.permuteRows(GGUFNames.permuteRows(t2, groups: 2), groups: 2, inverse: true).array == t2.array)
        #expect(GGUFNames.permuteRows(t2, groups: 3).array != t2.array)
    }

    @Test func tensorTypesFollowLlamaQuantize() {
        #expect(GGUFExport.tensorType("blk.0.attn_norm.weight", shape: [4096], target: .q4_K, tiedHead: false) == .f32)
        #expect(GGUFExport.tensorType("blk.0.attn_q.weight", shape: [4096, 4096], target: .q4_K, tiedHead: false) == .q4_K)
        #expect(GGUFExport.tensorType("blk.0.attn_q.weight", shape: [64, 64], target: .q4_K, tiedHead: false) == .q5_0)
        #expect(GGUFExport.tensorType("blk.0.attn_q.weight", shape: [64, 64], target: .q6_K, tiedHead: false) == .q8_0)
        #expect(GGUFExport.tensorType("blk.0.attn_q.weight", shape: [64, 48], target: .q8_0, tiedHead: false) == .f16)
        #expect(GGUFExport.tensorType("output.weight", shape: [32000, 4096], target: .q4_0, tiedHead: false) == .q6_K)
        #expect(GGUFExport.tensorType("token_embd.weight", shape: [32000, 4096], target: .q4_0, tiedHead: true) == .q6_K)
        #expect(GGUFExport.tensorType("blk.0.attn_q.bias", shape: [64], target: .f16, tiedHead: false) == .f32)
        // The head is Q8_0 by rule (not a fallback) when the target's block does not divide its rows.
        #expect(GGUFExport.ruleType("output.weight", shape: [49152, 576], target: .q4_K, layers: 30, tiedHead: false) == .q8_0)
        #expect(GGUFExport.ruleType("output.weight", shape: [49152, 4096], target: .q4_K_M, layers: 30, tiedHead: false) == .q6_K)
    }

    /// The export's own fallback encoders, Q5_0 (from Q4_K) and Q5_1 (from Q5_K), byte for byte against
    /// ggml's `quantize_row_q5_0_ref` / `quantize_row_q5_1_ref` (`quant/reference.gguf`).
    @Test(arguments: ["Q5_0", "Q5_1"])
    func fallbackEncodersMatchGGMLReference(_ name: String) throws {
        let f = try GGUFFile(path: fixture("quant/reference.gguf").path)
        let info = try f.info("quant.\(name)")
        let ours = try ExportEncoder.encode(info.type, try f.floats("input.\(name)"))
        #expect(ours == Array(f.bytes(info)), "\(name)")
    }

    /// Q4_K_M: llama-quantize's use_more_bits layers (i < n/8, i ≥ 7n/8, (i − n/8) % 3 == 2) take Q6_K
    /// for attn_v and ffn_down; other matrices Q4_K; file type 15. (Checked against llama.cpp's own
    /// quantizer by `Tests/Fixtures/check_quant_mix.py`, in ExportInteropTests.)
    @Test func q4KMediumMix() {
        let n = 32, sixK = Set([0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31])
        for layer in 0..<n {
            for kind in ["attn_v", "ffn_down"] {
                let t = GGUFExport.tensorType("blk.\(layer).\(kind).weight", shape: [4096, 4096], target: .q4_K_M, layers: n, tiedHead: false)
                #expect(t == (sixK.contains(layer) ? .q6_K : .q4_K), "\(kind) \(layer)")
            }
            for kind in ["attn_q", "attn_k", "attn_output", "ffn_gate", "ffn_up"] {
                #expect(GGUFExport.tensorType("blk.\(layer).\(kind).weight", shape: [4096, 4096], target: .q4_K_M, layers: n, tiedHead: false) == .q4_K)
            }
        }
        #expect(GGUFExport.tensorType("blk.0.attn_v.weight", shape: [1024, 576], target: .q4_K_M, layers: n, tiedHead: false) == .q8_0)
        #expect(GGUFExport.tensorType("token_embd.weight", shape: [32000, 4096], target: .q4_K_M, layers: n, tiedHead: false) == .q4_K)
        #expect(GGUFExport.tensorType("token_embd.weight", shape: [32000, 4096], target: .q4_K_M, layers: n, tiedHead: true) == .q6_K)
        #expect(GGUFExport.fileType(.q4_K_M) == 15 && GGUFExport.types["q4_k_m"] == .q4_K_M)
        // Q5_K_M: the same layers; Q5_K elsewhere, falling back to Q5_1 on rows 256 does not divide; file type 17.
        #expect(GGUFExport.tensorType("blk.6.ffn_down.weight", shape: [4096, 11008], target: .q5_K_M, layers: n, tiedHead: false) == .q6_K)
        #expect(GGUFExport.tensorType("blk.5.ffn_down.weight", shape: [4096, 11008], target: .q5_K_M, layers: n, tiedHead: false) == .q5_K)
        #expect(GGUFExport.tensorType("blk.5.attn_q.weight", shape: [576, 576], target: .q5_K_M, layers: n, tiedHead: false) == .q5_1)
        #expect(GGUFExport.tensorType("output.weight", shape: [32000, 4096], target: .q5_K_M, layers: n, tiedHead: false) == .q6_K)
        #expect(GGUFExport.fileType(.q5_K_M) == 17 && GGUFExport.types["q5_k_m"] == .q5_K_M)
    }
}
