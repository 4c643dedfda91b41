import Foundation

/// The `tokenizer.ggml.*` metadata of a GGUF file, as plain values (TailorData does not read GGUF
/// itself; TailorModels fills this in).
public struct GGUFVocabulary: Sendable {
    /// `tokenizer.ggml.model`: `llama` (SentencePiece-style BPE with scores) or `gpt2` (byte-level BPE).
    public var model: String
    /// `tokenizer.ggml.pre`: the pre-tokenizer kind for `gpt2` (`default`, `gpt-2`, `llama3`/`llama-bpe`/`llama-v3`, `qwen2`, `smollm`).
    public var pre: String?
    public var tokens: [String]
    public var scores: [Float]?
    /// 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
    public var types: [Int]?
    public var merges: [String]?
    public var bosID: Int?
    public var eosID: Int?
    public var unknownID: Int?
    public var addBOS: Bool?
    public var addEOS: Bool?
    /// `tokenizer.ggml.add_space_prefix`: whether a `llama` vocabulary prepends "▁" to the text (and
    /// after each special token), as SentencePiece's `add_dummy_prefix`; nil means true, llama.cpp's default.
    public var addSpacePrefix: Bool?

    public init(model: String, pre: String? = nil, tokens: [String], scores: [Float]? = nil, types: [Int]? = nil, merges: [String]? = nil,
                bosID: Int? = nil, eosID: Int? = nil, unknownID: Int? = nil, addBOS: Bool? = nil, addEOS: Bool? = nil,
                addSpacePrefix: Bool? = nil) {
        self.model = model; self.pre = pre; self.tokens = tokens; self.scores = scores; self.types = types; self.merges = merges
        self.bosID = bosID; self.eosID = eosID; self.unknownID = unknownID; self.addBOS = addBOS; self.addEOS = addEOS
        self.addSpacePrefix = addSpacePrefix
    }

    /// The regex of a `gpt2` pre kind, as Hugging Face writes it in `tokenizer.json`.
    static func preRegex(_ pre: String) -> String? {
        switch pre {
        case "default", "gpt-2", "gpt2": KnownSplitRegex.gpt2Source
        case "llama3", "llama-v3", "llama-bpe", "smollm": KnownSplitRegex.llama3Source
        case "qwen2": KnownSplitRegex.qwen2Source
        default: nil
        }
    }

    /// The equivalent `tokenizer.json` text (so the one tokenizer implementation runs both sources).
    /// Written by hand, not with JSONSerialization: its `String`-keyed dictionaries would merge canonically
    /// equivalent tokens (`▁Å` as U+212B and as A + U+030A are two tokens of a real vocabulary).
    func tokenizerJSON(source: String) throws -> Data {
        let n = tokens.count
        func fail(_ m: String) -> TokenizerError { TokenizerError(source: source, kind: .unsupported, message: m) }
        guard n > 0 else { throw fail("tokenizer.ggml.tokens is empty") }
        if let s = scores, s.count < n { throw fail("tokenizer.ggml.scores has \(s.count) entries for \(n) tokens") }
        if let t = types, t.count < n { throw fail("tokenizer.ggml.token_type has \(t.count) entries for \(n) tokens") }
        for (name, id) in [("bos", bosID), ("eos", eosID), ("unknown", unknownID)] {
            if let id, !(0..<n).contains(id) { throw fail("tokenizer.ggml.\(name)_token_id \(id) is outside 0..<\(n)") }
        }
        let types = self.types ?? [Int](repeating: 1, count: n)
        var vocab: [[UInt8]: Int] = [:]
        for (i, t) in tokens.enumerated() {
            if let j = vocab[Array(t.utf8)] { throw fail("tokenizer.ggml.tokens has a duplicate token \"\(t)\" (ids \(j) and \(i))") }
            vocab[Array(t.utf8)] = i
        }
        // Control and user-defined tokens become added tokens (split out before BPE).
        var added: [JSONText] = []
        for (i, t) in tokens.enumerated() where types[i] == 3 || types[i] == 4 || (model == "llama" && types[i] == 2) {
            added.append(.object([("id", .int(i)), ("content", .string(t)), ("single_word", false), ("lstrip", false),
                                  ("rstrip", false), ("normalized", false), ("special", .bool(types[i] != 4))]))
        }
        let vocabJSON = JSONText.object(tokens.enumerated().map { ($1, .int($0)) })
        var root: [(String, JSONText)] = [("version", "1.0"), ("truncation", .null), ("padding", .null), ("added_tokens", .array(added))]
        let addBOS: Bool, addEOS: Bool
        switch model {
        case "llama":
            // SentencePiece-style: merge priority = score of the merged token (higher first), as llama.cpp.
            // Pieces split into Unicode scalars, as llama.cpp (UTF-8 characters) and HF's generate_merges do.
            guard let scores else { throw fail("tokenizer.ggml.scores is required for a llama (SentencePiece) vocabulary") }
            var merges: [(String, String, Float, Int, Int)] = []
            for (id, piece) in tokens.enumerated() where types[id] == 1 || types[id] == 0 {
                let scalars = Array(piece.unicodeScalars)
                guard scalars.count > 1 else { continue }
                for cut in 1..<scalars.count {
                    var l = String.UnicodeScalarView(), r = String.UnicodeScalarView()
                    l.append(contentsOf: scalars[..<cut]); r.append(contentsOf: scalars[cut...])
                    if vocab[Array(String(l).utf8)] != nil && vocab[Array(String(r).utf8)] != nil {
                        merges.append((String(l), String(r), scores[id], id, cut))
                    }
                }
            }
            merges.sort { ($0.2, -$0.3, $0.4) > ($1.2, -$1.3, $1.4) }
            root.append(("model", .object([
                ("type", "BPE"), ("dropout", .null), ("unk_token", .string(unknownID.map { tokens[$0] } ?? tokens[0])),
                ("continuing_subword_prefix", .null), ("end_of_word_suffix", .null), ("fuse_unk", true), ("byte_fallback", true),
                ("ignore_merges", false), ("vocab", vocabJSON), ("merges", .array(merges.map { .array([.string($0.0), .string($0.1)]) })),
            ])))
            // The legacy Llama-2 tokenizer.json form: like llama.cpp, "▁" goes before the text and after every
            // special token (the normalizer runs per segment), and decoding strips one leading space.
            let prefix = addSpacePrefix ?? true
            let replace = JSONText.object([("type", "Replace"), ("pattern", .object([("String", " ")])), ("content", "\u{2581}")])
            root.append(("normalizer", .object([("type", "Sequence"), ("normalizers", .array(
                (prefix ? [.object([("type", "Prepend"), ("prepend", "\u{2581}")])] : []) + [replace]))])))
            root.append(("pre_tokenizer", .null))
            let strip = JSONText.object([("type", "Strip"), ("content", " "), ("start", 1), ("stop", 0)])
            root.append(("decoder", .object([("type", "Sequence"), ("decoders", .array([
                .object([("type", "Replace"), ("pattern", .object([("String", "\u{2581}")])), ("content", " ")]),
                .object([("type", "ByteFallback")]), .object([("type", "Fuse")])] + (prefix ? [strip] : [])))])))
            addBOS = self.addBOS ?? true
            addEOS = self.addEOS ?? false
        case "gpt2":
            guard let merges else { throw fail("tokenizer.ggml.merges is required for a gpt2 (byte-level BPE) vocabulary") }
            let pre = self.pre ?? "default"
            guard let regex = Self.preRegex(pre) else {
                throw fail("tokenizer.ggml.pre \"\(pre)\" is not supported (supported: default, gpt-2, llama3, llama-bpe, llama-v3, qwen2, smollm)")
            }
            let pairs = try merges.map { m -> JSONText in
                let u = m.unicodeScalars
                guard let sp = u.dropFirst().firstIndex(of: " ") else { throw fail("tokenizer.ggml.merges entry \"\(m)\" has no space") }
                return .array([.string(String(u[..<sp])), .string(String(u[u.index(after: sp)...]))])
            }
            let llama3 = ["llama3", "llama-v3", "llama-bpe"].contains(pre)
            root.append(("model", .object([
                ("type", "BPE"), ("dropout", .null), ("unk_token", .null), ("continuing_subword_prefix", .null),
                ("end_of_word_suffix", .null), ("fuse_unk", false), ("byte_fallback", false), ("ignore_merges", .bool(llama3)),
                ("vocab", vocabJSON), ("merges", .array(pairs)),
            ])))
            root.append(("normalizer", pre == "qwen2" ? .object([("type", "NFC")]) : .null))
            root.append(("pre_tokenizer", .object([("type", "Sequence"), ("pretokenizers", .array([
                .object([("type", "Split"), ("pattern", .object([("Regex", .string(regex))])), ("behavior", "Isolated"), ("invert", false)]),
                .object([("type", "ByteLevel"), ("add_prefix_space", false), ("trim_offsets", true), ("use_regex", false)])]))])))
            root.append(("decoder", .object([("type", "ByteLevel"), ("add_prefix_space", true), ("trim_offsets", true), ("use_regex", true)])))
            addBOS = self.addBOS ?? llama3
            addEOS = self.addEOS ?? false
        default:
            throw fail("tokenizer.ggml.model \"\(model)\" is not supported (supported: llama, gpt2)")
        }
        var single: [JSONText] = [], special: [(String, JSONText)] = []
        func specialToken(_ id: Int) -> JSONText {
            special.append((tokens[id], .object([("id", .string(tokens[id])), ("ids", .array([.int(id)])), ("tokens", .array([.string(tokens[id])]))])))
            return .object([("SpecialToken", .object([("id", .string(tokens[id])), ("type_id", 0)]))])
        }
        if addBOS, let b = bosID ?? (model == "llama" ? 1 : nil), b < n { single.append(specialToken(b)) }
        single.append(.object([("Sequence", .object([("id", "A"), ("type_id", 0)]))]))
        if addEOS, let e = eosID ?? (model == "llama" ? 2 : nil), e < n { single.append(specialToken(e)) }
        root.append(("post_processor", .object([("type", "TemplateProcessing"), ("single", .array(single)), ("pair", .array(single)),
                                                 ("special_tokens", .object(special))])))
        var text = ""
        JSONText.object(root).write(to: &text)
        return Data(text.utf8)
    }
}

/// A JSON value with object members as written (exact keys, in order), serialized by hand.
enum JSONText: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral {
    case null
    case bool(Bool)
    case int(Int)
    case string(String)
    case array([JSONText])
    case object([(String, JSONText)])

    init(stringLiteral value: String) { self = .string(value) }
    init(booleanLiteral value: Bool) { self = .bool(value) }
    init(integerLiteral value: Int) { self = .int(value) }

    func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .string(let s): Self.quote(s, &out)
        case .array(let a):
            out += "["
            for (i, v) in a.enumerated() { if i > 0 { out += "," }; v.write(to: &out) }
            out += "]"
        case .object(let o):
            out += "{"
            for (i, (k, v)) in o.enumerated() { if i > 0 { out += "," }; Self.quote(k, &out); out += ":"; v.write(to: &out) }
            out += "}"
        }
    }

    static func quote(_ s: String, _ out: inout String) {
        let hex = Array("0123456789abcdef".unicodeScalars)
        out.unicodeScalars.append("\"")
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where u.value < 0x20:
                out += "\\u00"
                out.unicodeScalars.append(hex[Int(u.value >> 4)]); out.unicodeScalars.append(hex[Int(u.value & 15)])
            default: out.unicodeScalars.append(u)
            }
        }
        out.unicodeScalars.append("\"")
    }
}

extension Tokenizer {
    /// A tokenizer from GGUF `tokenizer.ggml.*` metadata (no `tokenizer.json` needed).
    /// - Parameters:
    ///   - vocabulary: The metadata values.
    ///   - source: The GGUF file's path, for errors.
    public init(gguf vocabulary: GGUFVocabulary, source: String) throws {
        try self.init(data: try vocabulary.tokenizerJSON(source: source), source: source)
    }
}
