/// One training example as the model sees it: token ids and, per token, whether the model is
/// trained to predict it (the loss mask). `mask[i]` refers to predicting `ids[i]` from `ids[..<i]`,
/// as Hugging Face labels do (`labels[i] = mask[i] ? ids[i] : -100`).
public struct TokenizedExample: Sendable, Equatable, Codable {
    public var ids: [Int]
    public var mask: [Bool]
    /// Where it came from, for messages: `file:line`.
    public var source: String

    public init(ids: [Int], mask: [Bool], source: String = "") {
        precondition(ids.count == mask.count, "TokenizedExample: \(ids.count) ids but \(mask.count) mask entries")
        self.ids = ids; self.mask = mask; self.source = source
    }

    /// Hugging Face-style labels: the id where trained, −100 elsewhere.
    public var labels: [Int] { zip(ids, mask).map { $1 ? $0 : -100 } }

    /// The number of trained positions once shifted (the first token is never predicted).
    public var trainedTokens: Int { mask.dropFirst().filter { $0 }.count }

    /// Keeps the first `maxLength` tokens; returns whether anything was cut.
    public mutating func truncate(to maxLength: Int) -> Bool {
        guard ids.count > maxLength else { return false }
        ids.removeLast(ids.count - maxLength)
        mask.removeLast(mask.count - maxLength)
        return true
    }
}
