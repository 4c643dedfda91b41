import TailorTensor

/// A batch of token rows for the model: `rows × length` tokens, each with a position, an
/// optional segment id (packed rows) and a next-token target.
public struct Batch: Sendable {
    public let rows: Int
    public let length: Int
    /// `[rows·length]` token ids.
    public let tokens: [Int32]
    /// `[rows·length]` RoPE positions (restarting at 0 in each segment).
    public let positions: [Int32]
    /// `[rows·length]` segment ids, or nil for one sequence per row.
    public let segments: [Int32]?
    /// `[rows·length]` the token each position predicts, −100 where nothing is trained.
    public let targets: [Int32]

    /// A batch from already aligned arrays.
    public init(rows: Int, length: Int, tokens: [Int32], positions: [Int32], segments: [Int32]?, targets: [Int32]) {
        precondition(tokens.count == rows * length && positions.count == tokens.count && targets.count == tokens.count
                     && (segments?.count ?? tokens.count) == tokens.count, "Batch: arrays do not match \(rows)×\(length)")
        self.rows = rows; self.length = length; self.tokens = tokens
        self.positions = positions; self.segments = segments; self.targets = targets
    }

    /// Rows of ids with Hugging Face-style labels (same length as the ids, −100 = not trained),
    /// shifted here so position t predicts label t+1. Shorter rows are right-padded with
    /// `padding` and never trained. Without labels every next token is a target.
    public init(sequences: [[Int]], labels: [[Int]]? = nil, padding: Int = 0) {
        let length = sequences.map(\.count).max() ?? 0
        var tokens: [Int32] = [], positions: [Int32] = [], targets: [Int32] = []
        for (r, seq) in sequences.enumerated() {
            let lab = labels?[r] ?? seq
            precondition(lab.count == seq.count, "Batch: row \(r) has \(seq.count) ids and \(lab.count) labels")
            for t in 0..<length {
                tokens.append(Int32(t < seq.count ? seq[t] : padding))
                positions.append(Int32(t))
                targets.append(t + 1 < seq.count ? Int32(lab[t + 1]) : CrossEntropy.ignoreIndex)
            }
        }
        self.init(rows: sequences.count, length: length, tokens: tokens, positions: positions, segments: nil, targets: targets)
    }

    /// One packed row per element of `rows`: each row is a list of segments, attended
    /// separately with positions restarting at 0; no target crosses a segment boundary.
    public init(packed rows: [[[Int]]], labels: [[[Int]]]? = nil, length: Int? = nil, padding: Int = 0) {
        let len = length ?? rows.map { $0.reduce(0) { $0 + $1.count } }.max() ?? 0
        var tokens: [Int32] = [], positions: [Int32] = [], segments: [Int32] = [], targets: [Int32] = []
        for (r, row) in rows.enumerated() {
            var n = 0
            for (s, seg) in row.enumerated() {
                let lab = labels?[r][s] ?? seg
                for (t, id) in seg.enumerated() {
                    tokens.append(Int32(id)); positions.append(Int32(t)); segments.append(Int32(s))
                    targets.append(t + 1 < seg.count ? Int32(lab[t + 1]) : CrossEntropy.ignoreIndex)
                }
                n += seg.count
            }
            precondition(n <= len, "Batch: packed row \(r) holds \(n) tokens, more than \(len)")
            for _ in n..<len {
                tokens.append(Int32(padding)); positions.append(0); segments.append(Int32(row.count))
                targets.append(CrossEntropy.ignoreIndex)
            }
        }
        self.init(rows: rows.count, length: len, tokens: tokens, positions: positions, segments: segments, targets: targets)
    }

    /// The number of trained target positions.
    public var trainedTokens: Int { targets.filter { $0 != CrossEntropy.ignoreIndex }.count }
}
