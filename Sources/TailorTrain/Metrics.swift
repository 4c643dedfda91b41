import Foundation
import TailorTensor

/// Writes `metrics.jsonl` (one JSON object per step and per evaluation) and `loss.svg`.
public final class MetricsLog {
    public let jsonlURL: URL
    public let plotURL: URL
    private var lines: [String] = []
    private var train: [(Int, Double)] = []
    private var valid: [(Int, Double)] = []

    /// Opens the log in `output`; on resume keeps only entries up to `step` from an earlier run.
    public init(output: URL, resumeStep: Int? = nil) {
        jsonlURL = output.appendingPathComponent("metrics.jsonl")
        plotURL = output.appendingPathComponent("loss.svg")
        guard let resumeStep, let text = try? String(contentsOf: jsonlURL, encoding: .utf8) else { return }
        for line in text.split(separator: "\n") {
            guard let obj = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
                  let step = obj["step"] as? Int, step <= resumeStep, let loss = obj["loss"] as? Double else { continue }
            lines.append(String(line))
            if obj["type"] as? String == "eval" { valid.append((step, loss)) } else { train.append((step, loss)) }
        }
    }

    /// The JSON line for a step.
    public static func line(_ m: StepMetrics) -> String {
        json([("type", "train"), ("step", m.step), ("total_steps", m.totalSteps), ("epoch", m.epoch), ("loss", m.loss),
              ("lr", m.learningRate), ("tokens", m.tokens), ("tokens_per_second", m.tokensPerSecond),
              ("grad_norm", m.gradientNorm), ("seconds", m.seconds), ("elapsed", m.elapsed), ("peak_rss_bytes", m.peakRSSBytes)])
    }

    /// The JSON line for an evaluation.
    public static func line(_ m: EvaluationMetrics) -> String {
        json([("type", "eval"), ("step", m.step), ("loss", m.loss), ("perplexity", m.perplexity),
              ("tokens", m.tokens), ("examples", m.examples), ("best", m.isBest)])
    }

    public func record(_ m: StepMetrics) throws {
        lines.append(Self.line(m))
        train.append((m.step, m.loss))
        try flush()
    }

    public func record(_ m: EvaluationMetrics) throws {
        lines.append(Self.line(m))
        valid.append((m.step, m.loss))
        try flush()
        try AtomicFile.write(Data(svg().utf8), to: plotURL)
    }

    private func flush() throws {
        try AtomicFile.write(Data((lines.joined(separator: "\n") + "\n").utf8), to: jsonlURL)
    }

    /// A plain SVG line chart of train loss (per step) and validation loss (per evaluation).
    public func svg(width: Double = 640, height: Double = 360) -> String {
        let all = train.map(\.1) + valid.map(\.1)
        let maxStep = Double(max(1, (train.map(\.0) + valid.map(\.0)).max() ?? 1))
        let lo = all.min() ?? 0, hi = max(all.max() ?? 1, lo + 1e-9)
        let (left, right, top, bottom) = (56.0, 16.0, 20.0, 40.0)
        func x(_ s: Int) -> Double { left + (width - left - right) * Double(s) / maxStep }
        func y(_ v: Double) -> Double { top + (height - top - bottom) * (hi - v) / (hi - lo) }
        func path(_ pts: [(Int, Double)]) -> String { pts.map { String(format: "%.1f,%.1f", x($0.0), y($0.1)) }.joined(separator: " ") }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += String(format: "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#888\"/>\n", left, height - bottom, width - right, height - bottom)
        s += String(format: "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#888\"/>\n", left, top, left, height - bottom)
        for i in 0...4 {
            let v = lo + (hi - lo) * Double(i) / 4
            s += String(format: "<text x=\"4\" y=\"%.1f\">%.3f</text>\n", y(v) + 4, v)
        }
        s += String(format: "<text x=\"%.0f\" y=\"%.0f\">step %d</text>\n", width - right - 70, height - 12, Int(maxStep))
        s += "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"\(path(train))\"/>\n"
        s += "<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" points=\"\(path(valid))\"/>\n"
        for p in valid { s += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#d62728\"/>\n", x(p.0), y(p.1)) }
        s += "<text x=\"\(Int(left) + 8)\" y=\"14\" fill=\"#1f77b4\">train loss</text><text x=\"\(Int(left) + 90)\" y=\"14\" fill=\"#d62728\">valid loss</text>\n"
        return s + "</svg>\n"
    }
}

/// A compact JSON object with keys in the given order (numbers as Swift prints them).
func json(_ pairs: [(String, Any)]) -> String {
    "{" + pairs.map { key, value -> String in
        let v: String
        switch value {
        case let d as Double: v = d.isFinite ? "\(d)" : "null"
        case let i as Int: v = "\(i)"
        case let b as Bool: v = b ? "true" : "false"
        case let s as String: v = "\"\(s)\""
        default: v = "null"
        }
        return "\"\(key)\": \(v)"
    }.joined(separator: ", ") + "}"
}
