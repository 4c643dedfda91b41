import Foundation
import TailorData

/// The SentencePiece (Llama-2-style) fixtures in `Tests/Fixtures/spm`, written by `make_spm_fixtures.py`:
/// an HF folder with `tokenizer.model` + `tokenizer.json`, a PEFT adapter, the GGUF llama.cpp's
/// converter made from the folder, and reference ids from `tokenizers` (which llama.cpp's tokenizer
/// and sentencepiece were checked to equal when the fixtures were made).
public enum SPMFixture {
    public static let model = fixture("spm/model")
    public static let adapter = fixture("spm/adapter")
    /// `convert_hf_to_gguf.py --outtype f16` of `model` (lossless: the weights are float16).
    public static let converterGGUF = fixture("spm/llama-spm-f16.gguf")
    public static let vocabularySize = 768

    public struct Expected: Sendable {
        public var texts: [String]
        /// Reference ids with BOS, per text.
        public var ids: [[Int]]
        public var decoded: [String]
        public var decodedSkip: [String]
        public var scoreIDs: [Int]
        /// transformers log p(ids[i+1] | ids[...i]) of the base model and of PEFT's merge_and_unload.
        public var logprobsBase: [Float]
        public var logprobsMerged: [Float]
    }

    public static let expected: Expected = {
        let json = try! JSONValue(parsing: Data(contentsOf: fixture("spm/expected.json")))
        func strings(_ k: String) -> [String] { json[k]!.arrayValue!.map { $0.stringValue! } }
        func ints(_ v: JSONValue) -> [Int] { v.arrayValue!.map { $0.intValue! } }
        func floats(_ k: String) -> [Float] { json[k]!.arrayValue!.map { Float($0.doubleValue!) } }
        return Expected(texts: strings("texts"), ids: json["ids"]!.arrayValue!.map(ints), decoded: strings("decoded"),
                        decodedSkip: strings("decoded_skip"), scoreIDs: ints(json["score_ids"]!),
                        logprobsBase: floats("logprobs_base"), logprobsMerged: floats("logprobs_merged"))
    }()

    /// `Tests/Fixtures/tokenizers/corpus.jsonl`, one JSON string per line (10,240 lines).
    public static let corpus: [String] = {
        let text = try! String(contentsOf: fixture("tokenizers/corpus.jsonl"), encoding: .utf8)
        return text.split(separator: "\n").map { try! JSONValue(parsing: String($0)).stringValue! }
    }()

    /// Per corpus line: the low 32 bits of FNV-1a 64 over ids (u32 LE), 0xFF, decode, 0xFF, decode(skip special).
    public static let digests: [UInt32] = {
        let data = try! Data(contentsOf: fixture("spm/digests.bin"))
        return stride(from: 0, to: data.count, by: 4).map { i in
            data[i..<(i + 4)].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        }
    }()

    public static func digest(ids: [Int], decoded: String, decodedSkip: String) -> UInt32 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        func feed(_ b: UInt8) { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        for id in ids { for k in 0..<4 { feed(UInt8(truncatingIfNeeded: UInt32(id) >> (8 * UInt32(k)))) } }
        feed(0xFF)
        decoded.utf8.forEach(feed)
        feed(0xFF)
        decodedSkip.utf8.forEach(feed)
        return UInt32(truncatingIfNeeded: h)
    }

    /// Every way `tokenizer` differs from the reference: whole id arrays and decodes of the fixture texts
    /// (strings compared as bytes), decode round trips, and the digest of every corpus line. Empty when equal.
    public static func mismatches(_ tokenizer: Tokenizer) -> [String] {
        var out: [String] = []
        let e = expected
        for (i, text) in e.texts.enumerated() {
            let ids = tokenizer.encode(text)
            if ids != e.ids[i] { out.append("\(text.debugDescription): ids \(ids) != \(e.ids[i])") }
            let decoded = tokenizer.decode(e.ids[i]), skip = tokenizer.decode(e.ids[i], skipSpecialTokens: true)
            if Array(decoded.utf8) != Array(e.decoded[i].utf8) { out.append("\(text.debugDescription): decode \(decoded.debugDescription)") }
            if Array(skip.utf8) != Array(e.decodedSkip[i].utf8) { out.append("\(text.debugDescription): decode(skip) \(skip.debugDescription)") }
            // Plain text round-trips ("▁" in the input decodes to a space; special-token text is not plain).
            let plain = !["<s>", "</s>", "<unk>", "▁"].contains { text.contains($0) }
            if plain && Array(skip.utf8) != Array(text.utf8) { out.append("\(text.debugDescription): no round trip, \(skip.debugDescription)") }
        }
        let corpus = corpus, digests = digests
        if corpus.count != digests.count { out.append("corpus has \(corpus.count) lines, digests \(digests.count)") }
        var corpusFailures = 0
        for n in 0..<min(corpus.count, digests.count) {
            let ids = tokenizer.encode(corpus[n])
            let d = digest(ids: ids, decoded: tokenizer.decode(ids), decodedSkip: tokenizer.decode(ids, skipSpecialTokens: true))
            if d != digests[n] {
                corpusFailures += 1
                if corpusFailures <= 5 { out.append("corpus line \(n) \(corpus[n].debugDescription): ids \(ids)") }
            }
        }
        if corpusFailures > 0 { out.append("\(corpusFailures) of \(corpus.count) corpus lines differ") }
        return out
    }
}
