import Foundation
import TailorData
import TailorTensor

/// How the next token is chosen from the logits.
///
/// Filters apply in the order of Hugging Face `generate` (its logits warpers):
///
/// 1. **temperature**: logits / T. `temperature == 0` is greedy decoding (argmax, the lowest id
///    on ties) and ignores every other setting.
/// 2. **top-k**: keep the tokens whose scaled logit is at least the k-th largest (ties with the
///    k-th are kept, as in `TopKLogitsWarper`). 0 turns it off.
/// 3. **top-p** (nucleus): with the probabilities of the tokens left, sorted ascending, drop each
///    token whose cumulative probability is ≤ 1 − p (`TopPLogitsWarper`); the kept set is the
///    most probable tokens whose mass reaches p. The most probable token always stays. 1 turns it off.
/// 4. **min-p**: renormalise, then drop tokens whose probability is below `minP ×` the largest
///    probability (`MinPLogitsWarper`). 0 turns it off.
///
/// The token is then drawn from the renormalised survivors. No repetition penalty is applied.
public struct SamplingParameters: Sendable, Equatable {
    /// Softmax temperature; 0 means greedy.
    public var temperature: Float
    /// Keep only the k most likely tokens (0: off).
    public var topK: Int
    /// Nucleus mass in (0, 1] (1: off).
    public var topP: Float
    /// Relative probability floor in [0, 1] (0: off).
    public var minP: Float

    /// - Parameters:
    ///   - temperature: 0 for greedy, otherwise > 0.
    ///   - topK: 0 (off) or the number of tokens kept.
    ///   - topP: nucleus mass in (0, 1]; 1 is off.
    ///   - minP: in [0, 1]; 0 is off.
    public init(temperature: Float = 1, topK: Int = 0, topP: Float = 1, minP: Float = 0) {
        self.temperature = temperature; self.topK = topK; self.topP = topP; self.minP = minP
    }

    /// Greedy decoding: always the most likely token.
    public static let greedy = SamplingParameters(temperature: 0)

    /// True when the token is the argmax (temperature 0).
    public var isGreedy: Bool { temperature == 0 }

    /// Throws a ``TailorError`` naming the first setting out of range.
    public func validate() throws {
        guard temperature.isFinite && temperature >= 0 else { throw TailorError("sampling: temperature must be ≥ 0, got \(temperature)") }
        guard topK >= 0 else { throw TailorError("sampling: top-k must be ≥ 0 (0 = off), got \(topK)") }
        guard topP > 0 && topP <= 1 else { throw TailorError("sampling: top-p must be in (0, 1], got \(topP)") }
        guard minP >= 0 && minP <= 1 else { throw TailorError("sampling: min-p must be in [0, 1], got \(minP)") }
    }
}

/// Draws tokens from logits per ``SamplingParameters`` with a seeded generator: the same seed
/// and the same logits give the same tokens.
public struct Sampler: Sendable {
    /// The settings.
    public let parameters: SamplingParameters
    /// The random state (advanced by one draw per sampled token; greedy draws nothing).
    public private(set) var generator: SeededGenerator

    /// - Precondition: `parameters` are valid (see ``SamplingParameters/validate()``).
    public init(_ parameters: SamplingParameters, seed: UInt64 = 0) {
        precondition((try? parameters.validate()) != nil, "Sampler: invalid \(parameters)")
        self.parameters = parameters
        generator = SeededGenerator(seed: seed)
    }

    /// The next token for logits `[vocab]`.
    public mutating func sample(_ logits: Tensor) -> Int { sample(logits.buffer) }

    /// The next token for logits `[vocab]`.
    public mutating func sample(_ logits: [Float]) -> Int { logits.withUnsafeBufferPointer { sample($0) } }

    /// The next token for logits `[vocab]`.
    public mutating func sample(_ logits: UnsafeBufferPointer<Float>) -> Int {
        if parameters.isGreedy { return Self.argmax(logits) }
        let candidates = Self.distribution(logits, parameters)
        // u in [0, 1) with 53 random bits; walk the cumulative mass.
        let u = Double(generator.next() >> 11) * 0x1p-53
        var acc: Double = 0
        for c in candidates {
            acc += Double(c.probability)
            if u < acc { return c.token }
        }
        return candidates.last!.token  // rounding: the mass summed to slightly below u
    }

    /// The index of the largest logit (the lowest index on ties; NaN never wins).
    public static func argmax(_ logits: UnsafeBufferPointer<Float>) -> Int {
        precondition(!logits.isEmpty, "argmax of no logits")
        var best = 0, value = -Float.infinity
        for (i, x) in logits.enumerated() where x > value || (i == 0 && !x.isNaN) {
            best = i; value = x
        }
        return best
    }

    /// The index of the largest logit (the lowest index on ties).
    public static func argmax(_ logits: [Float]) -> Int { logits.withUnsafeBufferPointer { argmax($0) } }

    /// The tokens that survive the filters with their renormalised probabilities (summing to 1),
    /// most likely first when top-k or top-p sorted them, otherwise in id order. Greedy gives the
    /// argmax with probability 1.
    public static func distribution(_ logits: [Float], _ p: SamplingParameters) -> [(token: Int, probability: Float)] {
        logits.withUnsafeBufferPointer { distribution($0, p) }
    }

    /// The survivors of the filters for logits `[vocab]`, as in the `[Float]` overload.
    public static func distribution(
        _ logits: UnsafeBufferPointer<Float>, _ p: SamplingParameters
    ) -> [(token: Int, probability: Float)] {
        precondition(!logits.isEmpty, "sampling: no logits")
        if p.isGreedy { return [(argmax(logits), 1)] }
        let vocab = logits.count
        // 1. temperature
        var scaled = [Float](unsafeUninitializedCapacity: vocab) { buf, n in
            for i in 0..<vocab { buf[i] = logits[i] / p.temperature }
            n = vocab
        }
        for i in 0..<vocab where scaled[i].isNaN { scaled[i] = -.infinity }
        func descending(_ a: Int, _ b: Int) -> Bool { scaled[a] > scaled[b] || (scaled[a] == scaled[b] && a < b) }
        // 2. top-k: the survivors sorted, without sorting the whole vocabulary.
        var ids: [Int]
        if p.topK > 0 && p.topK < vocab {
            let kth = kthLargest(scaled, p.topK)
            ids = (0..<vocab).filter { scaled[$0] >= kth }.sorted(by: descending)
        } else {
            ids = Array(0..<vocab)
        }
        var probs = softmax(ids.map { scaled[$0] })
        // 3. top-p: walking up from the least likely token, drop it while the mass walked so far
        // is ≤ 1 − p. Tokens with probability ≤ (1 − p)/n are all dropped (their whole mass is
        // ≤ 1 − p and they come first), so only the others need sorting.
        if p.topP < 1 {
            let drop = 1 - p.topP, small = drop / Float(ids.count)
            var tail: Double = 0
            var big: [Int] = []
            for i in ids.indices {
                if probs[i] <= small { tail += Double(probs[i]) } else { big.append(i) }
            }
            if big.isEmpty, let top = probs.indices.max(by: { probs[$0] < probs[$1] }) { big = [top] }  // p ≈ 0
            big.sort { probs[$0] > probs[$1] || (probs[$0] == probs[$1] && descending(ids[$0], ids[$1])) }
            var keep = 1
            for j in stride(from: big.count - 1, through: 1, by: -1) {
                tail += Double(probs[big[j]])
                if tail > Double(drop) { keep = j + 1; break }
            }
            ids = big.prefix(keep).map { ids[$0] }
            probs = softmax(ids.map { scaled[$0] })
        }
        // 4. min-p
        if p.minP > 0 {
            let floor = p.minP * (probs.max() ?? 0)
            let kept = probs.indices.filter { probs[$0] >= floor }
            if kept.count < ids.count {
                ids = kept.map { ids[$0] }
                probs = softmax(ids.map { scaled[$0] })
            }
        }
        return zip(ids, probs).map { ($0, $1) }
    }

    /// The k-th largest of `x` (1-based): a sorted buffer of the k largest seen so far for small
    /// k (the usual top-k of 20–100), a full sort otherwise.
    static func kthLargest(_ x: [Float], _ k: Int) -> Float {
        if k > 256 { return x.sorted(by: >)[k - 1] }
        var best: [Float] = []  // descending, at most k
        best.reserveCapacity(k + 1)
        for v in x where best.count < k || v > best[k - 1] {
            var lo = 0, hi = best.count  // first index whose value is < v
            while lo < hi { let mid = (lo + hi) / 2; if best[mid] >= v { lo = mid + 1 } else { hi = mid } }
            best.insert(v, at: lo)
            if best.count > k { best.removeLast() }
        }
        return best[k - 1]
    }

    /// A max-subtracted softmax in fp32 (sums accumulated in Double).
    static func softmax(_ x: [Float]) -> [Float] {
        let m = x.max() ?? 0
        guard m.isFinite else {  // every logit −∞ (or +∞): uniform over the maxima
            let hits = x.map { $0 == m ? Float(1) : 0 }
            let n = hits.reduce(0, +)
            return hits.map { $0 / max(n, 1) }
        }
        let e = x.map { expf($0 - m) }
        let sum = e.reduce(Double(0)) { $0 + Double($1) }
        return e.map { Float(Double($0) / sum) }
    }
}
