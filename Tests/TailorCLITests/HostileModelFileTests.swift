import Foundation
import Testing
import TailorTestSupport

/// Truncated and byte-flipped model files never crash a command: `tailor inspect` and
/// `tailor score` either work or exit with an error naming the file.
@Suite struct HostileModelFileTests {
    /// Runs `tailor` and requires a normal exit (a signal, e.g. a trap or a sanitizer abort, fails)
    /// and, on failure, an error naming the model folder or a file in it.
    func expectNoCrash(_ args: [String], _ label: String, naming folder: URL) throws {
        let p = Process()
        p.executableURL = try tailorExecutable()
        p.arguments = args
        let err = Pipe()
        p.standardError = err; p.standardOutput = FileHandle.nullDevice
        try p.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationReason == .exit, "\(label): \(args[0]) crashed: \(message.suffix(400))")
        if p.terminationStatus != 0 {
            #expect(message.hasPrefix("error: \(folder.path)"), "\(label): \(message)")
        }
    }

    @Test func truncatedAndFlippedSafetensorsNeverCrash() throws {
        let model = try TokenizeCommandTests.modelFolder()
        defer { try? FileManager.default.removeItem(at: model) }
        let weights = model.appendingPathComponent("model.safetensors")
        let original = try Data(contentsOf: weights)
        let headerEnd = 8 + Int(original.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        var rng = SplitMix(seed: 11)
        var variants: [(String, Data)] = []
        for cut in [0, 1, 7, 8, 9, headerEnd / 2, headerEnd - 1, headerEnd, headerEnd + 1, original.count - 1] {
            variants.append(("truncated at \(cut)", original.prefix(cut)))
        }
        for i in 0..<12 {
            var d = original
            // Flip in the length prefix, the JSON header (most), or the data.
            let at = i < 2 ? Int.random(in: 0..<8, using: &rng)
                : i < 10 ? Int.random(in: 8..<headerEnd, using: &rng) : Int.random(in: headerEnd..<d.count, using: &rng)
            d[at] ^= UInt8.random(in: 1...255, using: &rng)
            variants.append(("byte \(at) flipped", d))
        }
        for (label, bytes) in variants {
            try bytes.write(to: weights)
            try expectNoCrash(["inspect", model.path], label, naming: model)
            try expectNoCrash(["score", "--model", model.path, "--ids", "1,5,9"], label, naming: model)
        }
    }
}
