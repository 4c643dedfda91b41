/// One entry of `added_tokens` in `tokenizer.json`.
struct AddedToken: Sendable {
    var id: Int
    var content: String
    var special: Bool
    var lstrip: Bool
    var rstrip: Bool
    var singleWord: Bool
    var normalized: Bool

    init(json: JSONNode) throws {
        guard let id = try json.int("id"), id >= 0 else {
            throw json.fail(.invalidField, "missing non-negative integer field \(json.path).id")
        }
        self.id = id
        content = try json.requiredString("content")
        special = try json.bool("special", default: false)
        lstrip = try json.bool("lstrip", default: false)
        rstrip = try json.bool("rstrip", default: false)
        singleWord = try json.bool("single_word", default: false)
        normalized = try json.bool("normalized", default: !special)
    }
}

/// Finds added tokens in text the way `tokenizers`' `AddedVocabulary::find_matches` does: leftmost-longest,
/// non-overlapping matches (an Aho-Corasick scan), then `single_word`, `lstrip` and `rstrip` adjustments.
struct AddedTokenMatcher: Sendable {
    /// One searchable pattern: its bytes and the added token it stands for.
    private struct Pattern: Sendable {
        var bytes: [UInt8]
        var token: Int
    }

    private var patterns: [Pattern] = []
    /// Pattern indices by first byte, longest first (ties keep insertion order).
    private var byFirstByte: [[Int]] = Array(repeating: [], count: 256)

    var isEmpty: Bool { patterns.isEmpty }

    /// - Parameter entries: (pattern text, index into the tokenizer's added-token list), in priority order.
    init(_ entries: [(String, Int)]) {
        for (text, token) in entries where !text.isEmpty {
            patterns.append(Pattern(bytes: Array(text.utf8), token: token))
        }
        for (i, p) in patterns.enumerated() { byFirstByte[Int(p.bytes[0])].append(i) }
        for b in 0..<256 where byFirstByte[b].count > 1 {
            byFirstByte[b].sort { (patterns[$0].bytes.count, -$0) > (patterns[$1].bytes.count, -$1) }
        }
    }

    /// A split of a segment: a byte range and, for added tokens, the index of the token.
    struct Split {
        var range: Range<Int>
        var token: Int?
    }

    /// Splits `range` of `b` into plain text and added tokens, covering the whole range.
    func split(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, tokens: [AddedToken]) -> [Split] {
        var out: [Split] = []
        var startOffset = range.lowerBound
        var i = range.lowerBound
        while i < range.upperBound {
            guard let p = longestMatch(b, at: i, end: range.upperBound) else {
                i += 1
                continue
            }
            var start = i
            var stop = i + patterns[p].bytes.count
            i = stop  // the scan resumes after the raw match even if the match is discarded below
            let token = tokens[patterns[p].token]
            if token.singleWord {
                let startOK = start == range.lowerBound || !Self.endsWithWord(b, range.lowerBound, start)
                let stopOK = stop == range.upperBound || !Self.startsWithWord(b, stop, range.upperBound)
                if !startOK || !stopOK { continue }
            }
            if token.lstrip {
                start = max(Self.whitespaceStart(b, range.lowerBound, start), startOffset)
            }
            if token.rstrip {
                stop = Self.whitespaceEnd(b, stop, range.upperBound)
            }
            if startOffset < start { out.append(Split(range: startOffset..<start, token: nil)) }
            out.append(Split(range: start..<stop, token: patterns[p].token))
            startOffset = stop
        }
        if startOffset < range.upperBound { out.append(Split(range: startOffset..<range.upperBound, token: nil)) }
        return out
    }

    private func longestMatch(_ b: UnsafeBufferPointer<UInt8>, at i: Int, end: Int) -> Int? {
        for p in byFirstByte[Int(b[i])] {
            let bytes = patterns[p].bytes
            guard i + bytes.count <= end else { continue }
            var equal = true
            for k in 1..<bytes.count where b[i + k] != bytes[k] {
                equal = false
                break
            }
            if equal { return p }
        }
        return nil
    }

    private static func endsWithWord(_ b: UnsafeBufferPointer<UInt8>, _ lo: Int, _ i: Int) -> Bool {
        guard i > lo else { return false }
        return UnicodeClass.isWordCharacter(UTF8Scan.scalar(b, UTF8Scan.previousStart(b, i)).value)
    }

    private static func startsWithWord(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, _ hi: Int) -> Bool {
        guard i < hi else { return false }
        return UnicodeClass.isWordCharacter(UTF8Scan.scalar(b, i).value)
    }

    /// Start of the whitespace run ending at `i`.
    private static func whitespaceStart(_ b: UnsafeBufferPointer<UInt8>, _ lo: Int, _ i: Int) -> Int {
        var j = i
        while j > lo {
            let p = UTF8Scan.previousStart(b, j)
            guard UnicodeClass.isWhitespace(UTF8Scan.scalar(b, p).value) else { break }
            j = p
        }
        return j
    }

    /// End of the whitespace run starting at `i`.
    private static func whitespaceEnd(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, _ hi: Int) -> Int {
        var j = i
        while j < hi {
            let (v, n) = UTF8Scan.scalar(b, j)
            guard UnicodeClass.isWhitespace(v) else { break }
            j += n
        }
        return j
    }
}
