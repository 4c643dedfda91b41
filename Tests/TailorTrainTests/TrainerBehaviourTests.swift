import Foundation
import Testing
import TailorData
import TailorModels
import TailorTensor
import TailorTestSupport
import TailorTrain

/// Full fine-tuning, checkpoint retention and early stopping.
@Suite struct TrainerBehaviourTests {
    func run(_ c: TrainingConfiguration, valid: [TokenizedExample] = []) throws -> TrainingSummary {
        let folder = URL(fileURLWithPath: c.model)
        let model = try LlamaModel(folder: folder)
        return try Trainer(configuration: c, model: model, modelFolder: folder, train: try TrainerTests.examples(),
                           valid: valid, padding: 0).run()
    }

    @Test func fullFineTuningWritesALoadableModel() throws {
        let dir = temporaryFolder(); defer { try? FileManager.default.removeItem(at: dir) }
        var c = TrainerTests.configuration(output: dir)
        c.adapter = nil; c.full = true; c.steps = 2; c.optimizer = "sgd"; c.lr = 0.1
        _ = try run(c)
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("adapter_model.safetensors").path))
        let trained = try LlamaModel(folder: dir)  // config.json was copied beside the weights
        let original = try LlamaModel(folder: URL(fileURLWithPath: c.model))
        for (a, b) in zip(trained.baseParameters, original.baseParameters) {
            #expect(a.name == b.name)
            #expect(a.value.array != b.value.array, "\(a.name) did not change")
        }
    }

    @Test func onlyTheNewestCheckpointsAreKept() throws {
        let dir = temporaryFolder(); defer { try? FileManager.default.removeItem(at: dir) }
        var c = TrainerTests.configuration(output: dir)
        c.steps = 5; c.saveEvery = 1; c.keep = 2; c.lr = 1e-3
        _ = try run(c)
        #expect(Checkpoints.list(output: dir).map(\.step) == [4, 5])
    }

    /// Validation on the training rows themselves with a step size that overshoots: the valid
    /// loss gets worse, so patience 1 stops the run at the second evaluation, keeping the best.
    @Test func earlyStoppingKeepsTheBestCheckpoint() throws {
        let dir = temporaryFolder(); defer { try? FileManager.default.removeItem(at: dir) }
        var c = TrainerTests.configuration(output: dir)
        c.steps = 20; c.evalEvery = 1; c.earlyStop = 1; c.saveEvery = 0; c.keep = 0
        c.optimizer = "sgd"; c.lr = 40
        let s = try run(c, valid: try TrainerTests.examples())
        #expect(s.stoppedEarly, "ran \(s.steps) steps")
        #expect(s.steps < 20)
        let best = try #require(s.bestCheckpoint)
        #expect(FileManager.default.fileExists(atPath: best.appendingPathComponent("adapter_model.safetensors").path))
    }
}
