import ArgumentParser
import Foundation
import Tailor

/// Tokenizer throughput against the `tokenizers` library on the same file, in one run.
@main
struct TokenizerBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer-bench",
        abstract: "Encodes every line of a file with Tailor's tokenizer and with Hugging Face tokenizers; prints both and the ratio.")

    @Option(help: "tokenizer.json") var tokenizer = "../Tests/Fixtures/tokenizers/llama3/tokenizer.json"
    @Option(help: "One JSON string per line.") var lines = "../Tests/Fixtures/tokenizers/corpus.jsonl"
    @Option(help: "Best of this many passes.") var repeats = 3
    @Option(help: "Python with `tokenizers` for the peer (skipped if missing).") var python = "../.venv/bin/python"

    func run() throws {
        let tok = try Tokenizer(contentsOf: URL(fileURLWithPath: tokenizer))
        let text = try String(contentsOfFile: lines, encoding: .utf8)
        let inputs = try text.split(separator: "\n").map { line -> String in
            guard let s = try JSONValue(parsing: String(line)).stringValue else { throw ValidationError("\(lines): a line is not a JSON string") }
            return s
        }
        var best = Double.infinity, ids: [[Int]] = []
        for _ in 0..<repeats {
            let t = Date()
            ids = inputs.map { tok.encode($0) }
            best = min(best, Date().timeIntervalSince(t))
        }
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for row in ids { for i in row + [-1] { h ^= UInt64(bitPattern: Int64(i)); h = h &* 0x100_0000_01B3 } }
        let tokens = ids.reduce(0) { $0 + $1.count }
        print(String(format: "tailor:     %d lines, %d tokens in %.4f s  (%.0f tokens/s, one thread)", inputs.count, tokens, best, Double(tokens) / best))
        guard FileManager.default.isExecutableFile(atPath: python) else { print("peer: skipped (\(python) not found)"); return }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                        .appendingPathComponent("peers/tokenizers_bench.py").path, tokenizer, lines, String(repeats)]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard let peer = try? JSONValue(parsing: data), let seconds = peer["seconds"]?.doubleValue else { print("peer: failed"); return }
        let same = peer["checksum"]?.stringValue == String(format: "%016llx", h)
        print(String(format: "tokenizers: %d lines, %d tokens in %.4f s  (%.0f tokens/s)", peer["lines"]?.intValue ?? 0, peer["tokens"]?.intValue ?? 0, seconds, Double(peer["tokens"]?.intValue ?? 0) / seconds))
        print(String(format: "ratio: Tailor is %.2f× the tokenizers library; ids %@", seconds / best, same ? "identical" : "DIFFER"))
    }
}
