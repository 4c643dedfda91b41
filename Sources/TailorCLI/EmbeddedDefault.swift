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
        ("rank", "8"), ("alpha", "16"), ("lr", "1e-3"), ("steps", "120"), ("batch-size", "8"),
        ("max-seq", "128"), ("eval-every", "20"), ("save-every", "60"), ("warmup", "10"), ("dropout", "0"),
    ]
}
