import Foundation
import Testing
@testable import TailorData

/// Golden tests against `tokenizers` 0.23.3 outputs written by `Tests/Fixtures/make_tokenizer_fixtures.py`.
enum TokenizerFixtures {
    static let families = ["llama3", "qwen2", "smollm", "gpt2", "llama2", "metaspace_first", "metaspace_always",
                           "normalizers_splits"]
    static let root = fixturesRoot.appendingPathComponent("tokenizers")

    /// The 10k-line corpus; each line of `corpus.jsonl` is one JSON string.
    /// Parsed with the tokenizer's own JSON reader: Foundation's drops a leading U+FEFF on Linux.
    static let corpus: [String] = {
        let text = (try? String(contentsOf: root.appendingPathComponent("corpus.jsonl"), encoding: .utf8)) ?? ""
        let joined = "[" + text.split(separator: "\n").joined(separator: ",") + "]"
        guard case .array(let items)? = try? TokenizerJSON.parse(Data(joined.utf8)) else { return [] }
        return items.compactMap { if case .string(let s) = $0 { s } else { nil } }
    }()

    static func tokenizer(_ family: String) throws -> Tokenizer {
        try Tokenizer(contentsOf: root.appendingPathComponent(family).appendingPathComponent("tokenizer.json"))
    }

    struct Expected {
        var line: Int
        var ids: [Int]
        var idsPlain: [Int]
        var decoded: String
        var decodedSkip: String
        var stream: [String?]?
    }

    static func expected(_ family: String) throws -> [Expected] {
        let data = try Data(contentsOf: root.appendingPathComponent(family).appendingPathComponent("expected.json"))
        guard case .object(let json) = try TokenizerJSON.parse(data), case .array(let lines)? = json["lines"] else {
            throw TokenizerError(source: "expected.json", kind: .malformedJSON, message: "no lines")
        }
        func ints(_ v: TokenizerJSON?) -> [Int]? {
            guard case .array(let a)? = v else { return nil }
            return a.compactMap { if case .integer(let n) = $0 { n } else { nil } }
        }
        func string(_ v: TokenizerJSON?) -> String? {
            if case .string(let s)? = v { s } else { nil }
        }
        return lines.compactMap { line in
            guard case .object(let e) = line, case .integer(let n)? = e["line"], let ids = ints(e["ids"]) else { return nil }
            var stream: [String?]?
            if case .array(let chunks)? = e["stream"] { stream = chunks.map { string($0) } }
            return Expected(line: n, ids: ids, idsPlain: ints(e["ids_plain"]) ?? ids,
                            decoded: string(e["decoded"]) ?? "", decodedSkip: string(e["decoded_skip"]) ?? "",
                            stream: stream)
        }
    }

    static func digests(_ family: String) throws -> [UInt64] {
        let data = try Data(contentsOf: root.appendingPathComponent(family).appendingPathComponent("digests.bin"))
        return stride(from: 0, to: data.count, by: 8).map { i in
            data[i..<(i + 8)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        }
    }

    /// FNV-1a 64 of ids (u32 little endian), 0xFF, decode, 0xFF, decode(skip special) — as the generator.
    static func digest(ids: [Int], decoded: String, decodedSkip: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        func feed(_ b: UInt8) {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01B3
        }
        for id in ids { for k in 0..<4 { feed(UInt8(truncatingIfNeeded: UInt32(id) >> (8 * UInt32(k)))) } }
        feed(0xFF)
        decoded.utf8.forEach(feed)
        feed(0xFF)
        decodedSkip.utf8.forEach(feed)
        return h
    }
}

@Suite("Tokenizer matches tokenizers 0.23 on the fixture corpus")
struct TokenizerFixtureTests {
    @Test func corpusIsLargeAndVaried() {
        let corpus = TokenizerFixtures.corpus
        #expect(corpus.count >= 10_000)
        #expect(corpus.contains(""))
        #expect(corpus.contains { $0.contains("\r\n") })
        #expect(corpus.contains { $0.unicodeScalars.contains("\u{200D}") })
    }

    @Test(arguments: TokenizerFixtures.families)
    func fullIDsAndDecodes(family: String) throws {
        let tokenizer = try TokenizerFixtures.tokenizer(family)
        let corpus = TokenizerFixtures.corpus
        var failures = 0
        for e in try TokenizerFixtures.expected(family) where failures < 8 {
            let text = corpus[e.line]
            let ids = tokenizer.encode(text)
            let plain = tokenizer.encode(text, addSpecialTokens: false)
            let decoded = tokenizer.decode(e.ids)
            let decodedSkip = tokenizer.decode(e.ids, skipSpecialTokens: true)
            // Strings are compared as bytes: Swift's == treats canonically equivalent strings as equal.
            let decodedOK = Array(decoded.utf8) == Array(e.decoded.utf8)
            let decodedSkipOK = Array(decodedSkip.utf8) == Array(e.decodedSkip.utf8)
            let ok = ids == e.ids && plain == e.idsPlain && decodedOK && decodedSkipOK
            let where_ = "\(family) line \(e.line) \(text.debugDescription)"
            #expect(ids == e.ids, "\(where_): ids")
            #expect(plain == e.idsPlain, "\(where_): ids without special tokens")
            #expect(decodedOK, "\(where_): decode \(decoded.debugDescription) != \(e.decoded.debugDescription)")
            #expect(decodedSkipOK, "\(where_): decode(skip) \(decodedSkip.debugDescription) != \(e.decodedSkip.debugDescription)")
            if let stream = e.stream {
                var decoder = tokenizer.makeStreamingDecoder()
                let chunks = e.ids.map { decoder.append($0).map { Array($0.utf8) } }
                #expect(chunks == stream.map { $0.map { Array($0.utf8) } }, "\(where_): streaming decode \(chunks) != \(stream)")
            }
            if !ok { failures += 1 }
        }
    }

    @Test(arguments: TokenizerFixtures.families)
    func everyCorpusLineDigest(family: String) throws {
        let tokenizer = try TokenizerFixtures.tokenizer(family)
        let corpus = TokenizerFixtures.corpus
        let digests = try TokenizerFixtures.digests(family)
        #expect(digests.count == corpus.count)
        var failures: [String] = []
        for (n, text) in corpus.enumerated() where n < digests.count {
            let ids = tokenizer.encode(text)
            let decoded = tokenizer.decode(ids)
            let decodedSkip = tokenizer.decode(ids, skipSpecialTokens: true)
            if TokenizerFixtures.digest(ids: ids, decoded: decoded, decodedSkip: decodedSkip) != digests[n] {
                failures.append("line \(n) \(text.debugDescription): ids \(ids), decoded \(decoded.debugDescription)")
            }
        }
        #expect(failures.isEmpty, "\(family): \(failures.count) of \(corpus.count) lines differ from tokenizers; first: \(failures.prefix(5).joined(separator: "\n"))")
    }
}
