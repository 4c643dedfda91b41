import Foundation
import Testing
import TailorModels
import TailorTape
import TailorTensor
import TailorTestSupport

/// Logits, loss, log-probabilities and every LoRA gradient against transformers + PEFT
/// (fixtures from `Tests/Fixtures/make_fixtures.py`).
///
/// Tolerances: logits 1e-4 absolute; loss 1e-5; gradients 1e-4 relative to the tensor's largest
/// element — over whole tensors.
@Suite struct ParityTests {
    static let variants = ["llama-gqa", "mistral-mqa", "qwen2-tied", "llama3-rope", "llama-linear", "qwen3-qknorm"]

    struct Fixture {
        let model: LlamaModel
        let expected: SafetensorsFile
        let batch: Batch
        let folder: URL

        init(_ variant: String, adapter: Bool = true) throws {
            folder = fixture("models/\(variant)")
            model = try LlamaModel(folder: folder.appendingPathComponent("model"))
            if adapter { try PEFTAdapter.load(folder: folder.appendingPathComponent("adapter"), into: model, trainable: true) }
            expected = try SafetensorsFile(url: folder.appendingPathComponent("expected.safetensors"))
            let ids = try expected.integers("input_ids"), labels = try expected.integers("labels")
            let t = try expected.entry("input_ids").shape[1]
            batch = Batch(sequences: [Array(ids[..<t]), Array(ids[t...])], labels: [Array(labels[..<t]), Array(labels[t...])])
        }

        func adapterKeys() -> [String] {
            expected.entries.keys.filter { $0.hasPrefix("grad.") }.map { String($0.dropFirst(5)) }.sorted()
        }

        func loraParameter(_ key: String) -> Parameter? {
            model.adaptedLayers.flatMap { [$0.lora!.a, $0.lora!.b] }.first { $0.name == key }
        }
    }

    @Test(arguments: variants)
    func logitsWithAndWithoutAdapter(variant: String) throws {
        let f = try Fixture(variant)
        expectClose(f.model.logits(f.batch), try f.expected.tensor("logits"), atol: 1e-4, "\(variant) logits")
        f.model.removeAdapters()
        expectClose(f.model.logits(f.batch), try f.expected.tensor("logits_base"), atol: 1e-4, "\(variant) base logits")
    }

    @Test(arguments: variants)
    func lossAndLoRAGradients(variant: String) throws {
        let f = try Fixture(variant)
        let tape = Tape()
        let out = f.model.loss(tape, f.batch)
        #expect(abs(out.loss.value[0] - (try f.expected.tensor("loss"))[0]) <= 1e-5, "\(variant) loss \(out.loss.value[0])")
        tape.backward(out.loss)
        let keys = f.adapterKeys()
        #expect(keys.count == f.model.adaptedLayers.count * 2, "\(variant): adapter tensors in fixture vs model")
        for key in keys {
            let p = try #require(f.loraParameter(key), "\(variant): no adapter tensor \(key)")
            expectClose(p.grad?.array ?? [], try f.expected.tensor("grad." + key).array, rtol: 1e-4, "\(variant) grad \(key)")
        }
    }

    /// Gradients of Σ logits·c for a random cotangent c: the backward through the head, not only the loss.
    @Test(arguments: variants)
    func cotangentGradients(variant: String) throws {
        let f = try Fixture(variant)
        let tape = Tape()
        let hidden = f.model.hiddenStates(tape, f.batch)
        let head = f.model.outputHead
        let logits = tape.linear(hidden, weight: head)
        let c = try f.expected.tensor("cotangent")
        tape.backward(logits, seed: c.reshaped(logits.shape))
        for key in f.adapterKeys() {
            let p = try #require(f.loraParameter(key))
            expectClose(p.grad?.array ?? [], try f.expected.tensor("cgrad." + key).array, rtol: 1e-4, "\(variant) cgrad \(key)")
        }
    }

    @Test(arguments: variants)
    func scoreLogProbabilities(variant: String) throws {
        let f = try Fixture(variant)
        let ids = try f.expected.integers("score_ids")
        expectClose(f.model.logProbabilities(ids), try f.expected.tensor("score_logprobs").array, atol: 1e-4, "\(variant) logprobs")
        f.model.removeAdapters()
        expectClose(f.model.logProbabilities(ids), try f.expected.tensor("score_logprobs_base").array, atol: 1e-4, "\(variant) base logprobs")
    }

    /// Full-parameter fine-tuning: gradients of every base weight of the plain model (Qwen3's q_norm
    /// and k_norm included).
    @Test(arguments: ["llama-gqa", "qwen3-qknorm"])
    func fullParameterGradients(variant: String) throws {
        let f = try Fixture(variant, adapter: false)
        f.model.setBaseTrainable(true)
        let tape = Tape()
        let out = f.model.loss(tape, f.batch)
        #expect(abs(out.loss.value[0] - (try f.expected.tensor("base_loss"))[0]) <= 1e-5)
        tape.backward(out.loss)
        let keys = f.expected.entries.keys.filter { $0.hasPrefix("base_grad.") }
        #expect(keys.count == f.model.baseParameters.count)
        for p in f.model.baseParameters {
            expectClose(p.grad?.array ?? [], try f.expected.tensor("base_grad." + p.name).array, rtol: 1e-4, "base grad \(p.name)")
        }
    }

    /// Packed rows: two segments in one row match running each separately.
    @Test func packedRowsMatchSeparateSequences() throws {
        let f = try Fixture("llama-gqa")
        let ids = try f.expected.integers("packed_input_ids"), labels = try f.expected.integers("packed_labels")
        let positions = try f.expected.integers("packed_position_ids")
        let cut = positions.lastIndex(of: 0)!
        let batch = Batch(packed: [[Array(ids[..<cut]), Array(ids[cut...])]],
                          labels: [[Array(labels[..<cut]), Array(labels[cut...])]])
        #expect(batch.positions.map(Int.init) == positions)
        expectClose(f.model.logits(batch), try f.expected.tensor("packed_logits"), atol: 1e-4, "packed logits")
        let tape = Tape()
        let out = f.model.loss(tape, batch)
        #expect(abs(out.loss.value[0] - (try f.expected.tensor("packed_loss"))[0]) <= 1e-5)
        tape.backward(out.loss)
        for key in f.adapterKeys() {
            let p = try #require(f.loraParameter(key))
            expectClose(p.grad?.array ?? [], try f.expected.tensor("packed_grad." + key).array, rtol: 1e-4, "packed grad \(key)")
        }
    }

    /// Every checkpointing policy gives the gradients of no checkpointing (within 1e-6).
    @Test(arguments: [CheckpointPolicy.everyBlock, .every(2), .every(5)])
    func checkpointingKeepsGradients(policy: CheckpointPolicy) throws {
        for variant in ["llama-gqa", "qwen2-tied", "qwen3-qknorm"] {
            let f = try Fixture(variant)
            func grads(_ p: CheckpointPolicy) -> [[Float]] {
                for q in f.model.trainableParameters { q.zeroGradient() }
                let tape = Tape()
                tape.backward(f.model.loss(tape, f.batch, checkpointing: p).loss)
                return f.model.trainableParameters.map { $0.grad!.array }
            }
            let plain = grads(.none), ckpt = grads(policy)
            for (a, b) in zip(ckpt, plain) { expectClose(a, b, atol: 1e-6, "\(variant) \(policy)") }
        }
    }
}
