import Foundation
import Tailor

/// `tailor train` with no arguments: the tiny model and task dataset shipped in `Datasets/`
/// (see Datasets/README.md), with a recipe that finishes in about two minutes on two cores.
enum EmbeddedDefault {
    /// The repository root, found from this source file (the default ships with the sources).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func apply(to c: inout TrainingConfiguration) throws {
        let model = root.appendingPathComponent("Datasets/default-model")
        let data = root.appendingPathComponent("Datasets/default-task")
        guard FileManager.default.fileExists(atPath: model.appendingPathComponent("config.json").path) else {
            throw TailorError("\(model.path): the embedded default model is missing (it ships in the repository's Datasets/); pass --model and --data")
        }
        c.model = model.path
        c.data = data.path
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        c.output = "tailor-runs/default-\(stamp)"
        for (key, value) in recipe { try c.set(key, value, source: "embedded default") }
    }

    /// The tuned recipe for the embedded default.
    static let recipe: [(String, String)] = [
        ("rank", "8"), ("alpha", "16"), ("dropout", "0.05"), ("targets", "all-linear"),
        ("optimizer", "adamw"), ("lr", "2e-3"), ("schedule", "cosine"), ("warmup", "0"), ("clip", "1.0"),
        ("batch-size", "8"), ("steps", "300"), ("max-seq", "128"), ("checkpointing", "blocks"),
        ("eval-every", "50"), ("save-every", "100"), ("seed", "0"),
    ]

    /// The first validation question of the default task, for the before/after sample.
    static func sampleQuestion() -> String? {
        let url = root.appendingPathComponent("Datasets/default-task/valid.jsonl")
        guard let text = try? String(contentsOf: url, encoding: .utf8), let line = text.split(separator: "\n").first,
              let record = try? JSONValue(parsing: String(line)) else { return nil }
        return record["messages"]?[0]?["content"]?.stringValue
    }
}
