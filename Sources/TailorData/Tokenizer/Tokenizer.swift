import Foundation

/// A tokenizer read from a Hugging Face `tokenizer.json`, producing the same ids and decoded text as the
/// `tokenizers` library (0.23) for BPE models (byte-level as in GPT-2, Llama 3, Qwen2, SmolLM, and
/// SentencePiece-style as in Llama 2 and Mistral).
///
/// Encoding runs the `tokenizers` pipeline: added tokens are split out of the raw text first (leftmost-longest),
/// then each remaining segment is normalized, pre-tokenized and merged by the BPE model, and the post-processor
/// adds BOS/EOS when `addSpecialTokens` is true.
///
/// ```swift
/// let tokenizer = try Tokenizer(contentsOf: modelFolder.appendingPathComponent("tokenizer.json"))
/// let ids = tokenizer.encode("Hello world")          // [128000, 9906, 1917] for Llama 3
/// let text = tokenizer.decode(ids, skipSpecialTokens: true)
/// ```
///
/// `truncation` and `padding` in the file are ignored; Tailor sizes batches itself.
public struct Tokenizer: Sendable {
    let model: BPEModel
    let normalizer: Normalizer?
    let preTokenizer: PreTokenizer?
    let postProcessor: PostProcessor?
    let decoder: Decoder?
    let addedTokens: [AddedToken]
    let rawMatcher: AddedTokenMatcher
    let normalizedMatcher: AddedTokenMatcher
    let addedByID: [Int: Int]
    let addedByContent: [[UInt8]: Int]
    /// What `token(for:)` returns for each added token: its content, normalized if the token is `normalized`
    /// (tokenizers 0.23 does the same, so decoding a normalized token yields its normalized form).
    let addedDecodedContents: [String]
    let specialContents: Set<[UInt8]>
    let affixes: (prefix: [Int], suffix: [Int])
    let byteLevel: Bool

    /// Reads and parses a `tokenizer.json` file.
    /// - Parameter url: The file's location.
    /// - Throws: ``TokenizerError`` naming the file and the part that is unreadable, malformed or unsupported.
    public init(contentsOf url: URL) throws {
        try self.init(data: try TokenizerError.contents(of: url), source: url.path)
    }

    /// Parses the contents of a `tokenizer.json` file.
    /// - Parameters:
    ///   - data: The file's bytes.
    ///   - source: A name for the file used in error messages, usually its path.
    /// - Throws: ``TokenizerError`` naming `source` and the part that is malformed or unsupported.
    public init(data: Data, source: String = "tokenizer.json") throws {
        let root = try JSONNode.parse(data, source: source)
        normalizer = try root.object("normalizer").map(Normalizer.init(json:))
        preTokenizer = try root.object("pre_tokenizer").map(PreTokenizer.init(json:))
        postProcessor = try root.object("post_processor").map(PostProcessor.init(json:))
        decoder = try root.object("decoder").map(Decoder.init(json:))
        byteLevel = preTokenizer?.usesByteLevel ?? false
        guard let modelJSON = try root.object("model") else {
            throw root.fail(.invalidField, "missing object field $.model")
        }
        model = try BPEModel(json: modelJSON, byteLevel: byteLevel)
        let added = try root.objects("added_tokens").map(AddedToken.init(json:))
        addedTokens = added

        var byID: [Int: Int] = [:]
        var byContent: [[UInt8]: Int] = [:]
        for (i, token) in added.enumerated() {
            byID[token.id] = i
            byContent[Array(token.content.utf8)] = i
        }
        addedByID = byID
        addedByContent = byContent
        specialContents = Set(added.filter(\.special).map { Array($0.content.utf8) })
        // Patterns are searched special tokens first, then the others, as tokenizers orders them.
        let ordered = added.indices.filter { added[$0].special } + added.indices.filter { !added[$0].special }
        rawMatcher = AddedTokenMatcher(ordered.filter { !added[$0].normalized }.map { (added[$0].content, $0) })
        let normalizer = self.normalizer
        let decodedContents = added.map { token -> String in
            guard token.normalized, let normalizer else { return token.content }
            var text = NormalizedText(string: token.content)
            normalizer.normalize(&text)
            return text.string
        }
        addedDecodedContents = decodedContents
        // Normalized tokens are matched by their normalized form.
        normalizedMatcher = AddedTokenMatcher(ordered.filter { added[$0].normalized }.map { (decodedContents[$0], $0) })
        affixes = postProcessor?.singleAffixes ?? ([], [])
    }

    // MARK: Encoding

    /// Token ids of `text`.
    /// - Parameters:
    ///   - text: The text to encode. Added-token strings inside it (e.g. `<|eot_id|>`) become their ids.
    ///   - addSpecialTokens: Whether the post-processor adds its tokens (BOS for Llama, none for Qwen2).
    /// - Returns: The ids, as `tokenizers`' `Tokenizer.encode(text, add_special_tokens).ids`.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
        var out: [Int] = []
        encode(text, addSpecialTokens: addSpecialTokens) { id, _ in out.append(id) }
        return out
    }

    /// Token ids of `text` with the UTF-8 byte range of `text` each token came from.
    ///
    /// Tokens added by the post-processor get an empty range at 0 (BOS) or at the end (EOS). A token that covers
    /// part of a character (byte-level BPE, byte fallback) gets exactly its bytes; a token from rewritten text
    /// (NFC, `▁`) gets the span of the characters it was rewritten from; an added token with `lstrip`/`rstrip`
    /// includes the whitespace it absorbed.
    /// - Parameters:
    ///   - text: The text to encode.
    ///   - addSpecialTokens: Whether the post-processor adds its tokens.
    /// - Returns: `(id, range)` pairs; ranges are non-decreasing and within `0..<text.utf8.count`.
    public func encodeWithOffsets(_ text: String, addSpecialTokens: Bool = true) -> [(id: Int, range: Range<Int>)] {
        var out: [(id: Int, range: Range<Int>)] = []
        encode(text, addSpecialTokens: addSpecialTokens) { id, range in out.append((id, range)) }
        return out
    }

    private func encode(_ text: String, addSpecialTokens: Bool, emit: (Int, Range<Int>) -> Void) {
        var utf8 = Array(text.utf8)
        let total = utf8.count
        if addSpecialTokens { for id in affixes.prefix { emit(id, 0..<0) } }
        utf8.withUnsafeMutableBufferPointer { mutable in
            let b = UnsafeBufferPointer(mutable)
            let splits = rawMatcher.isEmpty
                ? [AddedTokenMatcher.Split(range: 0..<total, token: nil)]
                : rawMatcher.split(b, 0..<total, tokens: addedTokens)
            for split in splits {
                if let t = split.token {
                    emit(addedTokens[t].id, split.range)
                } else if !split.range.isEmpty {
                    encodeSegment(b, split.range, emit: emit)
                }
            }
        }
        if addSpecialTokens { for id in affixes.suffix { emit(id, total..<total) } }
    }

    /// Normalizes one segment between raw-matched added tokens, extracts normalized added tokens, and
    /// pre-tokenizes and merges the rest.
    private func encodeSegment(_ original: UnsafeBufferPointer<UInt8>, _ range: Range<Int>,
                               emit: (Int, Range<Int>) -> Void) {
        var text = NormalizedText(original: original, range: range)
        normalizer?.normalize(&text)
        guard !text.isEmpty else { return }
        let splits: [AddedTokenMatcher.Split] = normalizedMatcher.isEmpty
            ? [AddedTokenMatcher.Split(range: 0..<text.count, token: nil)]
            : text.bytes.withUnsafeBufferPointer { normalizedMatcher.split($0, 0..<text.count, tokens: addedTokens) }
        for split in splits {
            if let t = split.token {
                emit(addedTokens[t].id, text.originalSpan(split.range))
                continue
            }
            guard !split.range.isEmpty else { continue }
            var pieceText: NormalizedText
            var pieces: [Range<Int>]
            if splits.count == 1 {
                pieceText = text
                pieces = [split.range]
            } else {
                pieceText = NormalizedText()
                pieceText.append(from: text, split.range)
                pieces = [0..<pieceText.count]
            }
            preTokenizer?.apply(&pieceText, &pieces)
            for piece in pieces where !piece.isEmpty {
                var position = piece.lowerBound
                for token in model.tokenize(pieceText.bytes[piece]) {
                    let next = position + Int(token.length)
                    emit(Int(token.id), pieceText.originalSpan(position..<next))
                    position = next
                }
            }
        }
    }

    // MARK: Decoding

    /// The text of `ids`, as `tokenizers`' `Tokenizer.decode(ids, skip_special_tokens)`.
    ///
    /// Unknown ids are skipped. Invalid UTF-8 (for example half of a character's bytes) becomes U+FFFD.
    /// - Parameters:
    ///   - ids: Token ids.
    ///   - skipSpecialTokens: Whether to leave out added tokens marked `special` (BOS, EOS, `<|eot_id|>`).
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        var tokens: [String] = []
        tokens.reserveCapacity(ids.count)
        for id in ids {
            guard let t = token(for: id) else { continue }
            if skipSpecialTokens && specialContents.contains(Array(t.utf8)) { continue }
            tokens.append(t)
        }
        guard let decoder else { return tokens.joined(separator: " ") }
        return decoder.decodeChain(tokens).joined()
    }

    /// A decoder for generation that takes ids one at a time and returns text only when it is complete UTF-8.
    /// - Parameter skipSpecialTokens: Whether to leave out special tokens.
    public func makeStreamingDecoder(skipSpecialTokens: Bool = false) -> StreamingDecoder {
        StreamingDecoder(tokenizer: self, skipSpecialTokens: skipSpecialTokens)
    }

    // MARK: Vocabulary

    /// The id of a token string (added tokens first, then the model vocabulary), or nil.
    /// - Parameter token: The token as written in `tokenizer.json` (byte-level tokens use the `Ġ` spelling).
    public func id(for token: String) -> Int? {
        let bytes = Array(token.utf8)
        if let i = addedByContent[bytes] { return addedTokens[i].id }
        return model.vocab[bytes]
    }

    /// The token string of an id (added tokens first, then the model vocabulary), or nil.
    /// - Parameter id: A token id.
    public func token(for id: Int) -> String? {
        if let i = addedByID[id] { return addedDecodedContents[i] }
        guard id >= 0 && id < model.idToToken.count else { return nil }
        return model.idToToken[id]
    }

    /// The model vocabulary by id, without added tokens (nil for ids it skips). Exact strings: use these,
    /// not a `[String: Int]`, which would merge canonically equivalent tokens (`Å` U+00C5 and U+212B).
    public var modelTokens: [String?] { model.idToToken }

    /// One more than the largest id of the model vocabulary and the added tokens.
    ///
    /// The embedding of a model may have more rows than this (Qwen2 pads to 151936).
    public var vocabularySize: Int {
        let modelMax = model.idToToken.count - 1
        let addedMax = addedTokens.map(\.id).max() ?? -1
        return max(modelMax, addedMax) + 1
    }

    /// The added tokens marked `special`, content → id (BOS/EOS, chat markers such as `<|im_end|>`).
    public var specialTokens: [String: Int] {
        Dictionary(addedTokens.filter(\.special).map { ($0.content, $0.id) }, uniquingKeysWith: { a, _ in a })
    }

    /// Whether `id` is an added token marked `special` (what `skipSpecialTokens` leaves out).
    /// - Parameter id: A token id.
    public func isSpecial(_ id: Int) -> Bool {
        guard let i = addedByID[id] else { return false }
        return addedTokens[i].special
    }

    /// Whether `encode(_:addSpecialTokens:)` with `addSpecialTokens: true` puts a token before the text.
    public var addsBOS: Bool { !affixes.prefix.isEmpty }

    /// Whether `encode(_:addSpecialTokens:)` with `addSpecialTokens: true` puts a token after the text.
    public var addsEOS: Bool { !affixes.suffix.isEmpty }

    /// The first id the post-processor puts before the text, or nil.
    public var bosTokenID: Int? { affixes.prefix.first }

    /// The last id the post-processor puts after the text, or nil.
    public var eosTokenID: Int? { affixes.suffix.last }
}
