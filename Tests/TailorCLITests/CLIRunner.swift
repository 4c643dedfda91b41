import Foundation
import TailorTestSupport

/// Runs the built `tailor` executable (it sits next to the test bundle) and captures its output.
struct CLIResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// The built `tailor` executable.
func tailorExecutable() throws -> URL {
    let candidates = [
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tailor"),
        Bundle.main.bundleURL.appendingPathComponent("tailor"),
        Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("tailor"),
    ]
    guard let exe = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
        throw CLIError(message: "tailor executable not found near \(CommandLine.arguments[0])")
    }
    return exe
}

/// Runs `tailor` with `arguments`; `environment` adds to (or overrides) this process's variables.
func runTailor(_ arguments: [String], environment: [String: String] = [:]) throws -> CLIResult {
    let p = Process()
    p.executableURL = try tailorExecutable()
    p.arguments = arguments
    if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out; p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return CLIResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

struct CLIError: Error { let message: String }
