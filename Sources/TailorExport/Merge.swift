import Foundation
import TailorModels
import TailorQuant
import TailorTape
import TailorTensor

/// One weight of a merged model, produced only when asked for, so an exporter can stream a
/// model to disk one tensor at a time (at most one merged tensor exists beside the model).
public struct MergedTensor {
    /// The Hugging Face name (`model.layers.0.self_attn.q_proj.weight`).
    public let name: String
    /// Row-major shape, outermost first.
    public let shape: [Int]
    /// Whether an adapter is folded into this tensor.
    public let isMerged: Bool
    /// Computes the fp32 values (a fresh tensor for merged or dequantized weights; the model's
    /// own storage otherwise — do not modify it).
    public let produce: () -> Tensor

    /// A tensor whose values `produce` computes when the exporter reaches it (so a caller can
    /// stream weights that never exist together, e.g. read from another file one at a time).
    public init(name: String, shape: [Int], isMerged: Bool, produce: @escaping () -> Tensor) {
        self.name = name; self.shape = shape; self.isMerged = isMerged; self.produce = produce
    }
}

/// Folds LoRA adapters into base weights: `W' = W + scale · B · A`, in fp32, from the best
/// precision available (a quantized base matrix is dequantized first).
///
/// `scale` is the one PEFT uses for the module — `alpha / r`, or `alpha / √r` with rsLoRA, after
/// `rank_pattern` / `alpha_pattern` — and is already stored on each ``LoRAWeights``.
public enum Merge {
    /// The merged weight of one linear layer (`[out, in]`, a new tensor).
    public static func mergedWeight(_ layer: LinearLayer) -> Tensor {
        let w = denseCopy(layer.weight)
        if let lora = layer.lora {
            let r = lora.a.value.shape[0]
            // W[out, in] += scale · B[out, r] · A[r, in]
            BLAS.gemm(m: layer.outFeatures, n: layer.inFeatures, k: r, alpha: lora.scale,
                      a: lora.b.value.pointer, lda: r, b: lora.a.value.pointer, ldb: layer.inFeatures,
                      beta: 1, c: w.pointer, ldc: layer.inFeatures)
        }
        return w
    }

    /// The weight as a new fp32 tensor (dequantized when it is a quantized matrix).
    static func denseCopy(_ weight: any LinearWeight) -> Tensor {
        if let p = weight.parameter { return p.value.copy() }
        if let q = weight as? any TiledMatrix { return q.dequantized() }
        // Any other LinearWeight: recover W by multiplying the identity (exact for a linear map).
        let n = weight.inFeatures
        let eye = Tensor(zeros: [n, n])
        for i in 0..<n { eye.pointer[i * n + i] = 1 }
        let wt = Tensor(uninitialized: [n, weight.outFeatures])  // I · Wᵀ
        weight.multiply(eye.pointer, rows: n, into: wt.pointer)
        let w = Tensor(uninitialized: [weight.outFeatures, n])
        for i in 0..<n { for o in 0..<weight.outFeatures { w.pointer[o * n + i] = wt.pointer[i * weight.outFeatures + o] } }
        return w
    }

    /// Every base tensor of `model` with adapters folded in, in Hugging Face order: embedding,
    /// then per layer the norms, projections and biases, then the final norm and the head
    /// (absent when tied).
    public static func tensors(of model: LlamaModel) -> [MergedTensor] {
        func plain(_ p: Parameter) -> MergedTensor { MergedTensor(name: p.name, shape: p.value.shape, isMerged: false) { p.value } }
        func table(_ w: any LinearWeight) -> MergedTensor {
            if let p = w.parameter { return plain(p) }
            return MergedTensor(name: w.name, shape: [w.outFeatures, w.inFeatures], isMerged: false) {
                let t = Tensor(uninitialized: [w.outFeatures, w.inFeatures])
                (w as! any RowReadableWeight).dequantizeRows(0..<w.outFeatures, into: t.pointer)
                return t
            }
        }
        var out = [table(model.embedding)]
        for b in model.blocks {
            out += b.norms.map(plain)
            for kind in LinearKind.allCases {
                let l = b[kind]
                out.append(MergedTensor(name: l.modulePath + ".weight", shape: [l.outFeatures, l.inFeatures], isMerged: l.lora != nil) {
                    l.lora == nil && l.weight.parameter != nil ? l.weight.parameter!.value : mergedWeight(l)
                })
                if let bias = l.bias { out.append(plain(bias)) }
            }
        }
        out.append(plain(model.finalNorm))
        if model.outputHead !== model.embedding { out.append(table(model.outputHead)) }
        return out
    }

    /// Loads the base of a merge (or an export read back for its parity proof): a Hugging Face
    /// folder (fp32 in memory), or a `.gguf` file through ``GGUFModel/load(_:mapDenseMatrices:)``
    /// with every matrix — quantized, F32, F16 or BF16 — left in the memory-mapped file, so that
    /// ``tensors(of:)`` dequantizes, merges and hands over one tensor at a time and the process never
    /// holds the model in fp32. The GGUF is returned too (its tokenizer metadata and configuration go
    /// into the export). A GGUF tensor the model does not use is refused, naming it: the merge would drop it.
    public static func loadBase(_ url: URL) throws -> (model: LlamaModel, gguf: GGUFFile?) {
        guard url.pathExtension.lowercased() == "gguf" else { return (try LlamaModel(folder: url), nil) }
        let f = try GGUFFile(path: url.path)
        let model = try GGUFModel.load(f, mapDenseMatrices: true)
        let used = Set(tensors(of: model).compactMap { GGUFNames.gguf($0.name) } + ["rope_freqs.weight"])
        let extra = f.tensors.map(\.name).filter { !used.contains($0) }
        guard extra.isEmpty else {
            let more = extra.count > 1 ? " (and \(extra.count - 1) more)" : ""
            throw TailorError("\(url.path): tensor \(extra[0])\(more) is not part of the \(model.configuration.modelType) model it describes; a merge would drop it (and llama.cpp rejects extra tensors)")
        }
        return (model, f)
    }

    /// Folds every adapter into its layer's weight in place and removes the adapters.
    /// Quantized base matrices become dense fp32 parameters.
    public static func mergeInPlace(_ model: LlamaModel) throws {
        for layer in model.adaptedLayers {
            guard let p = layer.weight.parameter else {
                throw TailorError("\(layer.modulePath).weight: in-place merge needs a dense base weight; export streams quantized bases instead")
            }
            p.value = mergedWeight(layer)
            layer.lora = nil
        }
    }
}
