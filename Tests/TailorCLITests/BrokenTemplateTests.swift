import Foundation
import Testing
import TailorQuant
import TailorTestSupport

/// A chat template that is present but does not compile stops only what needs it, as an unreadable
/// tokenizer stops only what needs text: text data trains and a raw prompt generates, while chat,
/// prompt/completion and alpaca records fail at their first line naming the template's file (even
/// with --skip-bad: every such line would fail), and a merge copies the template as it is, to
/// the same effect.
@Suite struct BrokenTemplateTests {
    @Test func onlyWhatNeedsTheTemplateFails() throws {
        let model = try TokenizeCommandTests.modelFolder()
        let work = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: model); try? FileManager.default.removeItem(at: work) }
        let broken = "{% if %}"
        try Data(broken.utf8).write(to: model.appendingPathComponent("chat_template.jinja"))
        let text = try TokenizeCommandTests.write((0..<8).map { #"{"text": "line \#($0) of plain text"}"# }, in: work, name: "text.jsonl")
        let chat = try TrainCommandTests.chatData(in: work)
        let pairs = try TokenizeCommandTests.write([#"{"prompt": "Say 1", "completion": "1"}"#], in: work, name: "pairs.jsonl")
        let alpaca = try TokenizeCommandTests.write([#"{"instruction": "Say 1", "output": "1"}"#], in: work, name: "alpaca.jsonl")
        func train(_ data: URL, _ extra: [String] = []) throws -> CLIResult {
            try runTailor(["train", "--model", model.path, "--data", data.path, "--output", work.appendingPathComponent("out-\(data.lastPathComponent)").path,
                           "--steps", "1", "--rank", "2", "--eval-every", "0"] + extra)
        }

        let trained = try train(text)
        #expect(trained.status == 0, "\(trained.stderr)")
        for (data, extra) in [(chat, []), (chat, ["--skip-bad"]), (pairs, []), (alpaca, [])] {
            let r = try train(data, extra)
            #expect(r.status == 1 && r.stderr.contains("\(data.path):1") && r.stderr.contains("chat_template.jinja")
                    && r.stderr.contains("does not compile"), "\(data.lastPathComponent) \(extra): \(r.stderr)")
        }

        let raw = try runTailor(["generate", "--model", model.path, "--prompt", "line", "--max-tokens", "2", "--temperature", "0"])
        #expect(raw.status == 0, "\(raw.stderr)")
        let chatPrompt = try runTailor(["generate", "--model", model.path, "--chat", "hi", "--max-tokens", "2"])
        #expect(chatPrompt.status == 1 && chatPrompt.stderr.contains("chat_template.jinja") && chatPrompt.stderr.contains("use --prompt"),
                "\(chatPrompt.stderr)")

        let gguf = work.appendingPathComponent("merged.gguf")
        let merged = try runTailor(["merge", "--model", model.path, "--output", gguf.path])
        #expect(merged.status == 0, "\(merged.stderr)")
        #expect(try GGUFFile(path: gguf.path).metadata["tokenizer.chat_template"]?.string == broken)
        // The merged file carries the same template: the same split.
        let rawGGUF = try runTailor(["generate", "--model", gguf.path, "--prompt", "line", "--max-tokens", "2", "--temperature", "0"])
        #expect(rawGGUF.status == 0 && rawGGUF.stdout == raw.stdout, "\(rawGGUF.stderr)")
        let chatGGUF = try runTailor(["generate", "--model", gguf.path, "--chat", "hi", "--max-tokens", "2"])
        #expect(chatGGUF.status == 1 && chatGGUF.stderr.contains("\(gguf.path): tokenizer.chat_template does not compile"), "\(chatGGUF.stderr)")
    }
}
