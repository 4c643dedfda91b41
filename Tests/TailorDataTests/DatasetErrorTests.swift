import Foundation
import Testing

@testable import TailorData

/// Bad dataset input throws a ``DatasetError`` naming `file:line` and the problem, or is skipped and reported.
@Suite struct DatasetErrorTests {
    static let good = #"{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]}"#

    /// Writes `bytes` to a fresh `data.jsonl` and returns its URL.
    static func file(bytes: [UInt8], name: String = "data.jsonl") throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tailor-dataset-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    static func file(_ lines: [String], name: String = "data.jsonl") throws -> URL {
        try file(bytes: Array(lines.joined(separator: "\n").utf8) + [0x0A], name: name)
    }

    /// Loads `url` and checks the error names `data.jsonl:<line>:` and contains `fragment`.
    func expectError(_ url: URL, line: Int?, _ fragment: String, options: DatasetOptions = DatasetOptions(),
                     encoder: DatasetEncoder? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let encoder = try encoder ?? DatasetFixtureTests.tiny()
        do {
            let loaded = try encoder.load(url, options: options)
            Issue.record("loaded \(loaded.examples.count) examples, expected an error containing \(fragment)",
                         sourceLocation: sourceLocation)
        } catch let e as DatasetError {
            let name = url.lastPathComponent, location = line.map { "\(name):\($0): " } ?? "\(name): "
            #expect(e.description.contains(location), "\(e)", sourceLocation: sourceLocation)
            #expect(e.description.contains(url.path), "\(e)", sourceLocation: sourceLocation)
            #expect(e.description.contains(fragment), "\(e)", sourceLocation: sourceLocation)
        }
    }

    func lines(badLine: String) throws -> URL { try Self.file([Self.good, Self.good, badLine, Self.good]) }

    @Test func malformedJSON() throws {
        try expectError(lines(badLine: #"{"messages": [}"#), line: 3, "invalid JSON")
    }

    @Test func nonObjectLine() throws {
        try expectError(lines(badLine: #"["user", "Hi"]"#), line: 3, "expected a JSON object, got array")
    }

    @Test func wrongTypes() throws {
        try expectError(lines(badLine: #"{"messages": "Hi"}"#), line: 3, #""messages" should be an array"#)
        try expectError(lines(badLine: #"{"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": "x"}]}"#),
                        line: 3, #""messages"[0].content should be a string, got number"#)
        try expectError(lines(badLine: #"{"messages": [{"role": 1, "content": "a"}]}"#), line: 3, #""messages"[0].role should be a string"#)
        try expectError(lines(badLine: #"{"messages": ["hi"]}"#), line: 3, #""messages"[0] should be an object"#)
        try expectError(Self.file([#"{"text": "a"}"#, #"{"text": ["a"]}"#]), line: 2, #""text" should be a string, got array"#)
        try expectError(lines(badLine: #"{"messages": [{"role": "assistant", "content": "x"}], "tools": {}}"#),
                        line: 3, #""tools" should be an array"#)
    }

    @Test func missingFields() throws {
        try expectError(Self.file([#"{"prompt": "a", "completion": "b"}"#, #"{"prompt": "a"}"#]), line: 2, #"has "prompt" but no "completion""#)
        try expectError(Self.file([#"{"foo": 1}"#]), line: 1, #"no known format"#)
        try expectError(lines(badLine: #"{"messages": [{"role": "user"}, {"role": "assistant", "content": "x"}]}"#),
                        line: 3, #""messages"[0].content is missing"#)
        try expectError(lines(badLine: #"{"messages": [{"content": "x"}]}"#), line: 3, #""messages"[0].role is missing"#)
        // With an explicit format, the format's keys are required.
        try expectError(Self.file([#"{"text": "a"}"#]), line: 1, #""prompt" is missing"#,
                        options: DatasetOptions(format: .promptCompletion))
    }

    @Test func emptyFields() throws {
        try expectError(Self.file([#"{"text": "a"}"#, #"{"text": ""}"#]), line: 2, #""text" is empty"#)
        try expectError(lines(badLine: #"{"messages": []}"#), line: 3, #""messages" is empty"#)
        try expectError(Self.file([#"{"prompt": "a", "completion": ""}"#]), line: 1, #""completion" is empty"#)
        try expectError(lines(badLine: #"{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": ""}]}"#),
                        line: 3, #""messages"[1].content is empty"#)
    }

    @Test func mixedFormatsInOneFile() throws {
        try expectError(Self.file([#"{"text": "a"}"#, "", #"{"prompt": "a", "completion": "b"}"#]), line: 3,
                        "this line is in prompt/completion format but line 1 is in text format")
    }

    @Test func ambiguousRecord() throws {
        try expectError(Self.file([#"{"text": "a", "prompt": "b", "completion": "c"}"#]), line: 1, "ambiguous record")
    }

    @Test func unknownRole() throws {
        try expectError(lines(badLine: #"{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "robot", "content": "c"}]}"#),
                        line: 3, #""messages"[2].role "robot" is not one of system, user, assistant, tool"#)
    }

    @Test func conversationWithoutAssistantTurn() throws {
        try expectError(lines(badLine: #"{"messages": [{"role": "system", "content": "a"}, {"role": "user", "content": "b"}]}"#),
                        line: 3, "has no assistant turn")
    }

    @Test func invalidUTF8() throws {
        let bytes = Array((Self.good + "\n" + #"{"text": "caf"#).utf8) + [0xC3, 0x28] + Array("\"}\n".utf8)
        try expectError(Self.file(bytes: bytes), line: 2, "invalid UTF-8")
    }

    @Test func nulBytes() throws {
        let bytes = Array((Self.good + "\n" + #"{"messages": [{"role": "user", "content": "a"#).utf8) + [0]
            + Array(#"b"}, {"role": "assistant", "content": "c"}]}"#.utf8)
        try expectError(Self.file(bytes: bytes), line: 2, "contains a NUL byte at column")
        try expectError(lines(badLine: #"{"messages": [{"role": "user", "content": "a\u0000"}, {"role": "assistant", "content": "c"}]}"#),
                        line: 3, #""messages"[0].content contains a NUL character"#)
    }

    @Test func emptyFileAndBlankLinesOnly() throws {
        try expectError(Self.file(bytes: []), line: 1, "the file is empty")
        try expectError(Self.file(bytes: Array("\n  \n\t\r\n\n".utf8)), line: 1, "only blank lines")
    }

    @Test func templateErrorsNameTheLine() throws {
        // Mistral's template raises on a system message.
        let base = try DatasetFixtureTests.tiny()
        let source = try String(contentsOf: fixturesRoot.appendingPathComponent("templates/mistral-7b-instruct-v0.2.jinja"), encoding: .utf8)
        let mistral = DatasetEncoder(tokenizer: base.tokenizer, template: try ChatTemplate(source: source), config: base.config)
        try expectError(lines(badLine: #"{"messages": [{"role": "system", "content": "a"}, {"role": "user", "content": "b"}, {"role": "assistant", "content": "c"}]}"#),
                        line: 3, "chat template: Conversation roles must alternate", encoder: mistral)
    }

    @Test func missingTemplateIsNotSkippable() throws {
        let encoder = try DatasetFixtureTests.tinyWithoutTemplate()
        try expectError(lines(badLine: Self.good), line: 1, "needs a chat template", options: DatasetOptions(skipBad: true), encoder: encoder)
    }

    @Test func skipBadCountsAndReportsEachSkippedLine() throws {
        let url = try Self.file([Self.good, #"{"messages": [}"#, "", Self.good, #"{"text": "x"}"#, #"{"messages": [{"role": "robot", "content": "a"}]}"#])
        let loaded = try DatasetFixtureTests.tiny().load(url, options: DatasetOptions(skipBad: true))
        #expect(loaded.examples.count == 2)
        #expect(loaded.examples.map(\.source) == ["\(url.path):1", "\(url.path):4"])
        #expect(loaded.skipped.map(\.location) == ["\(url.path):2", "\(url.path):5", "\(url.path):6"])
        #expect(loaded.skipped[0].reason.contains("invalid JSON"))
        #expect(loaded.skipped[1].reason.contains("text format but line 1 is in messages format"))
        #expect(loaded.skipped[2].reason.contains("\"robot\""))
        // Everything skipped is still an error.
        try expectError(Self.file([#"{"x": 1}"#, "[]"]), line: nil, "no usable examples: all 2 lines were skipped",
                        options: DatasetOptions(skipBad: true))
    }

    /// A file that starts with `[` is one JSON array of records (LLaMA-Factory's and `alpaca_data.json`'s
    /// layout): records load as the same lines would, each named by the line it starts on, and a bad array
    /// or record is an error at its line.
    @Test func jsonArrayFilesLoadLikeJSONLines() throws {
        let records = [#"{"text": "Hi, [there]"}"#, #"{"text": "a \" } ] , brace \\"}"#, "{\n  \"text\": \"two\\nlines\"\n}"]
        let encoder = try DatasetFixtureTests.tiny()
        let lines = try encoder.load(try Self.file(records.map { $0.replacingOccurrences(of: "\n", with: " ") }))
        let array = try encoder.load(try Self.file(bytes: Array(("\u{FEFF}\n [ " + records.joined(separator: " ,\n") + "\n]\n").utf8), name: "data.json"))
        #expect(array.examples.map(\.ids) == lines.examples.map(\.ids) && array.texts == lines.texts)
        #expect(array.examples.map(\.source).map { $0.split(separator: ":").last! } == ["2", "3", "4"])
        let cases: [(String, Int?, String)] = [
            ("[\n" + records[0] + ",\n", 1, "the JSON array that starts here is not closed"),
            ("[]", 1, "the JSON array is empty"),
            ("[" + records[0] + ",\n,\n" + records[1] + "]", 2, "expected a JSON object before ',' at column 1"),
            ("[" + records[0] + ",]", 1, "expected a JSON object before ']'"),
            ("[" + records[0] + "]\n{}", 2, "unexpected text after the JSON array that closes on line 1"),
            ("[" + records[0] + ",\n  {\"text\": \n \"x\" \"y\"}]", 2, #"invalid JSON: expected ',' or '}', found '"' at line 3, column 6"#),
            ("[" + records[0] + ",\n" + #"{"prompt": "a", "completion": "b"}"# + "]", 2,
             "this record is in prompt/completion format but the record at line 1 is in text format"),
        ]
        for (text, line, fragment) in cases {
            try expectError(try Self.file(bytes: Array(text.utf8), name: "data.json"), line: line, fragment)
        }
    }

    @Test func filesResolveWithClearErrors() throws {
        let dir = try Self.file([Self.good], name: "train.jsonl").deletingLastPathComponent()
        try Data().write(to: dir.appendingPathComponent("valid.jsonl"))
        let r = try DatasetFiles.resolve(dir)
        #expect(r.train.lastPathComponent == "train.jsonl" && r.valid?.lastPathComponent == "valid.jsonl" && r.test == nil)
        let single = try DatasetFiles.resolve(dir.appendingPathComponent("train.jsonl"))
        #expect(single.valid == nil)
        let cases: [(URL, String)] = [
            (dir.appendingPathComponent("nope.jsonl"), "no such file or folder"),
            (try Self.file([Self.good], name: "data.csv"), "expected a .jsonl file"),
            (try Self.file([Self.good], name: "other.jsonl").deletingLastPathComponent(), "the folder has no train.jsonl (it has other.jsonl)"),
            (dir, "the folder has both valid.jsonl and valid.json; keep one"),
        ]
        // .json files and folders of them resolve like .jsonl ones.
        let jsonDir = try Self.file(["[" + Self.good + "]"], name: "train.json").deletingLastPathComponent()
        try Data().write(to: jsonDir.appendingPathComponent("valid.json"))
        let j = try DatasetFiles.resolve(jsonDir)
        #expect(j.train.lastPathComponent == "train.json" && j.valid?.lastPathComponent == "valid.json")
        try Data().write(to: dir.appendingPathComponent("valid.json"))
        for (url, fragment) in cases {
            #expect(throws: DatasetError.self) { try DatasetFiles.resolve(url) }
            do { _ = try DatasetFiles.resolve(url) } catch let e as DatasetError {
                #expect(e.description.hasPrefix(url.path + ": ") && e.description.contains(fragment), "\(e)")
            }
        }
    }

    /// A template that does not compile: text records encode, every record that needs the template
    /// fails at its line with the template's file, and `skipBad` does not skip them (a file of
    /// text and chat lines would otherwise train on its text alone).
    @Test func brokenTemplateStopsOnlyRecordsThatNeedIt() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tailor-broken-template-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: fixturesRoot.appendingPathComponent("datasets/tiny"), to: dir)
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.removeItem(at: dir.appendingPathComponent("chat_template.jinja"))
        try Data("{% for %}".utf8).write(to: dir.appendingPathComponent("chat_template.jinja"))
        let encoder = try DatasetEncoder(modelDirectory: dir)
        #expect(encoder.template == nil && encoder.templateProblem?.contains("chat_template.jinja: chat template does not compile") == true)
        #expect(try encoder.load(try Self.file([#"{"text": "Hi"}"#, #"{"text": "Yo"}"#])).examples.count == 2)
        for record in [Self.good, #"{"prompt": "Hi", "completion": "Yo"}"#, #"{"instruction": "Hi", "output": "Yo"}"#] {
            for skipBad in [false, true] {
                var options = DatasetOptions()
                options.skipBad = skipBad
                try expectError(try Self.file([#"{"text": "Hi"}"#, record]), line: 2,
                                "the model's chat template cannot be used: \(dir.path)/chat_template.jinja", options: options, encoder: encoder)
            }
        }
    }

    @Test func modelFolderWithoutTokenizer() throws {
        let dir = fixturesRoot.appendingPathComponent("models/llama-gqa/model")
        #expect { try DatasetEncoder(modelDirectory: dir) } throws: { e in
            "\(e)".contains(dir.appendingPathComponent("tokenizer.json").path) && "\(e)".contains("not found")
        }
    }
}
