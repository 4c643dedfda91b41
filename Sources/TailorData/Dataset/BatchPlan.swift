/// Where a training run is in its data: the epoch and the next batch within it.
/// Batches are a pure function of (seed, epoch), so the cursor alone restores the order.
public struct DataCursor: Sendable, Equatable, Codable {
    public var epoch: Int
    public var batch: Int
    public init(epoch: Int = 0, batch: Int = 0) { self.epoch = epoch; self.batch = batch }
}

/// How examples become batches.
public struct BatchPlanner: Sendable {
    /// Token count of every example (already truncated).
    public let lengths: [Int]
    /// Rows per batch.
    public let batchSize: Int
    /// With packing, the fixed row length; otherwise unused.
    public let maxLength: Int
    /// Pack several examples into each row (attention kept per example by segment ids).
    public let pack: Bool
    public let seed: UInt64

    /// Examples per "megabatch" when grouping by length, in batches: batches are formed from
    /// length-sorted runs of this many batches, so padding stays small but order stays random.
    public static let groupFactor = 16

    public init(lengths: [Int], batchSize: Int, maxLength: Int, pack: Bool, seed: UInt64) {
        precondition(batchSize > 0, "batch size must be positive")
        precondition(!pack || lengths.allSatisfy { $0 <= maxLength }, "packing needs examples truncated to the row length")
        self.lengths = lengths; self.batchSize = batchSize; self.maxLength = maxLength; self.pack = pack; self.seed = seed
    }

    /// The batches of one epoch: each batch is a list of rows, each row a list of example
    /// indices (one per row without packing). Deterministic in (seed, epoch).
    public func batches(epoch: Int) -> [[[Int]]] {
        var rng = SeededGenerator(seed: seed &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15)
        var order = Array(lengths.indices)
        rng.shuffle(&order)
        if pack {
            // Greedy in shuffled order: fill a row until the next example does not fit.
            var rows: [[Int]] = [], row: [Int] = [], used = 0
            for i in order {
                if used + lengths[i] > maxLength, !row.isEmpty { rows.append(row); row = []; used = 0 }
                row.append(i); used += lengths[i]
            }
            if !row.isEmpty { rows.append(row) }
            return stride(from: 0, to: rows.count, by: batchSize).map { Array(rows[$0..<min(rows.count, $0 + batchSize)]) }
        }
        // Length grouping: sort each megabatch by length (longest first), cut into batches, shuffle batches.
        let mega = batchSize * Self.groupFactor
        var batches: [[[Int]]] = []
        for start in stride(from: 0, to: order.count, by: mega) {
            let group = order[start..<min(order.count, start + mega)].sorted { (lengths[$0], $1) > (lengths[$1], $0) }
            for b in stride(from: 0, to: group.count, by: batchSize) {
                batches.append(group[(group.startIndex + b)..<min(group.endIndex, group.startIndex + b + batchSize)].map { [$0] })
            }
        }
        rng.shuffle(&batches)
        return batches
    }
}
