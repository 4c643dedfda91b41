import Foundation
import Testing
import TailorModels
import TailorTestSupport

/// The sampler's filters against a plain Double re-implementation of Hugging Face's warpers
/// (temperature → top-k → top-p → min-p), and the draws against the filtered distribution.
@Suite struct GenerationSamplingTests {
    /// HF's `TemperatureLogitsWarper`, `TopKLogitsWarper`, `TopPLogitsWarper`, `MinPLogitsWarper`
    /// in that order, as token → probability (Double softmax of the survivors).
    static func reference(_ logits: [Float], _ p: SamplingParameters) -> [Int: Double] {
        var scores = logits.map { Double($0 / p.temperature) }
        func softmax() -> [Double] {
            let m = scores.max()!
            let e = scores.map { $0 == -.infinity ? 0 : exp($0 - m) }
            let s = e.reduce(0, +)
            return e.map { $0 / s }
        }
        if p.topK > 0 && p.topK < scores.count {
            let kth = scores.sorted(by: >)[p.topK - 1]
            scores = scores.map { $0 < kth ? -.infinity : $0 }
        }
        if p.topP < 1 {
            let probs = softmax()
            let ascending = probs.indices.sorted { probs[$0] < probs[$1] }
            var cum = 0.0
            for (rank, i) in ascending.enumerated() {
                cum += probs[i]
                if cum <= 1 - Double(p.topP) && rank < ascending.count - 1 { scores[i] = -.infinity }
            }
        }
        if p.minP > 0 {
            let probs = softmax(), floor = Double(p.minP) * probs.max()!
            for i in probs.indices where probs[i] < floor { scores[i] = -.infinity }
        }
        let probs = softmax()
        return Dictionary(uniqueKeysWithValues: probs.indices.filter { probs[$0] > 0 }.map { ($0, probs[$0]) })
    }

    static func expectMatchesReference(_ logits: [Float], _ p: SamplingParameters, _ what: String,
                                       sourceLocation: SourceLocation = #_sourceLocation) {
        let got = Sampler.distribution(logits, p)
        let want = reference(logits, p)
        #expect(Set(got.map(\.token)) == Set(want.keys), "\(what): support \(got.map(\.token).sorted()) vs \(want.keys.sorted())",
                sourceLocation: sourceLocation)
        for (t, prob) in got {
            #expect(abs(Double(prob) - (want[t] ?? 0)) < 1e-6, "\(what): p(\(t)) \(prob) vs \(want[t] ?? 0)", sourceLocation: sourceLocation)
        }
    }

    /// probabilities 0.5, 0.25, 0.15, 0.1 at temperature 1.
    static let four: [Float] = [0.5, 0.25, 0.15, 0.1].map { logf($0) }

    @Test func filtersOnAKnownDistribution() {
        func support(_ p: SamplingParameters) -> [Int] { Sampler.distribution(Self.four, p).map(\.token).sorted() }
        #expect(support(.init(topK: 2)) == [0, 1])
        #expect(support(.init(topP: 0.7)) == [0, 1])      // tail 0.1 + 0.15 ≤ 0.3 dropped
        #expect(support(.init(topP: 0.8)) == [0, 1, 2])   // only 0.1 ≤ 0.2 dropped
        #expect(support(.init(topP: 0.3)) == [0])
        #expect(support(.init(minP: 0.25)) == [0, 1, 2])  // floor 0.125
        #expect(support(.init(minP: 0.6)) == [0])         // floor 0.3
        // Temperature comes first: at T = 4 the probabilities flatten to ≈ .31 .26 .23 .21, so
        // top-p 0.7 keeps three tokens (it would keep two if it ran before the temperature).
        #expect(support(.init(temperature: 4, topP: 0.7)) == [0, 1, 2])
        // top-k before top-p: after top-2 the probabilities are 2/3, 1/3, and top-p 0.6 keeps one.
        #expect(support(.init(topK: 2, topP: 0.6)) == [0])
        // top-p before min-p: 2/3, 1/3 after top-p 0.7; min-p 0.6 → floor 0.4 → one token.
        #expect(support(.init(topP: 0.7, minP: 0.6)) == [0])
        let d = Sampler.distribution(Self.four, .init(topK: 2))
        #expect(abs(d[0].probability - 2.0 / 3) < 1e-6 && abs(d[1].probability - 1.0 / 3) < 1e-6)
        #expect(Sampler.distribution(Self.four, .greedy).map(\.token) == [0])
    }

    @Test(arguments: [
        SamplingParameters(temperature: 1), .init(temperature: 0.7, topK: 5), .init(temperature: 1.3, topP: 0.9),
        .init(temperature: 1, minP: 0.1), .init(temperature: 0.8, topK: 20, topP: 0.8, minP: 0.05),
        .init(temperature: 2, topK: 1), .init(temperature: 1, topK: 100), .init(temperature: 1, topP: 0.01),
    ])
    func filtersMatchReferenceOnRandomLogits(p: SamplingParameters) {
        var rng = TestRandom(seed: 99)
        for trial in 0..<20 {
            let logits = (0..<50).map { _ in rng.uniform(-4, 4) }
            Self.expectMatchesReference(logits, p, "trial \(trial) \(p)")
        }
    }

    /// A larger vocabulary: the top-k buffer and full-sort paths, and top-p's pre-filter of the
    /// many tokens too unlikely to matter.
    @Test(arguments: [
        SamplingParameters(topP: 0.95), .init(temperature: 0.5, topP: 0.5), .init(topK: 30), .init(topK: 400, topP: 0.99),
        .init(temperature: 2, topK: 1000, minP: 0.2),
    ])
    func filtersMatchReferenceOnALargeVocabulary(p: SamplingParameters) {
        var rng = TestRandom(seed: 4)
        for trial in 0..<3 {
            let logits = (0..<3000).map { _ in rng.uniform(-8, 8) }
            Self.expectMatchesReference(logits, p, "trial \(trial) \(p)")
        }
    }

    /// Draws stay inside the filtered set and follow its probabilities.
    @Test(arguments: [SamplingParameters(topK: 2), .init(topP: 0.8), .init(minP: 0.25), .init(temperature: 1)])
    func drawsFollowTheFilteredDistribution(p: SamplingParameters) {
        let want = Self.reference(Self.four, p)
        var sampler = Sampler(p, seed: 7)
        var counts = [Int: Int]()
        let n = 20_000
        for _ in 0..<n { counts[sampler.sample(Self.four), default: 0] += 1 }
        #expect(Set(counts.keys).isSubset(of: Set(want.keys)), "\(p): drew \(counts.keys.sorted()), allowed \(want.keys.sorted())")
        for (t, prob) in want {
            let f = Double(counts[t] ?? 0) / Double(n)
            #expect(abs(f - prob) < 0.015, "\(p): token \(t) frequency \(f), probability \(prob)")
        }
    }

    @Test func samplerIsDeterministicPerSeed() {
        var rng = TestRandom(seed: 1)
        let logits = (0..<200).map { _ in rng.uniform(-2, 2) }
        let p = SamplingParameters(temperature: 0.9, topK: 50, topP: 0.95)
        func draws(_ seed: UInt64) -> [Int] { var s = Sampler(p, seed: seed); return (0..<40).map { _ in s.sample(logits) } }
        #expect(draws(5) == draws(5))
        #expect(draws(5) != draws(6))
    }

    @Test func greedyIsArgmaxWithLowestIdOnTies() {
        var s = Sampler(.greedy, seed: 3)
        #expect(s.sample([0, 2, 1, 2] as [Float]) == 1)
        #expect(s.sample([-.infinity, -.infinity] as [Float]) == 0)
        #expect(Sampler.argmax([1, .nan, 3, 0] as [Float]) == 2)
        // Top-k keeps ties with the k-th value, as HF does.
        #expect(Sampler.distribution([1, 3, 3, 0], .init(topK: 1)).map(\.token) == [1, 2])
    }
}
