import Testing
import TailorOptim
import TailorTape
import TailorTensor
import TailorTestSupport

/// Two micro-batches of different lengths, each normalised by the step's total token count,
/// give the gradient of one combined batch (a toy model: linear layer → fused output cross-entropy).
@Suite struct GradientAccumulationTests {
    static let inDim = 5, hidden = 4, vocab = 7

    func makeParameters() -> (Parameter, Parameter) {
        var rng = TestRandom(seed: 5)
        return (Parameter("w", rng.tensor([Self.hidden, Self.inDim]), requiresGrad: true),
                Parameter("lm_head", rng.tensor([Self.vocab, Self.hidden]), requiresGrad: true))
    }

    /// Runs forward + backward of one (micro-)batch; returns the loss output.
    @discardableResult
    func backward(_ x: Tensor, _ labels: [Int32], _ w: Parameter, _ head: Parameter, normalizer: Float?) -> LossOutput {
        let tape = Tape()
        let h = tape.linear(tape.constant(x), weight: w)
        let out = tape.crossEntropy(h, weight: head, labels: labels, normalizer: normalizer)
        tape.backward(out.loss)
        return out
    }

    @Test func twoMicroBatches_equalOneCombinedBatch() {
        var rng = TestRandom(seed: 9)
        let x1 = rng.tensor([6, Self.inDim]), x2 = rng.tensor([3, Self.inDim])
        let l1: [Int32] = [-100, 1, 4, -100, 6, 0]   // 4 trained tokens
        let l2: [Int32] = [2, 2, 5]                  // 3 trained tokens

        // Accumulated: each micro-batch's loss sum divided by N = 7.
        let (w, head) = makeParameters()
        var acc = GradientAccumulator(labels: [l1, l2])
        #expect(acc.totalTokens == 7 && acc.normalizer == 7)
        acc.record(backward(x1, l1, w, head, normalizer: acc.normalizer))
        acc.record(backward(x2, l2, w, head, normalizer: acc.normalizer))

        // Combined: the union of the rows, mean over its 7 trained tokens.
        let (wc, headc) = makeParameters()
        let x = Tensor(shape: [9, Self.inDim], values: x1.array + x2.array)
        let combined = backward(x, l1 + l2, wc, headc, normalizer: nil)

        expectClose(w.grad!, wc.grad!, atol: 1e-6, "d w")
        expectClose(head.grad!, headc.grad!, atol: 1e-6, "d lm_head")
        #expect(abs(acc.meanLoss - Double(combined.loss.value[0])) < 1e-6)
        #expect(acc.recordedTokens == 7)

        // Per-micro-batch means averaged over k (the rule this type replaces) weight tokens unequally.
        let (wn, headn) = makeParameters()
        backward(x1, l1, wn, headn, normalizer: 4 * 2)
        backward(x2, l2, wn, headn, normalizer: 3 * 2)
        #expect(maxAbsDifference(wn.grad!.array, wc.grad!.array).value > 1e-3)
    }

    @Test func noTrainedTokens_givesNormalizerOne() {
        let acc = GradientAccumulator(labels: [[-100, -100], []])
        #expect(acc.totalTokens == 0 && acc.normalizer == 1 && acc.meanLoss == 0)
        #expect(GradientAccumulator.trainedTokens(in: [1, -100, 3]) == 2)
    }
}
