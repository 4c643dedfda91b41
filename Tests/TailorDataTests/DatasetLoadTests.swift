import Foundation
import Testing

@testable import TailorData

/// Loading files: detection, remapping, blank lines, truncation, splits, straddling tokens, speed.
@Suite struct DatasetLoadTests {
    @Test func detectsEachFormatAndRemapsKeys() throws {
        let encoder = try DatasetFixtureTests.tiny()
        let cases: [(String, DatasetFormat, [String: String])] = [
            (#"{"text": "hello"}"#, .text, [:]),
            (#"{"prompt": "a", "completion": "b", "id": 3}"#, .promptCompletion, [:]),
            (#"{"question": "a", "answer": "b"}"#, .promptCompletion, ["prompt": "question", "completion": "answer"]),
            (#"{"instruction": "a", "output": "b"}"#, .alpaca, [:]),
            (#"{"conversation": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}"#, .messages,
             ["messages": "conversation"]),
        ]
        for (line, format, keys) in cases {
            let url = try DatasetErrorTests.file([line, line])
            let loaded = try encoder.load(url, options: DatasetOptions(keys: keys))
            #expect(loaded.format == format, "\(line)")
            #expect(loaded.examples.count == 2 && loaded.texts.count == 2)
            #expect(loaded.trainedTokens > 0 && loaded.totalTokens > loaded.trainedTokens)
        }
        // A remapped prompt/completion record encodes like the canonical one.
        let a = try encoder.encode(try JSONValue(parsing: #"{"q": "x", "a": "y"}"#), format: .promptCompletion,
                                   options: DatasetOptions(keys: ["prompt": "q", "completion": "a"]))
        let b = try encoder.encode(try JSONValue(parsing: #"{"prompt": "x", "completion": "y"}"#), format: .promptCompletion)
        #expect(a.example.ids == b.example.ids && a.example.mask == b.example.mask)
    }

    @Test func blankLinesAnywhereAreSkippedButCountedAndABOMIsIgnored() throws {
        let good = DatasetErrorTests.good
        let url = try DatasetErrorTests.file(bytes: [0xEF, 0xBB, 0xBF] + Array("\(good)\r\n\n   \n\(good)\n\n".utf8))
        let loaded = try DatasetFixtureTests.tiny().load(url)
        #expect(loaded.examples.map(\.source) == ["\(url.path):1", "\(url.path):4"])
        #expect(loaded.skipped.isEmpty)
    }

    @Test func truncationKeepsTheStartAndCounts() throws {
        let url = try DatasetErrorTests.file([#"{"text": "a b c d e f g h"}"#, #"{"text": "a"}"#])
        let encoder = try DatasetFixtureTests.tiny()
        let full = try encoder.load(url)
        let cut = try encoder.load(url, options: DatasetOptions(maxLength: 5))
        #expect(cut.truncated == 1)
        #expect(cut.examples[0].ids == Array(full.examples[0].ids.prefix(5)))
        #expect(cut.examples[1] == full.examples[1])
        #expect(cut.texts == full.texts)
    }

    @Test func validationSplitIsSeededAndHoldsOutAtLeastOne() {
        let items = Array(0..<100)
        let a = splitValidation(items, fraction: 0.1, seed: 7), b = splitValidation(items, fraction: 0.1, seed: 7)
        #expect(a.train == b.train && a.valid == b.valid)
        #expect(a.valid.count == 10 && a.train.count == 90)
        #expect(Set(a.train + a.valid) == Set(items))
        #expect(a.valid == a.valid.sorted())
        #expect(splitValidation(items, fraction: 0.1, seed: 8).valid != a.valid)
        #expect(splitValidation([1, 2], fraction: 0.01, seed: 1).valid.count == 1)
        #expect(splitValidation([1, 2, 3], fraction: 0.9, seed: 1).train.count == 1)
        #expect(splitValidation([1], fraction: 0.5, seed: 1).valid.isEmpty)
        #expect(splitValidation(items, fraction: 0, seed: 1).valid.isEmpty)
        // Pinned so the choice stays stable across releases.
        #expect(splitValidation(Array(0..<10), fraction: 0.2, seed: 42).valid == Self.pinnedSplit)
    }
    static let pinnedSplit = [0, 9]

    @Test func tokensStraddlingASpanBoundaryAreTrained() {
        let ranges = [0..<3, 3..<6, 6..<9, 9..<9, 9..<12, 12..<15]
        // Span 5..<10 starts inside token 1 and ends inside token 4; the empty token at 9 lies inside.
        #expect(DatasetEncoder.mask(ranges, spans: [5..<10]) == [false, true, true, true, true, false])
        #expect(DatasetEncoder.mask(ranges, spans: [0..<1, 14..<15]) == [true, false, false, false, false, true])
        #expect(DatasetEncoder.mask(ranges, spans: []) == [false, false, false, false, false, false])
    }

    @Test func assistantSpanKeepsContentWhitespaceButDropsItAfterTheMarker() throws {
        let encoder = try DatasetFixtureTests.tiny()
        let record = try JSONValue(parsing: #"{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b\n\n"}]}"#)
        let (example, text) = try encoder.encode(record, format: .messages)
        let trained = encoder.tokenizer.decode(zip(example.ids, example.mask).filter { $0.1 }.map { $0.0 })
        #expect(trained == "b\n\n<|im_end|>")
        #expect(text.hasSuffix("<|im_end|>\n"))
    }

    @Test func aTemplateThatIsNotPrefixStableIsRejected() throws {
        // The generation prompt differs from the header it writes for assistant turns.
        let base = try DatasetFixtureTests.tiny()
        let source = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}{% if add_generation_prompt %}<bot>{% endif %}"
        let encoder = DatasetEncoder(tokenizer: base.tokenizer, template: try ChatTemplate(source: source), config: base.config)
        #expect { try encoder.encode(JSONValue(parsing: DatasetErrorTests.good), format: .messages, source: "f.jsonl:3") } throws: { e in
            "\(e)".hasPrefix("f.jsonl:3: cannot locate assistant message 1") && "\(e)".contains("{% generation %}")
        }
        // Masking everything needs no spans.
        let all = try encoder.encode(JSONValue(parsing: DatasetErrorTests.good), format: .messages, options: DatasetOptions(mask: .all))
        #expect(all.example.mask.allSatisfy { $0 })
    }

    /// A template that writes a turn differently once a later question follows (as Qwen3's drops earlier
    /// reasoning and adds an empty think block only after the last question): the earlier turn is still
    /// trained, up to its end-of-turn token in the whole render, and the last turn as the template writes it.
    @Test func turnsATemplateRewritesRunToTheirEndOfTurn() throws {
        let base = try DatasetFixtureTests.tiny()
        func encoder(end: String) throws -> DatasetEncoder {
            let source = #"{%- set ns = namespace(last=0) %}{%- for m in messages %}{%- if m.role == 'user' %}{%- set ns.last = loop.index0 %}{%- endif %}{%- endfor %}"#
                + #"{%- for m in messages %}{{- '<|im_start|>' + m.role + '\n' }}{%- if m.role == 'assistant' and loop.index0 > ns.last %}<think></think>{%- endif %}"#
                + #"{{- m.content + '\#(end)\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}"#
            return DatasetEncoder(tokenizer: base.tokenizer, template: try ChatTemplate(source: source), config: base.config)
        }
        let record = try JSONValue(parsing: #"{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, "#
                                   + #"{"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}]}"#)
        let e = try encoder(end: "<|im_end|>")
        let (example, text) = try e.encode(record, format: .messages)
        #expect(text.contains("assistant\nb<|im_end|>") && text.contains("assistant\n<think></think>d<|im_end|>"), "\(text)")
        let trained = e.tokenizer.decode(zip(example.ids, example.mask).filter { $0.1 }.map { $0.0 })
        #expect(trained == "b<|im_end|><think></think>d<|im_end|>", "\(trained)")
        // No known end-of-turn marker closes the rewritten turn: an error, not a turn silently left untrained.
        #expect { try encoder(end: "<END>").encode(record, format: .messages, source: "f.jsonl:2") } throws: { e in
            "\(e)".hasPrefix("f.jsonl:2: cannot locate assistant message 1") && "\(e)".contains("no end-of-turn token")
        }
    }

    /// Template variables (`--template-kwargs`) reach every render, the prefix renders that locate a turn
    /// included: with Qwen3's `enable_thinking: false` the generation prompt holds the empty think block,
    /// so the block is prompt and only the answer is trained. A render's `extra` overrides them; names the
    /// render sets, and text that is not a JSON object, are refused.
    @Test func templateVariablesReachEveryRender() throws {
        let base = try DatasetFixtureTests.tiny()
        let source = #"{%- for m in messages %}{{- '<|im_start|>' + m.role + '\n' }}{%- if m.role == 'assistant' and loop.last %}<think></think>{%- endif %}"#
            + #"{{- m.content + '<|im_end|>\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}"#
            + #"{%- if enable_thinking is defined and enable_thinking is false %}<think></think>{%- endif %}{%- endif %}"#
        var e = DatasetEncoder(tokenizer: base.tokenizer, template: try ChatTemplate(source: source), config: base.config)
        let record = try JSONValue(parsing: #"{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}"#)
        func trained() throws -> String {
            let (example, _) = try e.encode(record, format: .messages)
            return e.tokenizer.decode(zip(example.ids, example.mask).filter { $0.1 }.map { $0.0 })
        }
        #expect(try trained() == "<think></think>b<|im_end|>")
        try e.setTemplateVariables(ChatTemplate.variables(json: #"{"enable_thinking": false}"#, source: "--template-kwargs"), source: "--template-kwargs")
        #expect(try trained() == "b<|im_end|>")

        var t = try ChatTemplate(source: "{{ x }}")
        t.variables = ["x": 1]
        #expect(try t.render(messages: []).text == "1")
        #expect(try t.render(messages: [], extra: ["x": 2]).text == "2")
        for (json, message) in [("[1]", #"--template-kwargs: expected a JSON object such as {"enable_thinking": false}, got [1]"#),
                                (#"{"messages": []}"#, #"--template-kwargs: "messages" is set by the render itself (reserved: messages, tools, documents, add_generation_prompt)"#)] {
            #expect { try ChatTemplate.variables(json: json, source: "--template-kwargs") } throws: { "\($0)" == message }
        }
        #expect { try ChatTemplate.variables(json: "{", source: "--template-kwargs") } throws: { "\($0)".hasPrefix("--template-kwargs: not JSON") }
        var untemplated = DatasetEncoder(tokenizer: base.tokenizer, template: nil, config: base.config)
        #expect { try untemplated.setTemplateVariables(["x": 1], source: "--template-kwargs") } throws: {
            "\($0)" == "--template-kwargs: the model has no usable chat template for these variables"
        }
    }

    /// Many lines load with the right `file:line` sources (throughput is measured in Benchmarks,
    /// not asserted here).
    @Test func manyLinesKeepTheirLineNumbers() throws {
        let n = 5_000
        var lines: [String] = []
        lines.reserveCapacity(n)
        for i in 0..<n {
            lines.append(#"{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is \#(i) + \#(i)?"}, {"role": "assistant", "content": "It is \#(2 * i)."}]}"#)
        }
        let url = try DatasetErrorTests.file(lines)
        let loaded = try DatasetFixtureTests.tiny().load(url)
        #expect(loaded.examples.count == n)
        #expect(loaded.examples[n - 1].source == "\(url.path):\(n)")
        #expect(loaded.texts[n - 1].contains("It is \(2 * (n - 1)).<|im_end|>"))
    }
}
