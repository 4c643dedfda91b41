import Foundation

extension DatasetEncoder {
    /// The UTF-8 byte spans of the full render written for assistant messages, found by rendering prefixes of the
    /// conversation (for templates without `{% generation %}` blocks). See ``DatasetEncoder`` for the rule.
    func assistantSpans(_ messages: [JSONValue], tools: [JSONValue]?, full: [UInt8]) throws -> [Range<Int>] {
        var spans: [Range<Int>] = []
        for (i, message) in messages.enumerated() where message["role"]?.stringValue == "assistant" {
            let before = Array(try render(Array(messages[..<i]), tools: tools, addGenerationPrompt: true).text.utf8)
            guard full.starts(with: before) else {
                throw RecordError("cannot locate assistant message \(i) in the render: the chat template rendered "
                                  + "with add_generation_prompt=true before it is not a prefix of the whole "
                                  + "conversation; use a template with {% generation %} blocks or mask all tokens",
                                  fatal: false)
            }
            let through = i == messages.count - 1 ? full
                : Array(try render(Array(messages[...i]), tools: tools, addGenerationPrompt: false).text.utf8)
            let start = before.count
            guard through.count > start else { continue }  // the template writes nothing for this message
            var end = start
            while end < through.count, end < full.count, through[end] == full[end] { end += 1 }
            if end < through.count {
                // The turn renders differently once later messages follow (Qwen3 drops the reasoning of turns
                // before the last question): in the whole conversation it runs to its end-of-turn token.
                // The marker that closes the turn rendered last, then its first occurrence in the whole render.
                let markers = ([config.eosToken].compactMap { $0 } + ChatTemplate.endOfTurnMarkers).map { Array($0.utf8)[...] }
                let closing = markers.compactMap { m in Self.firstEnd(of: m, in: through, start..<through.count).map { ($0, m) } }
                guard let marker = closing.min(by: { $0.0 < $1.0 })?.1,
                      let eot = Self.firstEnd(of: marker, in: full, start..<full.count) else {
                    throw RecordError("cannot locate assistant message \(i) in the render: the chat template writes it "
                                      + "differently once later messages follow, and no end-of-turn token (the eos_token, "
                                      + ChatTemplate.endOfTurnMarkers.joined(separator: ", ") + ") closes it; use a template "
                                      + "with {% generation %} blocks or mask all tokens", fatal: false)
                }
                end = eot
            }
            guard end > start else {
                throw RecordError("cannot locate assistant message \(i) in the render: nothing of it precedes where the "
                                  + "renders with and without the later messages part; use a template with "
                                  + "{% generation %} blocks or mask all tokens", fatal: false)
            }
            // Keep the content whole; drop whitespace the template writes after it (the "\n" after <|im_end|>).
            let contentEnd = Self.contentEnd(message["content"]?.stringValue ?? "", in: full, start..<end) ?? start
            while end > contentEnd, Self.isSpace(full[end - 1]) { end -= 1 }
            if end > start { spans.append(start..<end) }
        }
        return spans
    }

    /// The end of the first occurrence of `needle` within `range` of `bytes`, or nil (also for an empty needle).
    static func firstEnd(of needle: ArraySlice<UInt8>, in bytes: [UInt8], _ range: Range<Int>) -> Int? {
        guard let first = needle.first else { return nil }
        var i = range.lowerBound
        while i + needle.count <= range.upperBound {
            if bytes[i] == first && bytes[i..<(i + needle.count)].elementsEqual(needle) { return i + needle.count }
            i += 1
        }
        return nil
    }

    /// Where the message content (as given, or whitespace-trimmed) ends inside `range`, or nil if not found.
    static func contentEnd(_ content: String, in bytes: [UInt8], _ range: Range<Int>) -> Int? {
        let raw = Array(content.utf8)
        var trimmed = raw[...]
        while let f = trimmed.first, isSpace(f) { trimmed = trimmed.dropFirst() }
        while let l = trimmed.last, isSpace(l) { trimmed = trimmed.dropLast() }
        for needle in [raw[...], trimmed] where !needle.isEmpty {
            if let end = firstEnd(of: needle, in: bytes, range) { return end }
        }
        return nil
    }

    @inline(__always) static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }

    /// Per token, whether its byte range overlaps one of `spans` (an empty range counts when its position is
    /// inside a span). Both lists must be sorted by position.
    static func mask(_ ranges: [Range<Int>], spans: [Range<Int>]) -> [Bool] {
        var out = [Bool](repeating: false, count: ranges.count)
        var s = 0
        for (t, r) in ranges.enumerated() {
            // Spans wholly before the token can be dropped for all later tokens too (ranges are non-decreasing).
            while s < spans.count && spans[s].upperBound <= r.lowerBound { s += 1 }
            guard s < spans.count else { break }
            out[t] = r.isEmpty ? spans[s].lowerBound <= r.lowerBound : spans[s].lowerBound < r.upperBound
        }
        return out
    }
}
