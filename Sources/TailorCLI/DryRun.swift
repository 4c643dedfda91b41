import Foundation
import Tailor

/// `tailor train --dry-run`: the resolved configuration, dataset statistics and estimates.
enum DryRun {
    static func print(_ c: TrainingConfiguration, data: TrainingData, bundle: ModelBundle) {
        Swift.print("configuration:")
        for (k, v) in c.describedFields { Swift.print("  \(k.padding(toLength: 14, withPad: " ", startingAt: 0)) \(v)") }
        Swift.print(data.summary)
        for s in data.skipped.prefix(10) { Swift.print("  skipped \(s)") }
        let m = bundle.model.configuration
        let estimate = ResourceEstimate(model: m, configuration: c, longest: data.train.map(\.ids.count).max() ?? 0,
                                        weightBytes: bundle.model.weightBytes)
        let rate = estimate.bf16GFLOPs.map { String(format: "measured bf16 product on AMX %.0f GFLOP/s, sgemm %.0f", $0, estimate.sgemmGFLOPs) }
            ?? String(format: "measured sgemm %.0f GFLOP/s", estimate.sgemmGFLOPs)
        Swift.print(String(format: "estimate: peak RAM ≈ %.2f GiB, ≈ %.2f s per step (%@; Tailor's kernels: %@)",
                           estimate.peakBytes / Double(1 << 30), estimate.secondsPerStep, rate, FastMath.kernelSet))
    }
}
