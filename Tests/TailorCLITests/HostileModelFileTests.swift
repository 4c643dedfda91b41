import Foundation
import TailorData
import TailorModels
import Testing
import TailorTestSupport

/// Truncated and byte-flipped model files (safetensors and GGUF) never crash a command:
/// `tailor inspect` and `tailor score` either work or exit with an error naming the file.
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
        var rng = SeededGenerator(seed: 11)
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

    /// The same for a GGUF model (`tailor synthetic-gguf`: Q8_0 blocks, byte-level tokenizer):
    /// truncations and byte flips (mostly in the header and metadata) through `tailor score`.
    @Test func truncatedAndFlippedGGUFNeverCrash() throws {
        let work = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: work) }
        let gguf = work.appendingPathComponent("model.gguf")
        let made = try runTailor(["synthetic-gguf", "--shape", "tiny", "--type", "q8_0", "--layers", "1", "--output", gguf.path])
        try #require(made.status == 0, "\(made.stderr)")
        let original = try Data(contentsOf: gguf)
        let score = ["score", "--model", gguf.path, "--ids", "1,5,9"]
        try #require(try runTailor(score).status == 0)
        var rng = SeededGenerator(seed: 12)
        var variants: [(String, Data)] = []
        for cut in [0, 4, 8, 23, 24, 100, 4096, original.count / 2, original.count - 1] {
            variants.append(("truncated at \(cut)", original.prefix(cut)))
        }
        let header = min(original.count, 1 << 17)
        for i in 0..<14 {
            var d = original
            let at = i < 3 ? Int.random(in: 0..<24, using: &rng) : i < 12 ? Int.random(in: 24..<header, using: &rng)
                : Int.random(in: header..<d.count, using: &rng)
            d[at] ^= UInt8.random(in: 1...255, using: &rng)
            variants.append(("byte \(at) flipped", d))
        }
        for (label, bytes) in variants {
            try bytes.write(to: gguf)
            try expectNoCrash(score, label, naming: gguf)
        }
    }
}
