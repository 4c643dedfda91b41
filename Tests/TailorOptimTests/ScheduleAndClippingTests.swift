import Foundation
import Testing
import TailorOptim
import TailorTape
import TailorTensor
import TailorTestSupport

@Suite struct ScheduleTests {
    // W = 4, T = 12, peak 1, min 0.2: warmup 0, 0.25, 0.5, 0.75; then decay over T − W = 8 steps.
    @Test func warmup_isHuggingFaceConvention() {
        let s = LearningRateSchedule(kind: .constant, peakLR: 1, warmupSteps: 4, minLR: 0.2)
        #expect((0..<6).map { s.lr(at: $0, totalSteps: 12) } == [0, 0.25, 0.5, 0.75, 1, 1])
    }

    @Test func linear_decaysToMinLRAtTotalSteps() {
        let s = LearningRateSchedule(kind: .linear, peakLR: 1, warmupSteps: 4, minLR: 0.2)
        #expect(s.lr(at: 4, totalSteps: 12) == 1)
        #expect(abs(s.lr(at: 8, totalSteps: 12) - 0.6) < 1e-7)     // 0.2 + 0.8·4/8
        #expect(s.lr(at: 12, totalSteps: 12) == 0.2)
        #expect(s.lr(at: 20, totalSteps: 12) == 0.2)
    }

    @Test func cosine_halfwayIsTheMidpoint_andStaysAtMinAfterTheEnd() {
        let s = LearningRateSchedule(kind: .cosine, peakLR: 1, warmupSteps: 4, minLR: 0.2)
        #expect(s.lr(at: 4, totalSteps: 12) == 1)
        #expect(abs(s.lr(at: 8, totalSteps: 12) - 0.6) < 1e-7)     // 0.2 + 0.8·0.5·(1 + cos(π/2))
        #expect(abs(s.lr(at: 6, totalSteps: 12) - Float(0.2 + 0.8 * 0.5 * (1 + cos(Double.pi / 4)))) < 1e-7)
        #expect(abs(s.lr(at: 12, totalSteps: 12) - 0.2) < 1e-7)
        #expect(abs(s.lr(at: 30, totalSteps: 12) - 0.2) < 1e-7)
    }
}

@Suite struct ClippingTests {
    func parameter(_ name: String, _ grad: [Float]) -> Parameter {
        let p = Parameter(name, Tensor(zeros: [grad.count]), requiresGrad: true)
        for i in 0..<grad.count { p.gradientBuffer()[i] = grad[i] }
        return p
    }

    // Gradients [3, 4] and [12]: global norm √(9 + 16 + 144) = 13.
    @Test func clips_byMaxNormOverTotalPlusEps() {
        let a = parameter("a", [3, 4]), b = parameter("b", [12])
        let none = Parameter("none", Tensor(zeros: [2]), requiresGrad: true)
        let norm = clipGradientNorm([a, none, b], maxNorm: 1)
        #expect(norm == 13)
        let s = Float(1) / (Float(13) + Float(1e-6))
        #expect(a.grad!.array == [3 * s, 4 * s])
        #expect(b.grad!.array == [12 * s])
        #expect(none.grad == nil)
        #expect(abs(gradientNorm([a, b]) - 1) < 1e-6)
    }

    @Test func leavesGradientsAloneBelowMaxNorm() {
        let a = parameter("a", [3, 4]), b = parameter("b", [12])
        #expect(clipGradientNorm([a, b], maxNorm: 13.5) == 13)
        #expect(a.grad!.array == [3, 4] && b.grad!.array == [12])
        #expect(clipGradientNorm([], maxNorm: 1) == 0)
    }

    @Test func nanNorm_propagatesLikeTorch() {
        let a = parameter("a", [.nan, 1]), b = parameter("b", [2])
        #expect(clipGradientNorm([a, b], maxNorm: 1).isNaN)
        #expect(b.grad![0].isNaN)
    }

    @Test func largeGradient_normIndependentOfChunking() {
        var rng = TestRandom(seed: 3)
        let p = Parameter("big", Tensor(zeros: [300_001]), requiresGrad: true)
        let g = p.gradientBuffer()
        var exact: Double = 0
        for i in 0..<g.count { g[i] = rng.uniform(); exact += Double(g[i]) * Double(g[i]) }
        #expect(abs(gradientNorm([p]) - exact.squareRoot()) <= 1e-9 * exact.squareRoot())
    }
}
