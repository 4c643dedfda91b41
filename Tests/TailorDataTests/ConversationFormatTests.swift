import Foundation
import Testing

@testable import TailorData

/// ShareGPT records and multi-part content become the same conversation as the plain messages record they
/// spell, token for token and mask for mask; every malformed turn or part is named.
@Suite struct ConversationFormatTests {
    static let messages = #"{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}, "#
        + #"{"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Bye"}, {"role": "assistant", "content": "Ciao"}]}"#

    func encode(_ line: String, _ format: DatasetFormat, keys: [String: String] = [:], template: String? = nil) throws
        -> (ids: [Int], mask: [Bool], text: String) {
        let (example, text) = try DatasetFixtureTests.tiny(template: template).encode(try JSONValue(parsing: line), format: format,
                                                                                      options: DatasetOptions(keys: keys))
        return (example.ids, example.mask, text)
    }

    @Test func shareGPTEncodesLikeMessages() throws {
        let expected = try encode(Self.messages, .messages)
        #expect(expected.mask.contains(true) && expected.mask.contains(false))
        let turns = #"[{"from": "human", "value": "Hi there"}, {"from": "gpt", "value": "Hello"}, "#
            + #"{"from": "user", "value": "Bye"}, {"from": "assistant", "value": "Ciao"}]"#
        let variants: [(String, [String: String])] = [
            (#"{"conversations": [{"from": "system", "value": "Be brief."}, "# + turns.dropFirst() + "}", [:]),
            (#"{"system": "Be brief.", "conversations": "# + turns + "}", [:]),  // LLaMA-Factory's system key
            (#"{"sys": "Be brief.", "dialog": "# + turns + ", \"id\": 7}", ["conversations": "dialog", "system": "sys"]),
            // Turns already in {role, content} form, under the ShareGPT key.
            (Self.messages.replacingOccurrences(of: #""messages""#, with: #""conversations""#), [:]),
        ]
        for (line, keys) in variants {
            let got = try encode(line, .sharegpt, keys: keys)
            #expect(got.ids == expected.ids && got.mask == expected.mask && got.text == expected.text, "\(line)")
        }
        // Detected from the key, and named by either spelling.
        let url = try DatasetErrorTests.file([variants[1].0, variants[0].0])
        let loaded = try DatasetFixtureTests.tiny().load(url)
        #expect(loaded.format == .sharegpt && loaded.examples.map(\.ids) == [expected.ids, expected.ids])
        #expect(DatasetFormat(name: "sharegpt") == .sharegpt && DatasetFormat(name: "conversations") == .sharegpt)
        // An empty system key adds nothing; observation is a tool turn.
        let empty = try encode(#"{"system": "", "conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}]}"#, .sharegpt)
        let plain = try encode(#"{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}"#, .messages)
        #expect(empty.ids == plain.ids && empty.mask == plain.mask)
        let tool = try encode(#"{"conversations": [{"from": "human", "value": "a"}, {"from": "observation", "value": "42"}, {"from": "gpt", "value": "b"}]}"#, .sharegpt)
        let toolMessages = try encode(#"{"messages": [{"role": "user", "content": "a"}, {"role": "tool", "content": "42"}, {"role": "assistant", "content": "b"}]}"#, .messages)
        #expect(tool.ids == toolMessages.ids && tool.mask == toolMessages.mask)
        // Tools as a list, or as that list in a JSON string (LLaMA-Factory), reach the template alike.
        let qwen = "../templates/qwen2.5-instruct.jinja", conversation = #""conversations": \#(turns)"#
        let schema = #"{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}"#
        let listed = try encode(#"{\#(conversation), "tools": [\#(schema)]}"#, .sharegpt, template: qwen)
        let stringed = try encode(#"{\#(conversation), "tools": \#(JSONValue.string("[\(schema)]").serialized())}"#, .sharegpt,
                                  template: qwen)
        let bare = try encode(#"{\#(conversation)}"#, .sharegpt, template: qwen)
        #expect(listed.ids == stringed.ids && listed.text == stringed.text && listed.text != bare.text)
    }

    @Test func textPartsAreJoined() throws {
        let expected = try encode(Self.messages, .messages)
        let parts = Self.messages
            .replacingOccurrences(of: #""content": "Hi there""#, with: #""content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}]"#)
            .replacingOccurrences(of: #""content": "Ciao""#, with: #""content": [{"type": "text", "text": "Ciao"}]"#)
        #expect(parts != Self.messages)
        let got = try encode(parts, .messages)
        #expect(got.ids == expected.ids && got.mask == expected.mask && got.text == expected.text)
    }

    @Test func malformedTurnsAndPartsAreNamed() throws {
        func expectError(_ line: String, _ fragment: String, keys: [String: String] = [:], sourceLocation: SourceLocation = #_sourceLocation) throws {
            let single = try DatasetErrorTests.file([line])
            do {
                let loaded = try DatasetFixtureTests.tiny().load(single, options: DatasetOptions(keys: keys))
                Issue.record("loaded \(loaded.examples.count), expected \(fragment)", sourceLocation: sourceLocation)
            } catch let e as DatasetError {
                #expect(e.description.hasPrefix("\(single.path):1: ") && e.description.contains(fragment), "\(e)", sourceLocation: sourceLocation)
            }
        }
        let user = #"{"from": "human", "value": "a"}"#, gpt = #"{"from": "gpt", "value": "b"}"#
        try expectError(#"{"conversations": "hi"}"#, #""conversations" should be an array of {"from", "value"} objects, got string"#)
        try expectError(#"{"conversations": []}"#, #""conversations" is empty"#)
        try expectError(#"{"conversations": [\#(user), 3]}"#, #""conversations"[1] should be an object with "from" and "value", got number"#)
        try expectError(#"{"conversations": [{"value": "a"}, \#(gpt)]}"#, #""conversations"[0].from is missing"#)
        try expectError(#"{"conversations": [{"from": 1, "value": "a"}, \#(gpt)]}"#, #""conversations"[0].from should be a string, got number"#)
        try expectError(#"{"conversations": [\#(user), {"from": "function_call", "value": "{}"}]}"#,
                        #""conversations"[1].from "function_call" is not one of system, human, user, gpt, assistant, tool, observation"#)
        try expectError(#"{"conversations": [\#(user), {"from": "gpt"}]}"#, #""conversations"[1].value is missing"#)
        try expectError(#"{"conversations": [\#(user), {"from": "gpt", "value": ""}]}"#, #""conversations"[1].value is empty"#)
        try expectError(#"{"conversations": [\#(user), {"from": "gpt", "value": ["b"]}]}"#, #""conversations"[1].value should be a string, got array"#)
        try expectError(#"{"conversations": [\#(user), {"role": "bot", "content": "b"}]}"#, #""conversations"[1].role "bot" is not one of"#)
        try expectError(#"{"conversations": [\#(user)]}"#, #""conversations" has no assistant turn"#)
        try expectError(#"{"system": 5, "conversations": [\#(user), \#(gpt)]}"#, #""system" should be a string, got number"#)
        try expectError(#"{"system": "s", "conversations": [{"from": "system", "value": "t"}, \#(user), \#(gpt)]}"#,
                        #"has both "system" and a system turn at "conversations"[0]"#)
        try expectError(#"{"dialog": [\#(user)]}"#, #""dialog" has no assistant turn"#, keys: ["conversations": "dialog"])
        try expectError(#"{"conversations": [\#(user), \#(gpt)], "tools": "{}"}"#, #""tools" is a string that does not hold a JSON array"#)
        try expectError(#"{"conversations": [\#(user), \#(gpt)], "tools": "[1]"}"#, #""tools"[0] should be an object, got number"#)

        func parts(_ json: String) -> String { #"{"messages": [{"role": "user", "content": \#(json)}, {"role": "assistant", "content": "b"}]}"# }
        try expectError(parts("[]"), #""messages"[0].content is an empty list of parts"#)
        try expectError(parts(#"["a"]"#), #""messages"[0].content[0] should be an object like {"type": "text", "text": "…"}, got string"#)
        try expectError(parts(#"[{"text": "a"}]"#), #""messages"[0].content[0].type is missing"#)
        try expectError(parts(#"[{"type": 1}]"#), #""messages"[0].content[0].type should be a string, got number"#)
        try expectError(parts(#"[{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": "x"}}]"#),
                        #""messages"[0].content[1].type is "image_url": only text parts can be trained"#)
        try expectError(parts(#"[{"type": "text"}]"#), #""messages"[0].content[0].text is missing"#)
        try expectError(parts(#"[{"type": "text", "text": 2}]"#), #""messages"[0].content[0].text should be a string, got number"#)
        try expectError(parts(#"[{"type": "text", "text": ""}]"#), #""messages"[0].content is empty"#)
        try expectError(parts(#"[{"type": "text", "text": "a\u0000"}]"#), #""messages"[0].content[0].text contains a NUL character"#)
    }

    @Test func remappedKeysAreChecked() throws {
        #expect(try DatasetOptions.keys(["prompt=q", " completion = a "], source: "--key") == ["prompt": "q", "completion": "a"])
        for (pair, fragment) in [("promt=q", #"--key: "promt" is not a key Tailor reads; the keys that can be remapped are text, "#),
                                 ("prompt", #"--key: "prompt" should be canonical=fileKey"#), ("=q", #"--key: "=q" should be"#),
                                 ("prompt=", #"--key: "prompt=" should be"#)] {
            let e = #expect(throws: DatasetError.self) { try DatasetOptions.keys([pair], source: "--key") }
            #expect(e?.description.contains(fragment) == true, "\(String(describing: e))")
        }
        for key in DatasetOptions.canonicalKeys { _ = try DatasetOptions.keys(["\(key)=x"], source: "--key") }
    }
}
