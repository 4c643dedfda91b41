import ArgumentParser
import Foundation
import Tailor

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a model folder's architecture, sizes, dtypes and tokenizer files, or a GGUF file's metadata and tensor types."
    )

    @Argument(help: "A Hugging Face model folder or a .gguf file.") var path: String
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        try reportingErrors {
            if path.lowercased().hasSuffix(".gguf") { return try InspectGGUF.run(path: path, json: json) }
            let summary = try ModelSummary(folder: URL(fileURLWithPath: path))
            if json {
                print(TailorCLI.json(summary.fields))
            } else {
                for (key, value) in summary.fields {
                    let text = (value as? [String: Int]).map { $0.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ") }
                        ?? (value is NSNull ? "-" : "\(value)")
                    print("\(key.padding(toLength: 24, withPad: " ", startingAt: 0)) \(text)")
                }
            }
        }
    }
}
