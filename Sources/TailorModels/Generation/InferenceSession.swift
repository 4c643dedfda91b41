import Foundation
import TailorTape
import TailorTensor

/// Incremental inference for one sequence: a ``LlamaModel`` plus a ``KVCache``.
///
/// ``prefill(_:)`` runs a prompt through the model at once and ``next(_:)`` one more token; each
/// call runs only the new tokens through the blocks and attends over the cached keys and values,
/// so decoding n tokens costs O(n) block passes instead of recomputing the prefix every step.
/// The math is the training forward's (``LlamaModel/logits(_:)``): the same linear op with
/// biases and LoRA adapters (no dropout), RoPE tables, RMSNorm, SwiGLU and attention arithmetic;
/// Mistral's sliding window lets a query at position q see keys k with `q − W < k ≤ q`.
///
/// ```swift
/// let session = InferenceSession(model: model)
/// var logits = try session.prefill([1, 15043, 29892])  // [vocab]
/// var sampler = Sampler(SamplingParameters(temperature: 0.7, topP: 0.9), seed: 1)
/// logits = try session.next(sampler.sample(logits))
/// ```
///
/// Adapters are read at each call, so adding or removing one between calls changes later
/// tokens only; call ``reset()`` to start over. A session is not thread-safe, and sessions of
/// one model must not run concurrently (the model's RoPE table grows lazily, as in training).
public final class InferenceSession {
    /// The model (its weights and adapters are shared, not copied).
    public let model: LlamaModel
    /// The keys and values of ``tokens``.
    public let cache: KVCache
    /// The longest sequence this session accepts: `min(maxLength, maxPositionEmbeddings)`.
    public let maxLength: Int
    /// The tokens whose keys and values are cached, position by position.
    public private(set) var tokens: [Int] = []

    /// A session with an empty cache.
    ///
    /// - Parameters:
    ///   - model: the model to run.
    ///   - maxLength: an upper bound on the sequence length below the model's
    ///     `maxPositionEmbeddings` (nil: the model's limit).
    ///   - capacity: positions to allocate up front (the cache grows on demand up to `maxLength`).
    public init(model: LlamaModel, maxLength: Int? = nil, capacity: Int = 256) {
        let c = model.configuration
        self.model = model
        self.maxLength = min(maxLength ?? c.maxPositionEmbeddings, c.maxPositionEmbeddings)
        cache = KVCache(layerCount: c.layerCount, width: c.kvHeadCount * c.headDim,
                        capacity: min(capacity, max(1, self.maxLength)))
    }

    /// The number of cached positions; the next token goes to this position.
    public var count: Int { cache.count }

    /// Positions still free before ``maxLength``.
    public var remaining: Int { maxLength - count }

    /// Forgets every cached token.
    public func reset() {
        cache.removeAll()
        tokens = []
    }

    /// Rewinds to the first `length` tokens (e.g. a shared system prompt), keeping their cache.
    public func truncate(to length: Int) {
        cache.truncate(to: length)
        tokens.removeLast(tokens.count - length)
    }

    /// Appends `tokens` and returns the logits `[vocab]` of the last one.
    ///
    /// - Throws: ``TailorError`` when `tokens` is empty, holds an id outside the vocabulary, or
    ///   would exceed ``maxLength``.
    public func prefill(_ tokens: [Int]) throws -> Tensor {
        try forward(tokens, allPositions: false)
    }

    /// Appends `tokens` and returns the logits `[tokens.count, vocab]` of every one of them.
    ///
    /// - Throws: like ``prefill(_:)``.
    public func prefillLogits(_ tokens: [Int]) throws -> Tensor {
        try forward(tokens, allPositions: true)
    }

    /// Appends one token and returns its logits `[vocab]` (the next token's distribution).
    ///
    /// - Throws: like ``prefill(_:)``.
    public func next(_ token: Int) throws -> Tensor {
        try forward([token], allPositions: false)
    }

    /// Runs `ids` at positions `count..<count+n` through the model, filling the cache.
    private func forward(_ ids: [Int], allPositions: Bool) throws -> Tensor {
        let c = model.configuration
        let n = ids.count, start = cache.count
        guard n > 0 else { throw TailorError("generation: no tokens to run") }
        if let bad = ids.first(where: { !(0..<c.vocabularySize).contains($0) }) {
            throw TailorError("generation: token id \(bad) is outside the vocabulary 0..<\(c.vocabularySize)")
        }
        guard start + n <= maxLength else {
            throw TailorError("generation: \(start) cached + \(n) new tokens exceed the context length \(maxLength)")
        }
        cache.reserve(start + n)
        let tape = Tape(recording: false)
        let positions = (start..<(start + n)).map { Int32($0) }  // [n]
        var x = tape.embedding(ids.map { Int32($0) }, table: model.embedding)  // [n, hidden]
        for (l, b) in model.blocks.enumerated() {
            func linear(_ input: Variable, _ kind: LinearKind) -> Variable {
                let layer = b[kind]
                return tape.linear(input, weight: layer.weight, bias: layer.bias, lora: layer.lora)
            }
            let n1 = tape.rmsNorm(x, weight: b.inputNorm, eps: c.rmsNormEps)
            let q = model.rotated(tape, linear(n1, .q), norm: b.qNorm, heads: c.headCount, positions: positions)
            let k = model.rotated(tape, linear(n1, .k), norm: b.kNorm, heads: c.kvHeadCount, positions: positions)
            let v = linear(n1, .v)  // [n, kvHeads·D]
            cache.write(layer: l, at: start, keys: k.value, values: v.value, rows: n)
            let attn = Tensor(uninitialized: [n, c.headCount * c.headDim])  // [n, heads·D]
            CachedAttention.forward(q: q.value.pointer, keys: cache.keys[l].pointer, values: cache.values[l].pointer,
                                    out: attn.pointer, start: start, n: n, heads: c.headCount,
                                    kvHeads: c.kvHeadCount, headDim: c.headDim, window: c.slidingWindow)
            let h = tape.add(x, linear(tape.constant(attn), .o))
            let n2 = tape.rmsNorm(h, weight: b.postAttentionNorm, eps: c.rmsNormEps)
            x = tape.add(h, linear(tape.swiglu(linear(n2, .gate), linear(n2, .up)), .down))
        }
        cache.count = start + n
        tokens += ids
        let rows = allPositions ? x : tape.constant(Self.lastRow(x.value))  // [rows, hidden]
        let logits = tape.logits(tape.rmsNorm(rows, weight: model.finalNorm, eps: c.rmsNormEps), weight: model.outputHead)
        return allPositions ? logits : logits.reshaped([c.vocabularySize])
    }

    /// The last row `[1, dim]` of x `[rows, dim]`.
    private static func lastRow(_ x: Tensor) -> Tensor {
        let dim = x.shape[1]
        let out = Tensor(uninitialized: [1, dim])
        out.pointer.update(from: x.pointer + (x.shape[0] - 1) * dim, count: dim)
        return out
    }
}
