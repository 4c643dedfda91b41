import Foundation
import Testing
import TailorTensor
import TailorTestSupport

/// `tailor train` on bad data and failing disks: a non-zero exit naming the file (and line), and
/// an output folder left as it was.
@Suite struct TrainFailureTests {
    static let good = #"{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]}"#

    /// Every malformed-input case of the dataset loader (Tests/TailorDataTests/DatasetErrorTests),
    /// as (file bytes, line named, message fragment).
    static let cases: [(bytes: [UInt8], line: Int?, fragment: String)] = {
        func lines(_ l: [String]) -> [UInt8] { Array((l.joined(separator: "\n") + "\n").utf8) }
        func bad(_ line: String) -> [UInt8] { lines([good, good, line, good]) }
        var utf8 = lines([good]); utf8 += Array(#"{"text": "a"#.utf8) + [0xFF, 0xFE] + Array("\"}\n".utf8)
        var nul = lines([good]); nul += Array(#"{"text": "a"#.utf8) + [0x00] + Array("\"}\n".utf8)
        return [
            (bad(#"{"messages": [}"#), 3, "invalid JSON"),
            (bad(#"["user", "Hi"]"#), 3, "expected a JSON object, got array"),
            (bad(#"{"messages": "Hi"}"#), 3, #""messages" should be an array"#),
            (bad(#"{"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": "x"}]}"#), 3, "content should be a string"),
            (bad(#"{"messages": [{"role": 1, "content": "a"}]}"#), 3, "role should be a string"),
            (bad(#"{"messages": ["hi"]}"#), 3, #""messages"[0] should be an object"#),
            (lines([#"{"text": "a"}"#, #"{"text": ["a"]}"#]), 2, #""text" should be a string, got array"#),
            (bad(#"{"messages": [{"role": "user", "content": [{"type": "image", "url": "x.png"}]}, {"role": "assistant", "content": "b"}]}"#), 3,
             #""messages"[0].content[0].type is "image": only text parts can be trained"#),
            (bad(#"{"conversations": [{"from": "human", "value": "a"}, {"from": "bot", "value": "b"}]}"#), 3,
             #""conversations"[1].from "bot" is not one of system, human, user, gpt, assistant, tool, observation"#),
            (bad(#"{"messages": [{"role": "assistant", "content": "x"}], "tools": {}}"#), 3, #""tools" should be an array"#),
            (lines([#"{"prompt": "a", "completion": "b"}"#, #"{"prompt": "a"}"#]), 2, #"has "prompt" but no "completion""#),
            (lines([#"{"foo": 1}"#]), 1, "no known format"),
            (bad(#"{"messages": [{"content": "x"}]}"#), 3, #""messages"[0].role is missing"#),
            (lines([#"{"text": "a"}"#, #"{"text": ""}"#]), 2, #""text" is empty"#),
            (bad(#"{"messages": []}"#), 3, #""messages" is empty"#),
            (lines([#"{"prompt": "a", "completion": ""}"#]), 1, #""completion" is empty"#),
            (lines([#"{"text": "a"}"#, "", #"{"prompt": "a", "completion": "b"}"#]), 3, "format"),
            (lines([#"{"text": "a", "prompt": "b", "completion": "c"}"#]), 1, "ambiguous record"),
            (bad(#"{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "robot", "content": "c"}]}"#), 3, "robot"),
            (bad(#"{"messages": [{"role": "system", "content": "a"}, {"role": "user", "content": "b"}]}"#), 3, "assistant"),
            (utf8, 2, "invalid UTF-8"),
            (nul, 2, "contains a NUL byte at column"),
            ([], 1, "the file is empty"),
            (Array("\n  \n\t\r\n\n".utf8), 1, "only blank lines"),
        ]
    }()

    /// Each case through `tailor train`: non-zero exit, `data.jsonl:LINE:` and the problem in the
    /// message, and no output folder created. An existing output folder given with --overwrite
    /// keeps its previous adapter.
    @Test func malformedDataFailsEndToEndWithFileAndLine() throws {
        let model = try TokenizeCommandTests.modelFolder()
        let work = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: model); try? FileManager.default.removeItem(at: work) }
        let previous = work.appendingPathComponent("previous")
        try FileManager.default.createDirectory(at: previous, withIntermediateDirectories: true)
        let marker = Data("previous adapter".utf8)
        try marker.write(to: previous.appendingPathComponent("adapter_model.safetensors"))
        for (i, c) in Self.cases.enumerated() {
            let data = work.appendingPathComponent("case\(i)/data.jsonl")
            try FileManager.default.createDirectory(at: data.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(c.bytes).write(to: data)
            let out = work.appendingPathComponent("case\(i)/out")
            let r = try runTailor(["train", "--model", model.path, "--data", data.path, "--output", out.path, "--steps", "2",
                                   "--valid-split", "0"])
            let location = "\(data.path):\(c.line.map(String.init) ?? "")"
            #expect(r.status != 0, "case \(i): exit 0")
            #expect(r.stderr.contains(location) && r.stderr.contains(c.fragment), "case \(i): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out.path), "case \(i): output folder created")
            let again = try runTailor(["train", "--model", model.path, "--data", data.path, "--output", previous.path,
                                       "--overwrite", "--steps", "2", "--valid-split", "0"])
            #expect(again.status != 0)
            #expect(try FileManager.default.contentsOfDirectory(atPath: previous.path) == ["adapter_model.safetensors"], "case \(i)")
            #expect(try Data(contentsOf: previous.appendingPathComponent("adapter_model.safetensors")) == marker, "case \(i)")
        }
    }

    /// An output folder that cannot be created (under /proc, read-only even for root) stops the
    /// run before training with the folder named.
    @Test func unwritableOutputFolderIsAClearError() throws {
        let model = try TokenizeCommandTests.modelFolder()
        let work = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: model); try? FileManager.default.removeItem(at: work) }
        let data = try TrainCommandTests.chatData(in: work)
        let out = "/proc/self/tailor-output"
        let r = try runTailor(["train", "--model", model.path, "--data", data.path, "--output", out, "--steps", "2", "--rank", "2"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("\(out): cannot create the output folder"), "\(r.stderr)")
    }

    /// A write that fails for lack of space (simulated with a file size limit, `ulimit -f`, which
    /// makes write(2) fail with EFBIG) names the checkpoint and the reason, leaves no partial
    /// folder, and keeps the previous checkpoint intact and resumable.
    @Test func failedCheckpointWriteKeepsThePreviousOne() throws {
        let model = try TokenizeCommandTests.modelFolder()
        let work = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: model); try? FileManager.default.removeItem(at: work) }
        let data = try TrainCommandTests.chatData(in: work)
        let out = work.appendingPathComponent("out")
        let base = ["train", "--model", model.path, "--data", data.path, "--output", out.path, "--save-every", "1",
                    "--rank", "2", "--eval-every", "0", "--valid-split", "0"]
        let first = try runTailor(base + ["--steps", "2"])
        try #require(first.status == 0, "\(first.stderr)")
        let step2 = out.appendingPathComponent("checkpoints/step-000002")
        let optimizerBytes = try Data(contentsOf: step2.appendingPathComponent("optimizer.safetensors"))
        let before = try Self.snapshot(step2)
        // Small enough for metrics.jsonl and the plot, too small for the optimizer state.
        let limitBlocks = max(64, optimizerBytes.count / 1024 / 2)
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.arguments = ["-c", "ulimit -f \(limitBlocks) && exec \"$0\" \"$@\"", try tailorExecutable().path,
                           "train", "--resume", out.path, "--steps", "4"]
        let err = Pipe()
        shell.standardError = err; shell.standardOutput = FileHandle.nullDevice
        try shell.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        shell.waitUntilExit()
        #expect(shell.terminationReason == .exit && shell.terminationStatus != 0, "\(message)")
        #expect(message.contains("checkpoints/step-000003: cannot write checkpoint") && message.contains("File too large"), "\(message)")
        #expect(message.contains("step-000002, is intact"), "\(message)")
        let names = try FileManager.default.contentsOfDirectory(atPath: out.appendingPathComponent("checkpoints").path).sorted()
        #expect(names == ["step-000001", "step-000002"], "\(names)")
        #expect(try Self.snapshot(step2) == before)
        let resumed = try runTailor(["train", "--resume", out.path, "--steps", "4"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
    }

    /// A model whose embeddings are NaN: `tailor train` stops at step 1 naming the batch's data
    /// lines and writes no adapter; with --skip-nonfinite it finishes and reports the skips.
    @Test func nonFiniteLossEndToEnd() throws {
        let model = try TokenizeCommandTests.modelFolder()
        let work = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: model); try? FileManager.default.removeItem(at: work) }
        let weights = model.appendingPathComponent("model.safetensors")
        let file = try SafetensorsFile(url: weights)
        let tensors = try file.entries.keys.sorted().map { (name: $0, tensor: try file.tensor($0)) }
        let e = try #require(tensors.firstIndex { $0.name.hasSuffix("embed_tokens.weight") })
        for i in 0..<tensors[e].tensor.count { tensors[e].tensor.pointer[i] = .nan }
        try SafetensorsWriter.write(tensors, to: weights)
        let data = try TrainCommandTests.chatData(in: work)
        let out = work.appendingPathComponent("out")
        let args = ["train", "--model", model.path, "--data", data.path, "--output", out.path, "--steps", "3", "--rank", "2",
                    "--save-every", "1", "--valid-split", "0"]
        let r = try runTailor(args)
        #expect(r.status != 0)
        #expect(r.stderr.contains("step 1: the loss is nan on epoch 0 batch 0 (\(data.path):"), "\(r.stderr)")
        #expect(r.stderr.contains("no checkpoint had been written"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("adapter_model.safetensors").path))
        let skipped = try runTailor(args + ["--overwrite", "--skip-nonfinite"])
        #expect(skipped.status == 0, "\(skipped.stderr)")
        #expect((skipped.stdout + skipped.stderr).contains("3 steps skipped (non-finite loss or gradient)"), "\(skipped.stdout)")
    }

    static func snapshot(_ folder: URL) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) {
            files[name] = try Data(contentsOf: folder.appendingPathComponent(name))
        }
        return files
    }
}
