import Foundation
import TailorTensor

/// What a per-token callback asks the generation loop to do.
public enum GenerationControl: Sendable, Equatable {
    /// Generate the next token.
    case `continue`
    /// Stop now; the token just reported is the last one returned.
    case stop
}

/// Why generation ended.
public enum FinishReason: Sendable, Equatable {
    /// The model produced this stop token (not included in the returned tokens).
    case stopToken(Int)
    /// `maxTokens` tokens were generated.
    case maxTokens
    /// The sequence reached the context length (``InferenceSession/maxLength``): one more token
    /// would sit at a position the model does not support.
    case contextLength
    /// The per-token callback returned ``GenerationControl/stop``.
    case stopped
}

/// The tokens generated and why generation ended.
public struct GenerationResult: Sendable, Equatable {
    /// The new tokens (never the prompt, never the stop token).
    public var tokens: [Int]
    /// Why the loop ended.
    public var finishReason: FinishReason
}

extension InferenceSession {
    /// Appends `prompt` to the cached sequence and generates up to `maxTokens` tokens, reporting
    /// each to `onToken` as soon as it is chosen (for streaming).
    ///
    /// Generation stops at the first token in `stopTokens` (the EOS ids of
    /// ``ModelConfiguration/eosTokenIds`` or a chat template's end-of-turn id: the caller
    /// chooses), after `maxTokens` tokens, when `onToken` returns ``GenerationControl/stop``, or
    /// when the sequence (cached tokens, prompt and generated tokens) reaches ``maxLength``.
    /// The stop token is neither reported nor returned.
    ///
    /// Every returned token except the last is in the cache afterwards (the last one has not
    /// been run through the model yet); ``tokens`` lists exactly what is cached.
    ///
    /// - Parameters:
    ///   - prompt: the tokens to append first; at least one.
    ///   - maxTokens: the most tokens to generate (≥ 0).
    ///   - sampling: greedy or sampled; see ``SamplingParameters`` for the filter order.
    ///   - stopTokens: ids that end generation.
    ///   - seed: the sampler's seed; the same seed, prompt and model give the same tokens.
    ///   - onToken: called with each generated token; return `.stop` to end early.
    /// - Throws: ``TailorError`` for an empty prompt, an id outside the vocabulary, invalid
    ///   sampling settings, a prompt longer than the room left before ``maxLength``, or an
    ///   error thrown by `onToken`.
    @discardableResult
    public func generate(
        prompt: [Int], maxTokens: Int, sampling: SamplingParameters = .greedy, stopTokens: Set<Int> = [],
        seed: UInt64 = 0, onToken: (Int) throws -> GenerationControl
    ) throws -> GenerationResult {
        try sampling.validate()
        guard maxTokens >= 0 else { throw TailorError("generation: maxTokens must be ≥ 0, got \(maxTokens)") }
        guard !prompt.isEmpty else { throw TailorError("generation: the prompt is empty") }
        guard prompt.count <= remaining else {
            throw TailorError("generation: the prompt has \(prompt.count) tokens but only \(remaining) of the context length \(maxLength) are free")
        }
        cache.reserve(min(maxLength, count + prompt.count + maxTokens))
        var logits = try prefill(prompt)  // [vocab]
        var sampler = Sampler(sampling, seed: seed)
        var generated: [Int] = []
        var reason = FinishReason.maxTokens
        while generated.count < maxTokens {
            // The token about to be chosen sits at position `count`.
            guard count < maxLength else { reason = .contextLength; break }
            let token = sampler.sample(logits)
            if stopTokens.contains(token) { reason = .stopToken(token); break }
            generated.append(token)
            if try onToken(token) == .stop { reason = .stopped; break }
            if generated.count == maxTokens { break }
            // Feeding `token` only pays off if a token after it still fits.
            if count + 1 >= maxLength { reason = .contextLength; break }
            logits = try next(token)
        }
        return GenerationResult(tokens: generated, finishReason: reason)
    }

    /// Appends `prompt` and returns up to `maxTokens` generated tokens (stop token excluded).
    ///
    /// The same as ``generate(prompt:maxTokens:sampling:stopTokens:seed:onToken:)`` without a
    /// callback; see there for when generation stops and what it throws.
    public func generate(
        prompt: [Int], maxTokens: Int, sampling: SamplingParameters = .greedy, stopTokens: Set<Int> = [],
        seed: UInt64 = 0
    ) throws -> [Int] {
        try generate(prompt: prompt, maxTokens: maxTokens, sampling: sampling, stopTokens: stopTokens, seed: seed) { _ in
            .continue
        }.tokens
    }
}

extension LlamaModel {
    /// Generates up to `maxTokens` tokens after `prompt` in a fresh ``InferenceSession``.
    ///
    /// ```swift
    /// let reply = try model.generate(prompt: ids, maxTokens: 64,
    ///                                sampling: SamplingParameters(temperature: 0.7, topP: 0.9),
    ///                                stopTokens: Set(model.configuration.eosTokenIds), seed: 42)
    /// ```
    ///
    /// - Parameters:
    ///   - prompt: at least one token, at most `maxPositionEmbeddings`.
    ///   - maxTokens: the most tokens to generate.
    ///   - sampling: greedy or sampled; see ``SamplingParameters``.
    ///   - stopTokens: ids that end generation (excluded from the result).
    ///   - seed: the sampler's seed.
    /// - Returns: the generated tokens, without the prompt or the stop token.
    /// - Throws: see ``InferenceSession/generate(prompt:maxTokens:sampling:stopTokens:seed:onToken:)``.
    public func generate(
        prompt: [Int], maxTokens: Int, sampling: SamplingParameters = .greedy, stopTokens: Set<Int> = [],
        seed: UInt64 = 0
    ) throws -> [Int] {
        try generate(prompt: prompt, maxTokens: maxTokens, sampling: sampling, stopTokens: stopTokens, seed: seed) { _ in
            .continue
        }.tokens
    }

    /// Generates in a fresh ``InferenceSession``, reporting each token to `onToken` (streaming).
    ///
    /// - Returns: the generated tokens and why generation ended.
    /// - Throws: see ``InferenceSession/generate(prompt:maxTokens:sampling:stopTokens:seed:onToken:)``.
    @discardableResult
    public func generate(
        prompt: [Int], maxTokens: Int, sampling: SamplingParameters = .greedy, stopTokens: Set<Int> = [],
        seed: UInt64 = 0, onToken: (Int) throws -> GenerationControl
    ) throws -> GenerationResult {
        let capacity = min(configuration.maxPositionEmbeddings, prompt.count + max(0, maxTokens))
        let session = InferenceSession(model: self, capacity: max(1, capacity))
        return try session.generate(prompt: prompt, maxTokens: maxTokens, sampling: sampling,
                                    stopTokens: stopTokens, seed: seed, onToken: onToken)
    }
}
