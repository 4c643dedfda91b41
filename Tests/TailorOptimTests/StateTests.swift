import Foundation
import Testing
import TailorOptim
import TailorTape
import TailorTensor
import TailorTestSupport

/// Save/restore: 10 steps straight equal 5 steps + save to safetensors + load into a fresh
/// optimizer + 5 steps, bit for bit.
@Suite struct StateTests {
    static let shapes: [(String, [Int])] = [("model.w", [6, 5]), ("model.b", [7]), ("model.lora_A", [2, 3, 4])]

    func makeParameters() -> [Parameter] {
        var rng = TestRandom(seed: 11)
        return Self.shapes.map { Parameter($0.0, rng.tensor($0.1), requiresGrad: true) }
    }

    /// The gradients of step `s`: seeded by step, with `model.b` missing on step 3.
    func setGradients(_ params: [Parameter], step s: Int) {
        var rng = TestRandom(seed: 1000 + UInt64(s))
        for p in params {
            p.zeroGradient()
            let g = rng.tensor(p.value.shape, -Float(s + 1), Float(s + 1))
            if s == 3 && p.name == "model.b" { continue }
            p.gradientBuffer().pointer.update(from: g.pointer, count: g.count)
        }
    }

    func run(_ opt: any Optimizer, _ params: [Parameter], steps: Range<Int>) {
        let schedule = LearningRateSchedule(kind: .cosine, peakLR: 0.05, warmupSteps: 2, minLR: 0.001)
        for s in steps {
            setGradients(params, step: s)
            clipGradientNorm(params, maxNorm: 1.5)
            opt.step(params, lr: schedule.lr(at: s, totalSteps: 10))
        }
    }

    func bits(_ params: [Parameter]) -> [[UInt32]] { params.map { $0.value.array.map(\.bitPattern) } }

    @Test(arguments: ["adamw", "adam", "sgd_nesterov", "sgd_momentum", "sgd", "adafactor"])
    func resume_isBitIdentical(kind: String) throws {
        let straight = makeParameters()
        run(makeOptimizer(kind), straight, steps: 0..<10)

        let resumed = makeParameters()
        let first = makeOptimizer(kind)
        run(first, resumed, steps: 0..<5)
        let folder = temporaryFolder("optim-state")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("optimizer.safetensors")
        try first.state().write(to: url)
        // Parameters come back from their own checkpoint: fresh objects with the same bytes.
        let reloaded = resumed.map { Parameter($0.name, $0.value.copy(), requiresGrad: true) }
        let second = makeOptimizer(kind)
        try second.loadState(OptimizerState(file: SafetensorsFile(url: url)), parameters: reloaded)
        run(second, reloaded, steps: 5..<10)

        #expect(bits(straight) == bits(reloaded), "\(kind): resumed parameters differ from the uninterrupted run")
        #expect(bits(straight) != bits(makeParameters()))
    }

    @Test func state_roundTripsThroughMetadata() throws {
        let params = makeParameters()
        let opt = AdamW()
        run(opt, params, steps: 0..<4)
        let state = opt.state()
        #expect(state.scalars == ["step/model.w": 4, "step/model.b": 3, "step/model.lora_A": 4])
        #expect(state.tensors.map(\.name) == ["exp_avg/model.b", "exp_avg/model.lora_A", "exp_avg/model.w",
                                              "exp_avg_sq/model.b", "exp_avg_sq/model.lora_A", "exp_avg_sq/model.w"])
        #expect(state.safetensorsMetadata["tailor.optimizer.kind"] == "adamw")
        // The exported state is a copy: stepping again does not change it.
        let before = state.tensors[0].tensor.array
        run(opt, params, steps: 4..<5)
        #expect(state.tensors[0].tensor.array == before)
    }

    @Test func loadState_rejectsMismatches_withClearErrors() throws {
        let params = makeParameters()
        let opt = AdamW()
        run(opt, params, steps: 0..<2)
        let good = opt.state()

        func expectError(_ state: OptimizerState, _ parameters: [Parameter], into target: any Optimizer = AdamW(),
                         containing text: String, sourceLocation: SourceLocation = #_sourceLocation) {
            do {
                try target.loadState(state, parameters: parameters)
                Issue.record("expected an error mentioning \(text)", sourceLocation: sourceLocation)
            } catch {
                #expect("\(error)".contains(text), "\(error)", sourceLocation: sourceLocation)
            }
        }
        expectError(good, params, into: SGD(momentum: 0.9), containing: "saved by optimizer \"adamw\"")
        expectError(good, Array(params.dropLast()), containing: "model.lora_A, which is not among the 2 parameters")
        var renamed = params
        renamed[0] = Parameter("model.w", Tensor(zeros: [5, 6]), requiresGrad: true)
        expectError(good, renamed, containing: "has shape [6, 5], expected [5, 6]")
        var missing = good
        missing.tensors.removeAll { $0.name == "exp_avg_sq/model.b" }
        expectError(missing, params, containing: "lacks tensor exp_avg_sq/model.b")
        var orphan = good
        orphan.scalars["step/model.b"] = nil
        expectError(orphan, params, containing: "has no step count step/model.b")
        var extra = good
        extra.tensors.append((name: "max_exp_avg_sq/model.b", tensor: Tensor(zeros: [7])))
        expectError(extra, params, containing: "unexpected optimizer state tensor max_exp_avg_sq/model.b")

        // A failed load leaves the existing state untouched.
        let target = AdamW()
        try target.loadState(good, parameters: params)
        expectError(missing, params, into: target, containing: "lacks tensor")
        #expect(target.state().tensors.count == good.tensors.count)
        #expect(target.state().scalars == good.scalars)
    }

    @Test func stateFile_withoutKind_isRejected() throws {
        let folder = temporaryFolder("optim-state")
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("weights.safetensors")
        try SafetensorsWriter.write([(name: "x", tensor: Tensor(zeros: [2]))], to: url)
        #expect(throws: TailorError.self) { try OptimizerState(file: SafetensorsFile(url: url)) }
    }

    @Test func reset_forgetsState() {
        let params = makeParameters()
        let opt = Adafactor()
        run(opt, params, steps: 0..<1)
        #expect(!opt.state().tensors.isEmpty)
        opt.reset()
        #expect(opt.state().tensors.isEmpty && opt.state().scalars.isEmpty)
    }
}
