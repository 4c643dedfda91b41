import ArgumentParser
import Foundation
import Tailor

@main
struct TailorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tailor",
        abstract: "Fine-tune Llama-family models with LoRA on a CPU.",
        subcommands: [
            TrainCommand.self, EvalCommand.self, GenerateCommand.self, ScoreCommand.self,
            TokenizeCommand.self, InspectCommand.self, MergeCommand.self, ExportAdapterCommand.self,
            SyntheticGGUFCommand.self, QuantizeCommand.self,
        ]
    )
}

/// Runs `body`, turning input errors (bad files, settings, data) into one line on stderr and
/// exit code 1. Exit codes from `body` pass through.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try FastMath.checkInstructionSetCap()
        try body()
    } catch let e as ExitCode {
        throw e
    } catch {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        throw ExitCode.failure
    }
}

/// A JSON text for the value (objects keep the given key order).
func json(_ value: Any) -> String {
    switch value {
    case let pairs as [(String, Any)]:
        return "{" + pairs.map { "\(json($0.0)): \(json($0.1))" }.joined(separator: ", ") + "}"
    case let dict as [String: Any]:
        return json(dict.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    case let s as String:
        let data = try! JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])
        return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
    case let b as Bool: return b ? "true" : "false"
    case let i as Int: return String(i)
    case let f as Float: return f.isFinite ? "\(f)" : "null"
    case let d as Double: return d.isFinite ? "\(d)" : "null"
    case let a as [Any]: return "[" + a.map(json).joined(separator: ", ") + "]"
    case is NSNull: return "null"
    default: return "\"\(value)\""
    }
}
