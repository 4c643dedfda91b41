import Foundation
import Testing
import TailorOptim
import TailorTape
import TailorTensor
import TailorTestSupport

/// One- and two-step updates against hand-derived formulas (no optimizer code in the expectation).
@Suite struct ClosedFormTests {
    /// A trainable parameter with a gradient.
    func parameter(_ name: String, _ value: [Float], shape: [Int]? = nil, grad: [Float]) -> Parameter {
        let p = Parameter(name, Tensor(shape: shape ?? [value.count], values: value), requiresGrad: true)
        let g = p.gradientBuffer()
        for i in 0..<grad.count { g[i] = grad[i] }
        return p
    }

    // With bias correction, step 1 gives m̂ = g and v̂ = g², so the Adam direction is g / (|g| + ε).
    // A constant gradient keeps m̂ = g and v̂ = g² at every step (the corrections cancel 1 − βᵗ exactly).
    @Test func adamW_twoStepsWithConstantGradient_matchClosedForm() {
        let p = parameter("w", [1.0, -2.0, 0.25], grad: [0.5, -0.25, 2.0])
        let opt = AdamW(weightDecay: 0.01)
        opt.step([p], lr: 0.1)
        // θ₁ = θ₀·(1 − 0.1·0.01) − 0.1·g/(|g| + 1e-8)
        let one: [Double] = [1.0 * 0.999 - 0.1 * 0.5 / (0.5 + 1e-8),
                             -2.0 * 0.999 + 0.1 * 0.25 / (0.25 + 1e-8),
                             0.25 * 0.999 - 0.1 * 2.0 / (2.0 + 1e-8)]
        expectClose(p.value.array, one.map(Float.init), atol: 1e-7, "AdamW step 1")
        opt.step([p], lr: 0.1)
        let two: [Double] = [one[0] * 0.999 - 0.1 * 0.5 / (0.5 + 1e-8),
                             one[1] * 0.999 + 0.1 * 0.25 / (0.25 + 1e-8),
                             one[2] * 0.999 - 0.1 * 2.0 / (2.0 + 1e-8)]
        expectClose(p.value.array, two.map(Float.init), atol: 1e-6, "AdamW step 2")
        // Moments after two steps: m = (1 − 0.9²)·g = 0.19·g, v = (1 − 0.999²)·g² = 0.001999·g².
        let state = opt.state()
        let m = state.tensors.first { $0.name == "exp_avg/w" }!.tensor.array
        let v = state.tensors.first { $0.name == "exp_avg_sq/w" }!.tensor.array
        expectClose(m, [0.095, -0.0475, 0.38], atol: 1e-7, "AdamW exp_avg")
        expectClose(v, [0.00049975, 0.0001249375, 0.007996], atol: 1e-9, "AdamW exp_avg_sq")
        #expect(state.scalars["step/w"] == 2)
    }

    // A non-constant gradient: step 2 with g₂ = −g₁ at β = (0.5, 0.75), so the bias corrections matter:
    // m = 0.5·(0.5·g) + 0.5·(−g) = −0.25·g, m̂ = m/(1 − 0.25) = −g/3;
    // v = 0.75·0.25·g² + 0.25·g² = 0.4375·g², v̂ = v/(1 − 0.5625) = g².  Update: θ += lr·(g/3)/(|g| + ε).
    @Test func adamW_biasCorrection_withSignFlip() {
        let p = parameter("w", [1.0, -1.0], grad: [0.3, -0.6])
        let opt = AdamW(beta1: 0.5, beta2: 0.75, eps: 1e-8, weightDecay: 0)
        opt.step([p], lr: 0.1)
        for i in 0..<2 { p.grad![i] = -p.grad![i] }
        opt.step([p], lr: 0.1)
        let expected: [Double] = [1.0 - 0.1 + 0.1 * (0.3 / 3) / (0.3 + 1e-8),
                                  -1.0 + 0.1 - 0.1 * (0.6 / 3) / (0.6 + 1e-8)]
        expectClose(p.value.array, expected.map(Float.init), atol: 1e-7, "AdamW bias-corrected step 2")
    }

    // Adam's weight decay is L2 on the gradient: g' = g + λθ, then the Adam step on g'.
    @Test func adam_l2WeightDecay_entersTheMoments() {
        let p = parameter("w", [1.0, -2.0], grad: [0.5, -0.25])
        let opt = Adam(weightDecay: 0.1)
        opt.step([p], lr: 0.1)
        // g' = [0.5 + 0.1, −0.25 − 0.2] = [0.6, −0.45]; θ₁ = θ₀ − 0.1·g'/(|g'| + 1e-8)
        let expected: [Double] = [1.0 - 0.1 * 0.6 / (0.6 + 1e-8), -2.0 + 0.1 * 0.45 / (0.45 + 1e-8)]
        expectClose(p.value.array, expected.map(Float.init), atol: 1e-7, "Adam step 1")
        let m = opt.state().tensors.first { $0.name == "exp_avg/w" }!.tensor.array
        expectClose(m, [0.06, -0.045], atol: 1e-8, "Adam exp_avg holds the decayed gradient")
    }

    @Test func sgd_plain_isThetaMinusLrG() {
        let p = parameter("w", [1.0, -2.0], grad: [0.5, -0.25])
        SGD().step([p], lr: 0.1)
        expectClose(p.value.array, [0.95, -1.975], atol: 1e-7, "SGD")
    }

    // Nesterov with λ = 0.1, μ = 0.9, lr = 0.1, constant raw gradient g:
    // step 1: g₁' = g + 0.1θ₀, b₁ = g₁', θ₁ = θ₀ − 0.1·(g₁' + 0.9·b₁) = θ₀ − 0.19·g₁'
    // step 2: g₂' = g + 0.1θ₁, b₂ = 0.9·b₁ + g₂', θ₂ = θ₁ − 0.1·(g₂' + 0.9·b₂)
    @Test func sgd_nesterovWithWeightDecay_twoSteps() {
        let p = parameter("w", [1.0, -2.0], grad: [0.5, -0.25])
        let opt = SGD(momentum: 0.9, nesterov: true, weightDecay: 0.1)
        opt.step([p], lr: 0.1)
        let g1: [Double] = [0.6, -0.45]
        let t1 = [1.0 - 0.19 * g1[0], -2.0 - 0.19 * g1[1]]
        expectClose(p.value.array, t1.map(Float.init), atol: 1e-7, "SGD Nesterov step 1")
        opt.step([p], lr: 0.1)
        let g2 = [0.5 + 0.1 * t1[0], -0.25 + 0.1 * t1[1]]
        let b2 = [0.9 * g1[0] + g2[0], 0.9 * g1[1] + g2[1]]
        let t2 = [t1[0] - 0.1 * (g2[0] + 0.9 * b2[0]), t1[1] - 0.1 * (g2[1] + 0.9 * b2[1])]
        expectClose(p.value.array, t2.map(Float.init), atol: 1e-6, "SGD Nesterov step 2")
    }

    // Classic momentum with dampening 0.5: b₁ = g (no dampening on the first step), b₂ = 0.9·g + 0.5·g.
    @Test func sgd_momentumWithDampening_firstBufferIsTheGradient() {
        let p = parameter("w", [1.0], grad: [2.0])
        let opt = SGD(momentum: 0.9, dampening: 0.5)
        opt.step([p], lr: 0.1)
        expectClose(p.value.array, [0.8], atol: 1e-7, "step 1: θ − 0.1·2")
        opt.step([p], lr: 0.1)
        expectClose(p.value.array, [0.8 - 0.1 * 2.8], atol: 1e-6, "step 2: θ − 0.1·(0.9·2 + 0.5·2)")
    }

    // Step 1 of Adafactor: β̂ = 1^−0.8 = 1, so the factors are just the gradient's row/column mean squares.
    // g = [[1, 2], [3, 4]]: r = [(1+4)/2, (9+16)/2] = [2.5, 12.5], c = [(1+9)/2, (4+16)/2] = [5, 10],
    // mean(r) = 7.5, V = r·c/7.5 = [[5/3, 10/3], [25/3, 50/3]], u = g/√V; RMS(u)² = (0.6 + 1.2 + 1.08 + 0.96)/4
    // = 0.96 < 1, so no clipping. θ = [[1, −1], [2, 0.5]]: RMS(θ) = √(6.25/4) = 1.25; lr = 0.01, λ = 0.5:
    // α = 1.25·0.01; θ₁ = θ·(1 − 0.005) − α·u.
    @Test func adafactor_factoredMatrix_stepOne() {
        let p = parameter("m", [1, -1, 2, 0.5], shape: [2, 2], grad: [1, 2, 3, 4])
        let opt = Adafactor(weightDecay: 0.5)
        opt.step([p], lr: 0.01)
        let v: [Double] = [5.0 / 3, 10.0 / 3, 25.0 / 3, 50.0 / 3]
        let g: [Double] = [1, 2, 3, 4], theta: [Double] = [1, -1, 2, 0.5]
        let expected = (0..<4).map { Float(theta[$0] * 0.995 - 0.0125 * g[$0] / v[$0].squareRoot()) }
        expectClose(p.value.array, expected, atol: 1e-7, "Adafactor matrix step 1")
        let state = opt.state()
        expectClose(state.tensors.first { $0.name == "row_var/m" }!.tensor.array, [2.5, 12.5], "row_var")
        expectClose(state.tensors.first { $0.name == "col_var/m" }!.tensor.array, [5, 10], "col_var")
        #expect(state.tensors.first { $0.name == "row_var/m" }!.tensor.shape == [2, 1])
        #expect(state.tensors.first { $0.name == "col_var/m" }!.tensor.shape == [1, 2])
    }

    // Vector, step 1: V = g², u = sign(g), RMS(u) = 1. θ = [3, 4]: RMS = √12.5; lr = 0.01 → α = 0.01·√12.5.
    // Step 2 (same g): β̂ = 2^−0.8, V = g² still (lerp between equal values), u = sign(g), ρ = min(0.01, 1/√2).
    @Test func adafactor_vector_twoSteps_andUpdateClipping() {
        let p = parameter("v", [3, 4], grad: [0.5, -2])
        let opt = Adafactor()
        opt.step([p], lr: 0.01)
        let a1 = 0.01 * 12.5.squareRoot()
        let t1 = [3 - a1, 4 + a1]
        expectClose(p.value.array, t1.map(Float.init), atol: 1e-6, "Adafactor vector step 1")
        opt.step([p], lr: 0.01)
        let a2 = 0.01 * ((t1[0] * t1[0] + t1[1] * t1[1]) / 2).squareRoot()
        expectClose(p.value.array, [Float(t1[0] - a2), Float(t1[1] + a2)], atol: 1e-6, "Adafactor vector step 2")
        // A zero gradient element (V = 0 < ε₁²) gives a zero update, not a NaN.
        let q = parameter("z", [1, 1], grad: [0, 1])
        Adafactor().step([q], lr: 0.1)
        #expect(q.value.array.allSatisfy { $0.isFinite })
        #expect(q.value[0] == 1)
    }

    // Update clipping (d = 1). θ = [1, 1], g₁ = [1, 1], g₂ = [10, 1], lr = 0.01.
    // Step 1: V = [1, 1], u = [1, 1], α₁ = 0.01·1 → θ₁ = [0.99, 0.99].
    // Step 2: β̂ = 2^−0.8, V = [1 + β̂·99, 1], u = [10/√V₀, 1], RMS(u) > 1 → θ₂ = θ₁ − α₂·u/RMS(u), α₂ = 0.01·0.99.
    @Test func adafactor_updateClipping_dividesByRMS() {
        let p = parameter("v", [1, 1], grad: [1, 1])
        let opt = Adafactor()
        opt.step([p], lr: 0.01)
        expectClose(p.value.array, [0.99, 0.99], atol: 1e-7, "Adafactor clipping step 1")
        p.grad![0] = 10
        opt.step([p], lr: 0.01)
        let beta = pow(2.0, -0.8)
        let u = [10 / (1 + beta * 99).squareRoot(), 1.0]
        let rms = ((u[0] * u[0] + u[1] * u[1]) / 2).squareRoot()
        #expect(rms > 1.1)
        let alpha = 0.01 * 0.99
        expectClose(p.value.array, [Float(0.99 - alpha * u[0] / rms), Float(0.99 - alpha * u[1] / rms)], atol: 1e-7,
                    "Adafactor clipping step 2")
    }

    @Test(arguments: ["adamw", "adam", "sgd", "adafactor"])
    func skipsParametersWithoutGradientOrFrozen(kind: String) {
        let frozen = Parameter("frozen", Tensor(shape: [2], values: [1, 2]), requiresGrad: false)
        _ = frozen.gradientBuffer()
        frozen.grad![0] = 1
        let noGrad = Parameter("nograd", Tensor(shape: [2], values: [3, 4]), requiresGrad: true)
        let live = parameter("live", [1, 1], grad: [1, 1])
        let opt = makeOptimizer(kind)
        opt.step([frozen, noGrad, live], lr: 0.1)
        #expect(frozen.value.array == [1, 2])
        #expect(noGrad.value.array == [3, 4])
        #expect(live.value.array != [1, 1])
        #expect(opt.state().scalars.keys.sorted() == ["step/live"])
    }
}

/// An optimizer by fixture name, with the fixture's hyperparameters.
func makeOptimizer(_ name: String) -> any Optimizer {
    switch name {
    case "adamw": AdamW(weightDecay: 0.1)
    case "adam": Adam(weightDecay: 0.05)
    case "sgd_nesterov": SGD(momentum: 0.9, nesterov: true, weightDecay: 0.01)
    case "sgd_momentum": SGD(momentum: 0.9, dampening: 0.1)
    case "sgd": SGD()
    case "adafactor": Adafactor(weightDecay: 0.01)
    default: fatalError("unknown optimizer \(name)")
    }
}
