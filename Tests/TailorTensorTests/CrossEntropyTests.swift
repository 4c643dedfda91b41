import Testing
import TailorTensor
import TailorTestSupport

@Suite struct CrossEntropyTests {
    /// The vocabulary-chunked online softmax against the row-chunked two-pass reference, with
    /// chunk sizes small enough that rows span several row blocks and vocabulary slices, a last
    /// slice narrower than the others, logits spread wide enough that the running max moves, and
    /// ignored rows.
    @Test(arguments: [(3, 4), (5, 7), (64, 64)])
    func vocabChunkedMatchesRowChunked(rowBlock: Int, vocabChunk: Int) {
        var rng = TestRandom(seed: 31)
        let rows = 9, dim = 6, vocab = 23
        let hidden = rng.tensor([rows, dim], -3, 3), weight = rng.tensor([vocab, dim], -2, 2)
        let labels: [Int32] = [0, 22, -100, 5, 11, -100, 17, 3, 22]
        let reference = labels.withUnsafeBufferPointer {
            CrossEntropy.rowChunked(hidden: hidden.pointer, weight: weight.pointer, labels: $0, rows: rows, dim: dim, vocab: vocab,
                                    normalizer: 7, wantInputGradient: true, weightGradient: nil)
        }
        let online = labels.withUnsafeBufferPointer {
            CrossEntropy.vocabChunked(hidden: hidden.pointer, weight: weight.pointer, labels: $0, rows: rows, dim: dim, vocab: vocab,
                                      normalizer: 7, wantInputGradient: true, rowBlock: rowBlock, vocabChunk: vocabChunk)
        }
        #expect(online.count == 7 && reference.count == 7)
        #expect(abs(online.lossSum - reference.lossSum) <= 1e-4 * abs(reference.lossSum), "loss \(online.lossSum) vs \(reference.lossSum)")
        expectClose(online.inputGradient!, reference.inputGradient!, atol: 1e-6, rtol: 1e-5, "dHidden")
        // Ignored rows get exactly zero gradient.
        for r in [2, 5] { #expect((0..<dim).allSatisfy { online.inputGradient![r * dim + $0] == 0 }) }
    }
}
