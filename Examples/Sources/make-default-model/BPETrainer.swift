import Foundation
import Tailor

/// A byte-level BPE tokenizer learned from text, GPT-2 style: text is split by the GPT-2 regex,
/// each piece's bytes are mapped to printable characters, and the most frequent adjacent pair is
/// merged until the vocabulary is full. Ids: special tokens first, then the 256 bytes, then merges.
struct BPETrainer {
    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

    /// GPT-2's byte → character map (printable bytes map to themselves, the rest to U+0100…).
    static let byteToChar: [Character] = {
        var table = [Character](repeating: " ", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            table[b] = Character(Unicode.Scalar(printable ? UInt32(b) : { defer { next += 1 }; return next }())!)
        }
        return table
    }()

    let specialTokens: [String]
    let vocabularySize: Int
    private(set) var tokens: [String] = []          // id → token string (byte-mapped)
    private(set) var merges: [(String, String)] = []

    init(specialTokens: [String], vocabularySize: Int) {
        self.specialTokens = specialTokens; self.vocabularySize = vocabularySize
    }

    /// Learns merges from `texts` (added-token strings must already be removed). Deterministic:
    /// ties between equally frequent pairs go to the pair whose ids are smallest.
    mutating func train(_ texts: [String]) {
        let regex = try! NSRegularExpression(pattern: Self.gpt2Pattern)
        var wordCounts: [[UInt8]: Int] = [:]
        for text in texts {
            let ns = text as NSString
            for m in regex.matches(in: text, range: NSRange(location: 0, length: ns.length)) {
                wordCounts[Array(ns.substring(with: m.range).utf8), default: 0] += 1
            }
        }
        let base = specialTokens.count
        tokens = specialTokens + (0..<256).map { String(Self.byteToChar[$0]) }
        // Words as symbol-id sequences, sorted for a deterministic order.
        let sortedWords = wordCounts.keys.sorted { $0.lexicographicallyPrecedes($1) }
        var words = sortedWords.map { $0.map { base + Int($0) } }
        let counts = sortedWords.map { wordCounts[$0]! }
        while tokens.count < vocabularySize {
            var pairs: [Int: Int] = [:]  // (a << 20 | b) → count
            for (w, c) in zip(words, counts) where w.count > 1 {
                for i in 0..<(w.count - 1) { pairs[w[i] << 20 | w[i + 1], default: 0] += c }
            }
            guard let best = pairs.max(by: { ($0.value, -$0.key) < ($1.value, -$1.key) }), best.value > 1 else { break }
            let a = best.key >> 20, b = best.key & 0xFFFFF, merged = tokens[a] + tokens[b]
            merges.append((tokens[a], tokens[b]))
            // Two merges can spell the same token ("ab"+"c", "a"+"bc"): it keeps its first id.
            let id = tokens.firstIndex(of: merged) ?? tokens.count
            if id == tokens.count { tokens.append(merged) }
            for k in words.indices where words[k].count > 1 {
                var w = words[k], out: [Int] = [], i = 0
                out.reserveCapacity(w.count)
                while i < w.count {
                    if i + 1 < w.count, w[i] == a, w[i + 1] == b { out.append(id); i += 2 } else { out.append(w[i]); i += 1 }
                }
                w = out
                words[k] = w
            }
        }
    }

    /// The `tokenizer.json` document (tokenizers 0.2x layout: merges as pairs).
    func tokenizerJSON() -> JSONValue {
        let added: [JSONValue] = specialTokens.enumerated().map { id, content in
            .object(["id": .int(id), "content": .string(content), "single_word": false, "lstrip": false, "rstrip": false,
                     "normalized": false, "special": true])
        }
        let byteLevel = { (prefix: Bool, trim: Bool) -> JSONValue in
            .object(["type": "ByteLevel", "add_prefix_space": .bool(prefix), "trim_offsets": .bool(trim), "use_regex": true])
        }
        return .object([
            "version": "1.0",
            "truncation": nil,
            "padding": nil,
            "added_tokens": .array(added),
            "normalizer": nil,
            "pre_tokenizer": byteLevel(false, true),
            "post_processor": byteLevel(false, false),
            "decoder": byteLevel(true, true),
            "model": .object([
                "type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil, "end_of_word_suffix": nil,
                "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                "vocab": .object(JSONObject(tokens.enumerated().map { ($1, JSONValue.int($0)) })),
                "merges": .array(merges.map { .array([.string($0.0), .string($0.1)]) }),
            ]),
        ])
    }
}
