import Foundation
import FuzzSupport
import Tailor

// The Jinja chat-template compiler and renderer on an arbitrary template, with a fixed
// conversation and small limits (a hang or runaway output past them is a finding).
let messages: [JSONValue] = [
    ["role": "system", "content": "Be brief."],
    ["role": "user", "content": "Hi <b>there</b> {{ x }}"],
    ["role": "assistant", "content": "Hello!", "tool_calls": [["name": "f", "arguments": ["a": 1, "b": [true, nil, 2.5]]]]],
]
let limits = RenderLimits(maxOutputBytes: 1 << 20, maxSteps: 200_000, maxCallDepth: 50, maxSequenceLength: 100_000)

func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let source = String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self)
    guard let template = try? ChatTemplate(source: source) else { return 0 }
    _ = try? template.render(messages: messages, tools: [["name": "f"]], addGenerationPrompt: true,
                             bosToken: "<s>", eosToken: "</s>", limits: limits)
    return 0
}

runFuzzer { data, size in fuzz(data!, size) }
