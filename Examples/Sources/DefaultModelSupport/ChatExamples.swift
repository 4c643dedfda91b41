import Foundation
import Tailor

/// The ChatML template of the default model (Qwen / SmolLM2 style, no default system prompt).
public let chatMLTemplate =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

/// The conversations of a chat JSONL file (`{"messages": [{"role": …, "content": …}, …]}` per line).
public func readConversations(_ url: URL) throws -> [[JSONValue]] {
    let text = try String(contentsOf: url, encoding: .utf8)
    return try text.split(separator: "\n").map { line in
        guard case .array(let messages)? = try JSONValue(parsing: Data(line.utf8))["messages"] else {
            throw TailorError("\(url.path): a line without a messages list")
        }
        return messages
    }
}

/// Tokenizes a conversation the way chat fine-tuning does: the template's text encoded without
/// added BOS/EOS, trained tokens = every assistant turn's content and its end-of-turn token.
/// `all` trains every token instead (pretraining).
public func tokenizeConversation(_ messages: [JSONValue], tokenizer: Tokenizer, template: ChatTemplate,
                                 endOfTurn: Int, all: Bool = false, source: String = "") throws -> TokenizedExample {
    let ids = tokenizer.encode(try template.render(messages: messages).text, addSpecialTokens: false)
    var mask = [Bool](repeating: all, count: ids.count)
    if !all {
        for (i, m) in messages.enumerated() where m["role"]?.stringValue == "assistant" {
            let start = tokenizer.encode(try template.render(messages: Array(messages[..<i]), addGenerationPrompt: true).text,
                                         addSpecialTokens: false).count
            let end = tokenizer.encode(try template.render(messages: Array(messages[...i])).text, addSpecialTokens: false).count
            precondition(end <= ids.count, "the template's prefixes do not tokenize as prefixes")
            // Train up to and including <|im_end|>, not the newline after it.
            let last = (start..<end).last { ids[$0] == endOfTurn } ?? (end - 1)
            for j in start...last { mask[j] = true }
        }
    }
    return TokenizedExample(ids: ids, mask: mask, source: source)
}

/// The prompt ids for a question: a user turn and the assistant header.
public func promptIDs(_ question: String, tokenizer: Tokenizer, template: ChatTemplate) throws -> [Int] {
    let text = try template.render(messages: [.object(["role": "user", "content": .string(question)])], addGenerationPrompt: true).text
    return tokenizer.encode(text, addSpecialTokens: false)
}

/// Prints a line unbuffered (progress stays visible when the output goes to a file or a pipe).
public func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
