import Foundation
import Testing
import TailorTensor
import TailorTestSupport

/// `tailor train` and `tailor eval` end to end on the llama-gqa test model with the tiny tokenizer.
@Suite struct TrainCommandTests {
    static func chatData(in dir: URL, lines: Int = 12) throws -> URL {
        let rows = (0..<lines).map { i in
            #"{"messages": [{"role": "user", "content": "Say \#(i)"}, {"role": "assistant", "content": "I say \#(i) and \#(i + 1)."}]}"#
        }
        return try TokenizeCommandTests.write(rows, in: dir, name: "train.jsonl")
    }

    /// `tailor eval` equals the PEFT model's token-weighted mean loss (Tests/Fixtures/make_eval_fixtures.py).
    @Test(arguments: ["text", "chat"])
    func evalMatchesPEFT(format: String) throws {
        let model = try TokenizeCommandTests.modelFolder()
        defer { try? FileManager.default.removeItem(at: model) }
        let expected = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: fixture("eval/expected.json"))) as? [String: [String: Any]])
        let want = try #require(expected[format])
        let r = try runTailor(["eval", "--model", model.path, "--adapter", fixture("models/llama-gqa/adapter").path,
                               "--data", fixture("eval/\(format).jsonl").path, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let got = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(abs((got["loss"] as? Double ?? 0) - (want["loss"] as! Double)) < 1e-4, "\(got) vs \(want)")
        #expect(got["tokens"] as? Int == want["tokens"] as? Int)
        #expect(got["examples"] as? Int == want["examples"] as? Int)
        #expect(abs((got["perplexity"] as? Double ?? 0) - exp(want["loss"] as! Double)) < 1e-3)
    }

    /// Training writes the adapter, metrics (also as --json lines), the plot and checkpoints;
    /// a second run into the same folder is refused; --resume continues; YAML sets options.
    @Test func trainWritesOutputsAndRefusesExistingFolder() throws {
        let model = try TokenizeCommandTests.modelFolder()
        let work = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: model); try? FileManager.default.removeItem(at: work) }
        let data = try Self.chatData(in: work)
        let yaml = work.appendingPathComponent("run.yaml")
        try "rank: 2\nalpha: 4\nsteps: 4\nbatch_size: 2\neval-every: 2\nsave-every: 2\nvalid-split: 0.25\nlr: 0.01\n".write(to: yaml, atomically: true, encoding: .utf8)
        let out = work.appendingPathComponent("out")
        let args = ["train", "--model", model.path, "--data", data.path, "--output", out.path, "--config", yaml.path, "--json"]
        let r = try runTailor(args + ["--steps", "3"])  // the flag overrides the YAML's 4
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.filter { $0["type"] as? String == "train" }.count == 3)
        #expect(lines.filter { $0["type"] as? String == "eval" }.count == 2)  // steps 2 and 3 (the last)
        for name in ["adapter_config.json", "adapter_model.safetensors", "metrics.jsonl", "loss.svg"] {
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(name).path), "\(name) missing")
        }
        let adapterConfig = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("adapter_config.json"))) as? [String: Any])
        #expect(adapterConfig["r"] as? Int == 2)
        let again = try runTailor(args)
        #expect(again.status != 0 && again.stderr.contains("output folder exists"), "\(again.stderr)")
        let resumed = try runTailor(["train", "--resume", out.path, "--steps", "4"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("step 4/4"), "\(resumed.stdout)")
    }

    /// QLoRA with bf16 compute end to end: trains, records the setting, resumes with it.
    @Test func trainsAQuantizedBaseWithBF16Compute() throws {
        let model = try TokenizeCommandTests.modelFolder()
        let work = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: model); try? FileManager.default.removeItem(at: work) }
        let data = try Self.chatData(in: work)
        let out = work.appendingPathComponent("out")
        let r = try runTailor(["train", "--model", model.path, "--data", data.path, "--output", out.path, "--quantize", "q4_0",
                               "--compute", "bf16", "--base-dtype", "f32", "--template-kwargs", #"{"x": "it's"}"#,
                               "--steps", "2", "--batch-size", "2", "--save-every", "1", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let losses = r.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["type"] as? String == "train" }.compactMap { $0["loss"] as? Double }
        #expect(losses.count == 2 && losses.allSatisfy(\.isFinite), "\(r.stdout)")
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("adapter_model.safetensors").path))
        #expect((r.stdout + r.stderr).contains(#"tailor eval --model \#(model.path) --quantize q4_0 --compute bf16 --base-dtype f32 --template-kwargs '{"x": "it'\''s"}' --adapter"#),
                "the suggested eval holds the base as trained: \(r.stderr)")
        // eval on the base as trained: the same quantized base, in bf16 or in fp32 compute.
        var evalLosses: [Double] = []
        for compute in ["f32", "bf16"] {
            let e = try runTailor(["eval", "--model", model.path, "--adapter", out.path, "--data", data.path, "--quantize", "q4_0",
                                   "--compute", compute, "--json"])
            let got = try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as? [String: Any]
            #expect(e.status == 0, "\(e.stderr)")
            evalLosses.append(got?["loss"] as? Double ?? .nan)
        }
        #expect(evalLosses[0] != evalLosses[1] && abs(evalLosses[0] - evalLosses[1]) < 1e-2 * abs(evalLosses[0]), "eval f32 / bf16 compute: \(evalLosses)")
        let resumed = try runTailor(["train", "--resume", out.path, "--steps", "3", "--dry-run"])
        #expect(resumed.status == 0 && resumed.stdout.contains("compute") && resumed.stdout.contains("bf16"), "\(resumed.stdout)\n\(resumed.stderr)")
        // The time estimate uses the bf16 product's measured rate where it runs on AMX.
        #expect(resumed.stdout.contains(BF16MatMul.usesAMX ? "measured bf16 product on AMX" : "measured sgemm"), "\(resumed.stdout)")
    }

    @Test func dryRunPrintsConfigurationAndEstimates() throws {
        let model = try TokenizeCommandTests.modelFolder()
        let work = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: model); try? FileManager.default.removeItem(at: work) }
        let data = try Self.chatData(in: work)
        let r = try runTailor(["train", "--model", model.path, "--data", data.path, "--output", work.appendingPathComponent("o").path, "--dry-run"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("rank"))
        #expect(r.stdout.contains("base-dtype     stored"), "\(r.stdout)")
        #expect(r.stdout.contains("train examples (messages format, "), "\(r.stdout)")
        #expect(r.stdout.contains("estimate: peak RAM"))
        #expect(!FileManager.default.fileExists(atPath: work.appendingPathComponent("o/adapter_model.safetensors").path))
    }

    /// Ctrl-C saves a checkpoint, exits 130, and --resume finishes the run.
    @Test func interruptSavesACheckpoint() throws {
        let model = try TokenizeCommandTests.modelFolder()
        let work = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: model); try? FileManager.default.removeItem(at: work) }
        let data = try Self.chatData(in: work, lines: 40)
        let out = work.appendingPathComponent("out")
        let p = Process()
        p.executableURL = try tailorExecutable()
        p.arguments = ["train", "--model", model.path, "--data", data.path, "--output", out.path, "--steps", "100000",
                       "--save-every", "0", "--eval-every", "0", "--batch-size", "1", "--rank", "2"]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        try p.run()
        var seen = ""
        while !seen.contains("step 3/") {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        kill(p.processIdentifier, SIGINT)
        let rest = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        seen += String(decoding: rest, as: UTF8.self)
        #expect(p.terminationStatus == 130, "\(seen)")
        #expect(seen.contains("interrupted at step"))
        let checkpoints = try FileManager.default.contentsOfDirectory(atPath: out.appendingPathComponent("checkpoints").path).filter { $0.hasPrefix("step-") }
        #expect(checkpoints.count == 1)
        let resumed = try runTailor(["train", "--resume", out.path, "--steps", "6"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("adapter_model.safetensors").path))
    }

    @Test func badSettingsAreNamed() throws {
        let cases: [([String], String)] = [
            (["train", "--model", "/nope", "--data", "/nope.jsonl"], "/nope: no such model folder"),
            (["train", "--model", "/nope", "--data", "x", "--optimizer", "lion"], "optimizer must be one of"),
            (["train", "--model", "/nope", "--data", "x", "--checkpointing", "sometimes"], "checkpointing must be"),
            (["train", "--model", "/nope", "--data", "x", "--key", "promt=question"],
             #"--key: "promt" is not a key Tailor reads; the keys that can be remapped are text, prompt"#),
            (["train", "--model", "/nope", "--data", "x", "--format", "csv"], "format must be one of text, completion, chat, alpaca or sharegpt"),
            (["train", "--model", "/nope", "--data", "x", "--compute", "fp16"], "compute must be one of f32, bf16"),
            (["train", "--model", "/nope", "--data", "x", "--full", "--compute", "bf16"], "--compute bf16 is for adapters"),
            (["train", "--model", "/nope", "--data", "x", "--full", "--base-dtype", "stored"], "--base-dtype stored is for adapters"),
            (["train", "--model", "/nope", "--data", "x", "--base-dtype", "f16"], "--base-dtype f16: must be one of f32, stored"),
            (["eval", "--model", "/nope", "--data", "x", "--base-dtype", "bf16"], "--base-dtype bf16: must be one of f32, stored"),
            (["score", "--model", "/nope", "--ids", "1,2", "--compute", "fp16"], "--compute fp16: must be f32 or bf16"),
            (["eval", "--model", "/nope", "--data", "x", "--compute", "fp16"], "--compute fp16: must be f32 or bf16"),
            (["generate", "--model", "/nope", "--prompt", "x", "--quantize", "q3"], "--quantize q3: not supported"),
            (["train", "--config", "/no/such.yaml"], "/no/such.yaml: cannot read"),
            (["eval", "--model", "/nope", "--data", "x"], "/nope: no such model folder"),
        ]
        for (args, message) in cases {
            let r = try runTailor(args)
            #expect(r.status != 0 && r.stderr.contains(message), "\(args): \(r.stderr)")
        }
    }

    /// A malformed line stops training with file:line and leaves no adapter; --skip-bad counts it.
    @Test func badLinesStopOrAreSkippedWithSkipBad() throws {
        let model = try TokenizeCommandTests.modelFolder()
        let work = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: model); try? FileManager.default.removeItem(at: work) }
        let data = try Self.chatData(in: work)
        var text = try String(contentsOf: data, encoding: .utf8)
        text += "{\"messages\": [{\"role\": \"robot\", \"content\": \"beep\"}]}\n"
        try text.write(to: data, atomically: true, encoding: .utf8)
        let out = work.appendingPathComponent("out")
        let args = ["train", "--model", model.path, "--data", data.path, "--output", out.path, "--steps", "1", "--rank", "2"]
        let failed = try runTailor(args)
        #expect(failed.status != 0 && failed.stderr.contains("\(data.path):13"), "\(failed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("adapter_model.safetensors").path))
        let skipped = try runTailor(args + ["--skip-bad"])
        #expect(skipped.status == 0, "\(skipped.stderr)")
        #expect(skipped.stdout.contains("1 bad lines skipped") && skipped.stdout.contains("skipped \(data.path):13"), "\(skipped.stdout)")
    }
}
