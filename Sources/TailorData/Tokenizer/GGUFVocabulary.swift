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

    public init(model: String, pre: String? = nil, tokens: [String], scores: [Float]? = nil, types: [Int]? = nil, merges: [String]? = nil,
                bosID: Int? = nil, eosID: Int? = nil, unknownID: Int? = nil, addBOS: Bool? = nil, addEOS: Bool? = nil) {
        self.model = model; self.pre = pre; self.tokens = tokens; self.scores = scores; self.types = types; self.merges = merges
        self.bosID = bosID; self.eosID = eosID; self.unknownID = unknownID; self.addBOS = addBOS; self.addEOS = addEOS
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

    /// The equivalent `tokenizer.json` (so the one tokenizer implementation runs both sources).
    func tokenizerJSON(source: String) throws -> [String: Any] {
        let n = tokens.count
        func fail(_ m: String) -> TokenizerError { TokenizerError(source: source, kind: .unsupported, message: m) }
        guard n > 0 else { throw fail("tokenizer.ggml.tokens is empty") }
        if let s = scores, s.count < n { throw fail("tokenizer.ggml.scores has \(s.count) entries for \(n) tokens") }
        if let t = types, t.count < n { throw fail("tokenizer.ggml.token_type has \(t.count) entries for \(n) tokens") }
        for (name, id) in [("bos", bosID), ("eos", eosID), ("unknown", unknownID)] {
            if let id, !(0..<n).contains(id) { throw fail("tokenizer.ggml.\(name)_token_id \(id) is outside 0..<\(n)") }
        }
        let types = self.types ?? [Int](repeating: 1, count: n)
        var vocab: [String: Int] = [:]
        for (i, t) in tokens.enumerated() {
            guard vocab[t] == nil else { throw fail("tokenizer.ggml.tokens has a duplicate token \"\(t)\" (ids \(vocab[t]!) and \(i))") }
            vocab[t] = i
        }
        // Control and user-defined tokens become added tokens (split out before BPE).
        var added: [[String: Any]] = []
        for (i, t) in tokens.enumerated() where types[i] == 3 || types[i] == 4 || (model == "llama" && types[i] == 2) {
            added.append(["id": i, "content": t, "single_word": false, "lstrip": false, "rstrip": false,
                          "normalized": false, "special": types[i] != 4])
        }
        var root: [String: Any] = ["version": "1.0", "truncation": NSNull(), "padding": NSNull(), "added_tokens": added]
        let addBOS: Bool, addEOS: Bool
        switch model {
        case "llama":
            // SentencePiece-style: merge priority = score of the merged token (higher first), as llama.cpp.
            guard let scores else { throw fail("tokenizer.ggml.scores is required for a llama (SentencePiece) vocabulary") }
            var merges: [(String, String, Float, Int)] = []
            for (id, piece) in tokens.enumerated() where types[id] == 1 || types[id] == 0 {
                let chars = Array(piece)
                guard chars.count > 1 else { continue }
                for cut in 1..<chars.count {
                    let l = String(chars[..<cut]), r = String(chars[cut...])
                    if vocab[l] != nil && vocab[r] != nil { merges.append((l, r, scores[id], id)) }
                }
            }
            merges.sort { ($0.2, -$0.3, $0.0.count) > ($1.2, -$1.3, $1.0.count) }
            root["model"] = ["type": "BPE", "dropout": NSNull(), "unk_token": unknownID.map { tokens[$0] } ?? tokens[0],
                             "continuing_subword_prefix": NSNull(), "end_of_word_suffix": NSNull(), "fuse_unk": true,
                             "byte_fallback": true, "ignore_merges": false, "vocab": vocab, "merges": merges.map { [$0.0, $0.1] }] as [String: Any]
            root["normalizer"] = ["type": "Sequence", "normalizers": [["type": "Prepend", "prepend": "▁"],
                                                                       ["type": "Replace", "pattern": ["String": " "], "content": "▁"]]]
            root["pre_tokenizer"] = NSNull()
            root["decoder"] = ["type": "Sequence", "decoders": [["type": "Replace", "pattern": ["String": "▁"], "content": " "],
                                                                ["type": "ByteFallback"], ["type": "Fuse"],
                                                                ["type": "Strip", "content": " ", "start": 1, "stop": 0]]]
            addBOS = self.addBOS ?? true
            addEOS = self.addEOS ?? false
        case "gpt2":
            guard let merges else { throw fail("tokenizer.ggml.merges is required for a gpt2 (byte-level BPE) vocabulary") }
            let pre = self.pre ?? "default"
            guard let regex = Self.preRegex(pre) else {
                throw fail("tokenizer.ggml.pre \"\(pre)\" is not supported (supported: default, gpt-2, llama3, llama-bpe, llama-v3, qwen2, smollm)")
            }
            let pairs = try merges.map { m -> [String] in
                let chars = Array(m)
                guard let sp = chars.dropFirst().firstIndex(of: " ") else { throw fail("tokenizer.ggml.merges entry \"\(m)\" has no space") }
                return [String(chars[..<sp]), String(chars[(sp + 1)...])]
            }
            let llama3 = ["llama3", "llama-v3", "llama-bpe"].contains(pre)
            root["model"] = ["type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "continuing_subword_prefix": NSNull(),
                             "end_of_word_suffix": NSNull(), "fuse_unk": false, "byte_fallback": false, "ignore_merges": llama3,
                             "vocab": vocab, "merges": pairs] as [String: Any]
            root["normalizer"] = pre == "qwen2" ? ["type": "NFC"] : NSNull()
            root["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [
                ["type": "Split", "pattern": ["Regex": regex], "behavior": "Isolated", "invert": false],
                ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false]]]
            root["decoder"] = ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true]
            addBOS = self.addBOS ?? llama3
            addEOS = self.addEOS ?? false
        default:
            throw fail("tokenizer.ggml.model \"\(model)\" is not supported (supported: llama, gpt2)")
        }
        var single: [[String: Any]] = [], special: [String: Any] = [:]
        func specialToken(_ id: Int) -> [String: Any] {
            special[tokens[id]] = ["id": tokens[id], "ids": [id], "tokens": [tokens[id]]]
            return ["SpecialToken": ["id": tokens[id], "type_id": 0]]
        }
        if addBOS, let b = bosID ?? (model == "llama" ? 1 : nil), b < n { single.append(specialToken(b)) }
        single.append(["Sequence": ["id": "A", "type_id": 0]])
        if addEOS, let e = eosID ?? (model == "llama" ? 2 : nil), e < n { single.append(specialToken(e)) }
        root["post_processor"] = ["type": "TemplateProcessing", "single": single, "pair": single, "special_tokens": special]
        return root
    }
}

extension Tokenizer {
    /// A tokenizer from GGUF `tokenizer.ggml.*` metadata (no `tokenizer.json` needed).
    /// - Parameters:
    ///   - vocabulary: The metadata values.
    ///   - source: The GGUF file's path, for errors.
    public init(gguf vocabulary: GGUFVocabulary, source: String) throws {
        let json = try vocabulary.tokenizerJSON(source: source)
        let data = try JSONSerialization.data(withJSONObject: json)
        try self.init(data: data, source: source)
    }
}
