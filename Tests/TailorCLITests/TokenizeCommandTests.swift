import Foundation
import Testing
import TailorTestSupport

/// `tailor tokenize` and `tailor score --text`, on the llama-gqa test model with the tiny 128-id byte-level
/// tokenizer and ChatML template from `Tests/Fixtures/datasets/tiny`.
@Suite struct TokenizeCommandTests {
    /// A fresh model folder: llama-gqa weights plus the tiny tokenizer, its config and chat template.
    static func modelFolder() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tailor-tokenize-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for source in [fixture("models/llama-gqa/model"), fixture("datasets/tiny")] {
            for name in try FileManager.default.contentsOfDirectory(atPath: source.path) {
                try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: dir.appendingPathComponent(name))
            }
        }
        return dir
    }

    static func write(_ lines: [String], in dir: URL, name: String = "data.jsonl") throws -> URL {
        let url = dir.appendingPathComponent(name)
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: url)
        return url
    }

    func objects(_ stdout: String) throws -> [[String: Any]] {
        try stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    /// `--template-kwargs` reaches the chat template in `tokenize`, `eval` and `train` (a flag, or a YAML
    /// mapping); text that is not a JSON object, or a model without a template, is refused.
    @Test func templateKwargsReachTheTemplate() throws {
        let model = try Self.modelFolder()
        defer { try? FileManager.default.removeItem(at: model) }
        // As Qwen3's: the generation prompt holds an empty think block when enable_thinking is false.
        try (#"{%- for m in messages %}{{- '<|im_start|>' + m.role + '\n' }}{%- if m.role == 'assistant' and loop.last %}<think></think>{%- endif %}"#
            + #"{{- m.content + '<|im_end|>\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}"#
            + #"{%- if enable_thinking is defined and enable_thinking is false %}<think></think>{%- endif %}{%- endif %}"#)
            .write(to: model.appendingPathComponent("chat_template.jinja"), atomically: true, encoding: .utf8)
        let data = try TrainCommandTests.chatData(in: model)
        func trainedTokens(_ extra: [String]) throws -> Int {
            let r = try runTailor(["tokenize", "--model", model.path, "--data", data.path, "--json"] + extra)
            #expect(r.status == 0, "\(r.stderr)")
            return try objects(r.stdout).map { ($0["mask"] as? [Int] ?? []).reduce(0, +) }.reduce(0, +)
        }
        let thinking = try trainedTokens([]), notThinking = try trainedTokens(["--template-kwargs", #"{"enable_thinking": false}"#])
        #expect(notThinking > 0 && notThinking < thinking, "\(notThinking) vs \(thinking)")
        let eval = try runTailor(["eval", "--model", model.path, "--data", data.path, "--json", "--template-kwargs", #"{"enable_thinking": false}"#])
        #expect(eval.status == 0, "\(eval.stderr)")
        #expect(try objects(eval.stdout).first?["tokens"] as? Int == notThinking)

        let yaml = model.appendingPathComponent("run.yaml")
        try "template_kwargs: {enable_thinking: false}\n".write(to: yaml, atomically: true, encoding: .utf8)
        let dry = try runTailor(["train", "--model", model.path, "--data", data.path, "--config", yaml.path, "--output", model.appendingPathComponent("o").path, "--dry-run"])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains(#"{"enable_thinking":false}"#), "\(dry.stdout)")

        for (args, message) in [(["tokenize", "--model", model.path, "--text", "Hi"], "--template-kwargs goes with --data"),
                                (["generate", "--model", model.path, "--prompt", "Hi"], "--template-kwargs goes with --chat")] {
            let r = try runTailor(args + ["--template-kwargs", "{}"])
            #expect(r.status != 0 && r.stderr.contains(message), "\(r.stderr)")
        }
        let bad = try runTailor(["train", "--model", model.path, "--data", data.path, "--template-kwargs", "enable_thinking=false", "--dry-run"])
        #expect(bad.status != 0 && bad.stderr.contains("--template-kwargs: not JSON"), "\(bad.stderr)")
        try FileManager.default.removeItem(at: model.appendingPathComponent("chat_template.jinja"))
        let none = try runTailor(["eval", "--model", model.path, "--data", data.path, "--template-kwargs", "{}"])
        #expect(none.status != 0 && none.stderr.contains("--template-kwargs: \(model.path) has no usable chat template"), "\(none.stderr)")
    }

    /// A GGUF tokenizes chat data as its source folder does: the template sees the special tokens the
    /// GGUF names by id (`{{ bos_token }}` here), as training on the GGUF does.
    @Test func ggufDataMatchesItsFolder() throws {
        let model = try Self.modelFolder()
        defer { try? FileManager.default.removeItem(at: model) }
        try ("{{ bos_token }}" + String(contentsOf: model.appendingPathComponent("chat_template.jinja"), encoding: .utf8))
            .write(to: model.appendingPathComponent("chat_template.jinja"), atomically: true, encoding: .utf8)
        let gguf = model.appendingPathComponent("m.gguf")
        let merged = try runTailor(["merge", "--model", model.path, "--output", gguf.path])
        #expect(merged.status == 0, "\(merged.stderr)")
        let data = try TrainCommandTests.chatData(in: model, lines: 3)
        let fromFolder = try runTailor(["tokenize", "--model", model.path, "--data", data.path, "--json"])
        let fromGGUF = try runTailor(["tokenize", "--model", gguf.path, "--data", data.path, "--json"])
        #expect(fromFolder.status == 0 && fromGGUF.status == 0, "\(fromFolder.stderr) \(fromGGUF.stderr)")
        #expect(fromFolder.stdout.hasPrefix(#"{"text": "<s><|im_start|>"#), "\(fromFolder.stdout)")
        #expect(fromGGUF.stdout == fromFolder.stdout)
    }

    @Test func textGivesIDsAndTokensWithSpecialTokens() throws {
        let model = try Self.modelFolder()
        let r = try runTailor(["tokenize", "--model", model.path, "--text", "Hello there", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let obj = try #require(try objects(r.stdout).first)
        #expect(obj["ids"] as? [Int] == [0, 46, 75, 124, 85, 125, 107])
        #expect(obj["tokens"] as? [String] == ["<s>", "H", "e", "ll", "o", "Ġthe", "re"])
        #expect(Set(obj.keys) == ["ids", "tokens"])
    }

    @Test func dataGivesOneObjectPerExampleAsTrainingSeesIt() throws {
        let model = try Self.modelFolder()
        // The same records as fixtures checked against transformers.
        let expected = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: fixture("datasets/expected.json"))) as? [String: Any])
        let cases = try #require(expected["chatml"] as? [[String: Any]])
        let lines = try cases.map { String(decoding: try JSONSerialization.data(withJSONObject: $0["record"]!), as: UTF8.self) }
        let data = try Self.write(lines, in: model)
        let r = try runTailor(["tokenize", "--model", model.path, "--data", data.path, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let got = try objects(r.stdout)
        #expect(got.count == cases.count)
        for (g, c) in zip(got, cases) {
            #expect(Set(g.keys) == ["text", "ids", "mask"])
            #expect(g["text"] as? String == c["text"] as? String)
            #expect(g["ids"] as? [Int] == c["ids"] as? [Int])
            #expect(g["mask"] as? [Int] == c["mask"] as? [Int])
        }
        // --mask all, and a folder with train.jsonl.
        try FileManager.default.moveItem(at: data, to: model.appendingPathComponent("train.jsonl"))
        let all = try runTailor(["tokenize", "--model", model.path, "--data", model.path, "--mask", "all", "--json"])
        #expect(all.status == 0, "\(all.stderr)")
        #expect(try objects(all.stdout).allSatisfy { ($0["mask"] as? [Int])?.allSatisfy { $0 == 1 } == true })
    }

    @Test func formatOverrideAndKeyRemapping() throws {
        let model = try Self.modelFolder()
        let data = try Self.write([#"{"q": "What is 2+2?", "a": "It is 4."}"#], in: model)
        let r = try runTailor(["tokenize", "--model", model.path, "--data", data.path, "--format", "prompt_completion",
                               "--key", "prompt=q", "--key", "completion=a", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let expected = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: fixture("datasets/expected.json"))) as? [String: Any])
        let want = try #require((expected["prompt_completion_chatml"] as? [[String: Any]])?.first)
        let got = try #require(try objects(r.stdout).first)
        #expect(got["ids"] as? [Int] == want["ids"] as? [Int])
        #expect(got["mask"] as? [Int] == want["mask"] as? [Int])
        // The same exchange as a ShareGPT record under another key: the same user/assistant conversation.
        let share = try Self.write([#"{"dialog": [{"from": "human", "value": "What is 2+2?"}, {"from": "gpt", "value": "It is 4."}]}"#], in: model)
        let s = try runTailor(["tokenize", "--model", model.path, "--data", share.path, "--format", "sharegpt",
                               "--key", "conversations=dialog", "--json"])
        #expect(s.status == 0, "\(s.stderr)")
        let shared = try #require(try objects(s.stdout).first)
        #expect(shared["ids"] as? [Int] == want["ids"] as? [Int])
        #expect(shared["mask"] as? [Int] == want["mask"] as? [Int])
    }

    @Test func previewBracketsTrainedTokensWhenNotATerminal() throws {
        let model = try Self.modelFolder()
        let data = try Self.write([#"{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]}"#], in: model)
        let r = try runTailor(["tokenize", "--model", model.path, "--data", data.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n[Yo<|im_end|>]\n"), "\(r.stdout)")
        #expect(r.stdout.contains("\(data.path):1"))
        #expect(!r.stdout.contains("\u{1B}["))
    }

    @Test func badInputExitsNonZeroNamingFileAndLine() throws {
        let model = try Self.modelFolder()
        let good = #"{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]}"#
        let cases: [([String], String)] = [
            ([good, #"{"messages": [{"role": "robot", "content": "x"}]}"#],
             #"data.jsonl:2: "messages"[0].role "robot" is not one of system, user, assistant, tool"#),
            ([good, "", #"{"text": "x"}"#], "data.jsonl:3: this line is in text format but line 1 is in messages format"),
            ([good, "not json"], "data.jsonl:2: invalid JSON"),
        ]
        for (lines, message) in cases {
            let data = try Self.write(lines, in: model)
            let r = try runTailor(["tokenize", "--model", model.path, "--data", data.path, "--json"])
            #expect(r.status == 1, "\(lines)")
            #expect(r.stderr.contains("error: \(model.path)/\(message)"), "\(r.stderr)")
            #expect(r.stdout.isEmpty)
        }
        let data = try Self.write([good], in: model)
        let bare = fixture("models/llama-gqa/model")
        let usage: [([String], String)] = [
            (["tokenize", "--model", bare.path, "--text", "x"], "\(bare.path)/tokenizer.json: not found"),
            (["tokenize", "--model", model.path], "exactly one of --text and --data"),
            (["tokenize", "--model", model.path, "--data", data.path, "--format", "csv"], "--format: \"csv\""),
            (["tokenize", "--model", model.path, "--data", data.path, "--mask", "prompt"], "--mask: \"prompt\""),
            (["tokenize", "--model", model.path, "--data", data.path, "--key", "prompt"], "--key: \"prompt\""),
            (["tokenize", "--model", model.path, "--data", data.path, "--key", "conversation=dialog"], "--key: \"conversation\" is not a key"),
            (["tokenize", "--model", model.path, "--data", model.appendingPathComponent("nope.jsonl").path], "no such file"),
            (["score", "--model", bare.path, "--text", "Hi there"], "\(bare.path)/tokenizer.json: missing"),
            (["score", "--model", model.path, "--text", ""], "need at least two"),
            (["score", "--model", model.path], "exactly one of --ids and --text"),
            (["score", "--model", model.path, "--ids", "1,2", "--text", "Hi"], "exactly one of --ids and --text"),
        ]
        for (args, message) in usage {
            let r = try runTailor(args)
            #expect(r.status != 0, "\(args) succeeded")
            #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
        }
    }

    @Test func scoreTextEqualsScoreIDsOfItsEncoding() throws {
        let model = try Self.modelFolder()
        let t = try runTailor(["score", "--model", model.path, "--text", "Hello there", "--json"])
        #expect(t.status == 0, "\(t.stderr)")
        let i = try runTailor(["score", "--model", model.path, "--ids", "0,46,75,124,85,125,107", "--json"])
        #expect(i.status == 0, "\(i.stderr)")
        #expect(t.stdout == i.stdout)
    }
}

/// `tailor inspect` on a GGUF file.
@Suite struct InspectGGUFTests {
    @Test func showsMetadataAndTensorTypes() throws {
        let r = try runTailor(["inspect", fixture("gguf/llama-gqa-q8_0.gguf").path, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(o["tensor_types"] as? [String: Int] == ["F32": 5, "Q8_0": 16])
        #expect(o["tensor_count"] as? Int == 21 && o["gguf_version"] as? Int == 3)
        let meta = try #require(o["metadata"] as? [String: String])
        #expect(meta["general.architecture"] == "\"llama\"" && meta["llama.block_count"] == "2")
    }
}
