import Foundation
import Testing

@testable import TailorData

/// Ids and loss masks against transformers' `return_assistant_tokens_mask` and TRL-style masks
/// (`Tests/Fixtures/make_dataset_fixtures.py`).
@Suite struct DatasetFixtureTests {
    static let root = fixturesRoot.appendingPathComponent("datasets")

    struct Case {
        let group: String, name: String, record: JSONValue, text: String, ids: [Int], mask: [Bool]
    }

    static func cases(_ group: String) throws -> [Case] {
        let json = try JSONValue(parsing: Data(contentsOf: root.appendingPathComponent("expected.json")))
        return try #require(json[group]?.arrayValue).enumerated().map { i, c in
            Case(group: group, name: c["name"]?.stringValue ?? "\(group)[\(i)]", record: c["record"]!,
                 text: c["text"]!.stringValue!, ids: c["ids"]!.arrayValue!.map { $0.intValue! },
                 mask: c["mask"]!.arrayValue!.map { $0.intValue! == 1 })
        }
    }

    static func tiny(template: String? = nil) throws -> DatasetEncoder {
        let base = try DatasetEncoder(modelDirectory: root.appendingPathComponent("tiny"))
        guard let template else { return base }
        let source = try String(contentsOf: root.appendingPathComponent(template), encoding: .utf8)
        return DatasetEncoder(tokenizer: base.tokenizer, template: try ChatTemplate(source: source), config: base.config)
    }

    static func tinyWithoutTemplate() throws -> DatasetEncoder {
        let base = try tiny()
        return DatasetEncoder(tokenizer: base.tokenizer, template: nil, config: base.config)
    }

    static func llama3(template: String) throws -> DatasetEncoder {
        let tokenizer = try Tokenizer(contentsOf: fixturesRoot.appendingPathComponent("tokenizers/llama3/tokenizer.json"))
        var config = TokenizerConfig()
        config.bosToken = "<|begin_of_text|>"
        config.eosToken = "<|eot_id|>"
        let source = try String(contentsOf: root.appendingPathComponent(template), encoding: .utf8)
        return DatasetEncoder(tokenizer: tokenizer, template: try ChatTemplate(source: source), config: config)
    }

    func check(_ encoder: DatasetEncoder, _ c: Case, format: DatasetFormat, label: String) throws {
        let (example, text) = try encoder.encode(c.record, format: format, source: "x.jsonl:1")
        #expect(Array(text.utf8) == Array(c.text.utf8), "\(label) \(c.name): text")
        #expect(example.ids == c.ids, "\(label) \(c.name): ids")
        #expect(example.mask == c.mask, "\(label) \(c.name): mask\n got \(example.mask.map { $0 ? 1 : 0 })\nwant \(c.mask.map { $0 ? 1 : 0 })")
        #expect(example.source == "x.jsonl:1")
    }

    @Test func chatMasksMatchTransformersGenerationMasks() throws {
        let generation = try Self.tiny(template: "chatml_generation.jinja")
        let plain = try Self.tiny()   // same ChatML without generation tags: spans from prefix renders
        for c in try Self.cases("chatml") {
            try check(generation, c, format: .messages, label: "generation")
            try check(plain, c, format: .messages, label: "prefix")
        }
    }

    @Test func llama3MasksMatchTransformersGenerationMasks() throws {
        let generation = try Self.llama3(template: "llama3_generation.jinja")
        let plain = try Self.llama3(template: "llama3_plain.jinja")
        for c in try Self.cases("llama3") {
            #expect(c.ids.first == 1600 && c.ids.dropFirst().first != 1600, "one BOS")
            try check(generation, c, format: .messages, label: "generation")
            try check(plain, c, format: .messages, label: "prefix")
        }
    }

    @Test func promptCompletionAndAlpacaThroughTheTemplateMatchTRLStyleMasks() throws {
        let encoder = try Self.tiny()
        for c in try Self.cases("prompt_completion_chatml") { try check(encoder, c, format: .promptCompletion, label: "pc") }
        for c in try Self.cases("alpaca_chatml") { try check(encoder, c, format: .alpaca, label: "alpaca") }
    }

    @Test func withoutATemplatePromptCompletionIsPlainTextWithBOSAndEOS() throws {
        let encoder = try Self.tinyWithoutTemplate()
        for c in try Self.cases("prompt_completion_plain") { try check(encoder, c, format: .promptCompletion, label: "pc") }
        for c in try Self.cases("alpaca_plain") { try check(encoder, c, format: .alpaca, label: "alpaca") }
        for c in try Self.cases("text") { try check(encoder, c, format: .text, label: "text") }
    }

    @Test func textIsTheTokenizersEncodingPlusEOSAllTrained() throws {
        let encoder = try Self.tiny()
        for c in try Self.cases("text") {
            try check(encoder, c, format: .text, label: "text")
            #expect(c.ids.first == 0 && c.ids.last == 1)
        }
    }

    @Test func maskAllTrainsEveryToken() throws {
        let encoder = try Self.tiny()
        for c in try Self.cases("chatml") {
            let (example, _) = try encoder.encode(c.record, format: .messages, options: DatasetOptions(mask: .all))
            #expect(example.ids == c.ids)
            #expect(example.mask.allSatisfy { $0 })
        }
    }
}
