/// Incremental decoding for generation: feed ids one at a time, get back only text that is complete.
///
/// Mirrors `tokenizers`' `DecodeStream`: it decodes the ids since the last emitted chunk together with the
/// previous chunk's ids as context (so decoders that strip a leading space behave as in a full decode), and holds
/// text back while it ends in U+FFFD (an incomplete UTF-8 sequence split across byte tokens).
///
/// ```swift
/// var stream = tokenizer.makeStreamingDecoder(skipSpecialTokens: true)
/// for id in generatedIDs {
///     if let chunk = stream.append(id) { print(chunk, terminator: "") }
/// }
/// ```
public struct StreamingDecoder: Sendable {
    private let tokenizer: Tokenizer
    private let skipSpecialTokens: Bool
    private var ids: [Int] = []
    private var prefix = ""
    private var prefixIndex = 0

    init(tokenizer: Tokenizer, skipSpecialTokens: Bool) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// Adds the next generated id.
    /// - Parameter id: A token id.
    /// - Returns: The newly completed text, or nil while more ids are needed (or the id adds no text).
    public mutating func append(_ id: Int) -> String? {
        ids.append(id)
        let text = tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens)
        let textBytes = text.utf8
        let prefixBytes = prefix.utf8
        guard textBytes.count > prefixBytes.count, text.unicodeScalars.last != "\u{FFFD}" else { return nil }
        // tokenizers reports an error when the context no longer decodes to the same prefix; here the text after
        // the common prefix (cut back to a character boundary) is emitted instead.
        let bytes = Array(textBytes)
        var common = zip(bytes, prefixBytes).prefix { $0 == $1 }.count
        if common < prefixBytes.count {
            while common > 0 && common < bytes.count && bytes[common] & 0xC0 == 0x80 { common -= 1 }
        }
        let newText = String(decoding: bytes[common...], as: UTF8.self)
        let newPrefixIndex = ids.count - prefixIndex
        ids.removeFirst(prefixIndex)
        prefix = tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens)
        prefixIndex = newPrefixIndex
        return newText
    }
}
