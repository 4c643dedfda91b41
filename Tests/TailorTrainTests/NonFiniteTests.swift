import Foundation
import Testing
import TailorData
import TailorModels
import TailorTensor
import TailorTestSupport
@testable import TailorTrain

/// NaN or infinite losses and gradients: stop with the step and batch named, or skip and count.
@Suite struct NonFiniteTests {
    /// The fixture model with the embedding row of a token that only row 0 holds set to `value`,
    /// so every batch holding row 0 has a non-finite loss and the others are clean.
    static func poisonedModel(_ value: Float = .nan) throws -> LlamaModel {
        let examples = try TrainerTests.examples()
        let token = try #require(Set(examples[0].ids.dropLast()).subtracting(examples[1].ids).min())
        let model = try LlamaModel(folder: TrainerTests.variant.appendingPathComponent("model"))
        let embedding = try #require(model.baseParameters.first { $0.name.hasSuffix("embed_tokens.weight") })
        let width = embedding.value.shape[1]
        for j in 0..<width { embedding.value.pointer[token * width + j] = value }
        return model
    }

    static func configuration(output: URL) -> TrainingConfiguration {
        var c = TrainerTests.configuration(output: output)
        c.adapter = nil; c.rank = 2; c.batchSize = 1; c.steps = 4; c.lr = 1e-2; c.saveEvery = 1; c.clip = 1
        return c
    }

    /// The first poisoned step stops the run, naming the step, the batch and its data line; the
    /// checkpoints before it stay and no adapter is written.
    @Test(arguments: [Float.nan, Float.infinity])
    func nonFiniteLossStopsNamingStepAndBatch(value: Float) throws {
        let out = temporaryFolder(); defer { try? FileManager.default.removeItem(at: out) }
        let c = Self.configuration(output: out), examples = try TrainerTests.examples()
        let trainer = try Trainer(configuration: c, model: Self.poisonedModel(value), modelFolder: nil, train: examples, valid: [], padding: 0)
        let plan = BatchPlanner(lengths: examples.map(\.ids.count), batchSize: 1, maxLength: c.maxSeq, pack: false, seed: c.seed)
        let first = try #require(plan.batches(epoch: 0).firstIndex { $0 == [[0]] })
        do {
            _ = try trainer.run()
            Issue.record("training finished despite a non-finite loss")
        } catch let e as TailorError {
            let step = first + 1
            #expect(e.description.contains("step \(step): the loss is"), "\(e)")
            #expect(e.description.contains("epoch 0 batch \(first) (row 0)"), "\(e)")
            #expect(e.description.contains("--skip-nonfinite"), "\(e)")
            #expect(Checkpoints.list(output: out).map(\.step) == Array(1..<step), "\(e)")
        }
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("adapter_model.safetensors").path))
    }

    /// With skipNonfinite the poisoned batches (one per epoch) are skipped and counted, the run
    /// finishes with finite weights, and the count survives a resume.
    @Test func skipNonfiniteSkipsAndCounts() throws {
        let out = temporaryFolder(); defer { try? FileManager.default.removeItem(at: out) }
        var c = Self.configuration(output: out)
        c.skipNonfinite = true
        var messages: [String] = []
        let trainer = try Trainer(configuration: c, model: Self.poisonedModel(), modelFolder: nil,
                                  train: try TrainerTests.examples(), valid: [], padding: 0)
        let summary = try trainer.run { event in
            if case .message(let m) = event { messages.append(m) }
            return .proceed
        }
        #expect(summary.steps == 4 && summary.skippedNonFinite == 2, "\(messages)")
        #expect(messages.filter { $0.contains("skipped, the loss is nan on epoch") && $0.contains("(row 0)") }.count == 2, "\(messages)")
        let adapter = try SafetensorsFile(url: out.appendingPathComponent("adapter_model.safetensors"))
        for name in adapter.entries.keys { #expect(try adapter.tensor(name).array.allSatisfy(\.isFinite), "\(name)") }
        #expect(try Checkpoints.loadState(Checkpoints.resolve(out)).skippedNonFinite == 2)
    }

    /// A clean run never reports skips and keeps the field at zero.
    @Test func cleanRunSkipsNothing() throws {
        let out = temporaryFolder(); defer { try? FileManager.default.removeItem(at: out) }
        var c = Self.configuration(output: out)
        c.skipNonfinite = true; c.steps = 2
        let model = try LlamaModel(folder: TrainerTests.variant.appendingPathComponent("model"))
        let summary = try Trainer(configuration: c, model: model, modelFolder: nil, train: try TrainerTests.examples(),
                                  valid: [], padding: 0).run()
        #expect(summary.skippedNonFinite == 0 && summary.finalLoss?.isFinite == true)
    }
}

/// Checkpoint writes that fail, and crash leftovers.
@Suite struct CheckpointWriteTests {
    static func state(step: Int) -> TrainerState {
        TrainerState(step: step, totalSteps: 10, cursor: DataCursor(), seed: 0, bestValidLoss: nil, bestStep: nil,
                     evalsWithoutImprovement: 0, elapsedSeconds: 0, configuration: TrainingConfiguration())
    }

    /// A failure inside the checkpoint (here: a file in the way of the adapter) names the
    /// checkpoint and the reason, removes the partial folder and keeps the previous checkpoint.
    @Test func failedWriteKeepsThePreviousCheckpoint() throws {
        let out = temporaryFolder(); defer { try? FileManager.default.removeItem(at: out) }
        let first = try Checkpoints.save(output: out, state: Self.state(step: 1)) { folder in
            try AtomicFile.write(Data("weights".utf8), to: folder.appendingPathComponent("adapter_model.safetensors"))
        }
        do {
            _ = try Checkpoints.save(output: out, state: Self.state(step: 2)) { folder in
                try AtomicFile.write(Data("weights".utf8), to: folder.appendingPathComponent("no/such/adapter_model.safetensors"))
            }
            Issue.record("the write did not fail")
        } catch let e as TailorError {
            #expect(e.description.contains("checkpoints/step-000002: cannot write checkpoint"), "\(e)")
            #expect(e.description.contains("No such file or directory"), "\(e)")
            #expect(e.description.contains("\(first.path), is intact"), "\(e)")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: Checkpoints.folder(output: out).path)
        #expect(names == ["step-000001"])
        #expect(try Checkpoints.loadState(first).step == 1)
    }

    /// Leftovers of a crash (temporary and half-deleted folders, temporary files) are removed;
    /// complete checkpoints stay; pruning leaves no half-deleted `step-N` folder.
    @Test func crashLeftoversAreRemovedAndPruningIsAtomic() throws {
        let out = temporaryFolder(); defer { try? FileManager.default.removeItem(at: out) }
        for step in 1...3 { _ = try Checkpoints.save(output: out, state: Self.state(step: step)) { _ in } }
        let root = Checkpoints.folder(output: out)
        for name in [".step-000004.tmp-99", ".step-000001.del-98", ".step-000002.old-97"] {
            try FileManager.default.createDirectory(at: root.appendingPathComponent(name), withIntermediateDirectories: true)
        }
        // A checkpoint moved aside for replacement, killed before the new one was in place.
        try FileManager.default.moveItem(at: root.appendingPathComponent("step-000003"), to: root.appendingPathComponent(".step-000003.old-96"))
        try Data().write(to: out.appendingPathComponent(".adapter_model.safetensors.tmp-5-6"))
        Checkpoints.removeIncomplete(output: out)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).sorted() == ["step-000001", "step-000002", "step-000003"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path) == ["checkpoints"])
        Checkpoints.prune(output: out, keep: 1, protected: nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path) == ["step-000003"])
    }
}
