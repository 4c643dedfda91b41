import Foundation
import Tailor

/// Shows training progress: a line that redraws in place on a terminal and plain lines
/// otherwise; with --json, metrics lines go to stdout and everything else to stderr.
final class ProgressPrinter {
    let json: Bool
    let totalSteps: Int
    let redraw: Bool
    private var lastLength = 0

    init(json: Bool, totalSteps: Int) {
        self.json = json
        self.totalSteps = totalSteps
        redraw = isatty(json ? STDERR_FILENO : STDOUT_FILENO) != 0
    }

    private func human(_ text: String) {
        let handle = json ? FileHandle.standardError : FileHandle.standardOutput
        handle.write(Data(text.utf8))
    }

    /// A machine-readable line on stdout, flushed at once.
    private func emit(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    func note(_ text: String) {
        clearLine()
        human(text + "\n")
    }

    func handle(_ event: TrainingEvent) {
        switch event {
        case .step(let m):
            if json { emit(MetricsLog.line(m)) }
            let eta = m.step > 0 ? m.elapsed / Double(m.step) * Double(m.totalSteps - m.step) : 0
            let line = String(format: "step %d/%d  loss %.4f  lr %.2e  %.0f tok/s  RSS %.2f GiB  ETA %@",
                              m.step, m.totalSteps, m.loss, m.learningRate, m.tokensPerSecond,
                              Double(m.peakRSSBytes) / Double(1 << 30), duration(eta))
            if redraw {
                human("\r" + line.padding(toLength: max(line.count, lastLength), withPad: " ", startingAt: 0))
                lastLength = line.count
            } else {
                human(line + "\n")
            }
        case .evaluation(let e):
            if json { emit(MetricsLog.line(e)) }
            note(String(format: "eval at step %d: valid loss %.4f  perplexity %.2f  (%d tokens)%@",
                        e.step, e.loss, e.perplexity, e.tokens, e.isBest ? "  best so far" : ""))
        case .checkpoint(let url):
            note("checkpoint saved: \(url.path)")
        case .message(let text):
            note(text)
        }
    }

    func finish(_ s: TrainingSummary, configuration c: TrainingConfiguration) {
        clearLine()
        let out = s.output.path
        if s.interrupted {
            human("interrupted at step \(s.steps): checkpoint saved; continue with\n  tailor train --resume \(out)\n")
            return
        }
        var text = "done: \(s.steps) steps"
        if let l = s.finalLoss { text += String(format: ", final train loss %.4f", l) }
        if let v = s.bestValidLoss { text += String(format: ", best valid loss %.4f", v) }
        if s.stoppedEarly { text += " (stopped early)" }
        if s.skippedNonFinite > 0 { text += ", \(s.skippedNonFinite) steps skipped (non-finite loss or gradient)" }
        text += "\n"
        text += c.full ? "model:    \(out)/model.safetensors\n" : "adapter:  \(out)/adapter_model.safetensors (+ adapter_config.json, PEFT format)\n"
        if let best = s.bestCheckpoint { text += "best:     \(best.path)\n" }
        text += "metrics:  \(out)/metrics.jsonl\nplot:     \(out)/loss.svg\n\nnext:\n"
        let chat = "--chat \"Hello!\""
        if c.full {
            text += "  tailor generate --model \(out) \(chat)\n"
        } else {
            // The base as it was trained on (QLoRA's quantization, bf16 compute, storage, template variables).
            let base = (c.quantize.map { " --quantize \($0)" } ?? "") + (c.compute == "f32" ? "" : " --compute \(c.compute)")
                + (c.frozenStorage == .stored ? "" : " --base-dtype \(c.frozenStorage.rawValue)")
                + (c.templateKwargs.map { " --template-kwargs '\($0.replacingOccurrences(of: "'", with: "'\\''"))'" } ?? "")
            text += "  tailor generate --model \(c.model)\(base) --adapter \(out) \(chat) --compare\n"
            text += "  tailor eval --model \(c.model)\(base) --adapter \(out) --data \(c.validData ?? c.data)\n"
        }
        human(text)
    }

    private func clearLine() {
        if redraw && lastLength > 0 { human("\r" + String(repeating: " ", count: lastLength) + "\r"); lastLength = 0 }
    }

    private func duration(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600 ? "\(t / 3600)h\(t % 3600 / 60)m" : t >= 60 ? "\(t / 60)m\(t % 60)s" : "\(t)s"
    }
}
