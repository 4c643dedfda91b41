import Foundation
import Testing
import TailorOptim
import TailorTape
import TailorTensor
import TailorTestSupport

/// Five steps of each optimizer against `torch.optim` (see `Tests/Fixtures/make_optim_fixtures.py`):
/// clip (max norm 1) → lr from a cosine schedule (warmup 2, total 5) → step, with parameter `c`
/// having no gradient at step 2.
@Suite struct TorchFixtureTests {
    static let names = ["a", "b", "c", "d"]
    static let optimizers = ["adamw", "adam", "sgd_nesterov", "sgd_momentum", "sgd", "adafactor"]
    static let peaks: [String: Double] = ["adamw": 0.05, "adam": 0.05, "sgd_nesterov": 0.1, "sgd_momentum": 0.1,
                                          "sgd": 0.1, "adafactor": 0.05]

    let file: SafetensorsFile
    init() throws { file = try SafetensorsFile(url: fixture("optim/optim.safetensors")) }

    @Test(arguments: optimizers)
    func fiveSteps_matchTorch(name: String) throws {
        let params = try Self.names.map { Parameter($0, try file.tensor("init.\($0)"), requiresGrad: true) }
        let schedule = LearningRateSchedule(kind: .cosine, peakLR: Self.peaks[name]!, warmupSteps: 2)
        let expectedLR = try file.tensor("\(name).lr").array
        let expectedNorm = try file.tensor("norm").array
        let opt = makeOptimizer(name)
        for s in 0..<5 {
            for p in params {
                p.zeroGradient()
                if file.entries["grad.\(s).\(p.name)"] != nil {
                    let g = try file.tensor("grad.\(s).\(p.name)")
                    p.gradientBuffer().pointer.update(from: g.pointer, count: g.count)
                }
            }
            let norm = clipGradientNorm(params, maxNorm: 1.0)
            expectClose([norm], [expectedNorm[s]], rtol: 1e-6, "\(name) step \(s) pre-clip norm")
            let lr = schedule.lr(at: s, totalSteps: 5)
            expectClose([lr], [expectedLR[s]], rtol: 1e-7, "\(name) step \(s) lr")
            opt.step(params, lr: lr)
            for p in params {
                expectClose(p.value, try file.tensor("\(name).after.\(s).\(p.name)"), rtol: 1e-6,
                            "\(name) step \(s) parameter \(p.name)")
            }
        }
        // c missed one gradient, so its step count is one behind the others.
        let steps = opt.state().scalars
        #expect(steps["step/a"] == 5 && steps["step/c"] == 4)
    }

    static let schedules: [(String, LearningRateSchedule, Int)] = [
        ("constant_w3", LearningRateSchedule(kind: .constant, peakLR: 1e-3, warmupSteps: 3), 10),
        ("linear_w3_t10", LearningRateSchedule(kind: .linear, peakLR: 1e-3, warmupSteps: 3), 10),
        ("cosine_w3_t10", LearningRateSchedule(kind: .cosine, peakLR: 1e-3, warmupSteps: 3), 10),
        ("cosine_w0_t7", LearningRateSchedule(kind: .cosine, peakLR: 2e-4, warmupSteps: 0), 7),
        ("cosine_min_w3_t10", LearningRateSchedule(kind: .cosine, peakLR: 1e-3, warmupSteps: 3, minLR: 1e-4), 10),
    ]

    @Test(arguments: schedules.map(\.0))
    func schedule_matchesTransformers(name: String) throws {
        let (_, schedule, total) = Self.schedules.first { $0.0 == name }!
        let expected = try file.tensor("sched.\(name)").array
        let actual = (0..<expected.count).map { schedule.lr(at: $0, totalSteps: total) }
        expectClose(actual, expected, atol: 1e-12, rtol: 1e-7, "schedule \(name)")
    }
}
