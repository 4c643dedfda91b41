import Foundation
import TailorData
import TailorQuant
import TailorTensor

/// The `tokenizer.*` metadata llama.cpp needs, built from a Hugging Face `tokenizer.json`
/// (+ `tokenizer_config.json`, chat template) as `convert_hf_to_gguf.py` does (gguf.md §3.2, §3.5).
///
/// - Byte-level BPE (GPT-2, Llama 3, Qwen2) → `tokenizer.ggml.model = "gpt2"` with the real merges
///   and a `tokenizer.ggml.pre` chosen from the pre-tokenizer's regex (`gpt-2`, `llama-bpe`, `qwen2`);
///   an unknown regex is refused, since llama.cpp rejects unknown `pre` values.
/// - SentencePiece-style BPE with byte fallback (Llama 2, Mistral) → `"llama"` with scores and
///   token types: from `tokenizer.model` when present (the converter's tokens, scores and types
///   exactly), else score = −(rank of the merge producing the token) and BYTE for `<0xNN>`
///   (see `sentencePieceEntries`).
///
/// Token ids missing from the tokenizer up to the model's vocabulary size become `[PAD{i}]`
/// (type UNUSED). Special-token ids, `add_bos_token` / `add_eos_token` and the chat template are
/// always written explicitly.
public enum GGUFVocabulary {
    /// Known byte-level pre-tokenizer regexes and llama.cpp's name for them.
    static let knownPre: [String: String] = [
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#: "llama-bpe",
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#: "qwen2",
    ]

    /// The metadata for the tokenizer in `folder`, padded to `vocabularySize` tokens.
    public static func metadata(folder: URL, vocabularySize: Int, bosTokenId: Int?, eosTokenIds: [Int]) throws -> [(String, GGUFValue)] {
        let url = folder.appendingPathComponent("tokenizer.json")
        let path = url.path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TailorError("\(path): missing; a GGUF needs the model's vocabulary (llama.cpp requires tokenizer.ggml.tokens)")
        }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let model = root["model"] as? [String: Any] else { throw TailorError("\(path): not a tokenizer.json object with a \"model\"") }
        guard model["type"] as? String == "BPE" else {
            throw TailorError("\(path): model type \(model["type"] ?? "?") is not supported for GGUF export (only BPE)")
        }
        // Tokens come from Tailor's reader: JSONSerialization's dictionaries merge canonically equivalent
        // keys, which would drop one of two real tokens such as "▁Å" (U+212B) and "▁Å" (A + U+030A).
        let tokenizer = try Tokenizer(contentsOf: url)
        let merges: [String] = ((model["merges"] as? [Any]) ?? []).compactMap {
            if let s = $0 as? String { return s }
            if let pair = $0 as? [String], pair.count == 2 { return pair[0] + " " + pair[1] }
            return nil
        }
        let added = (root["added_tokens"] as? [[String: Any]]) ?? []
        var tokens = [String?](repeating: nil, count: vocabularySize)
        var types = [Int32](repeating: 1, count: vocabularySize)
        func put(_ token: String, _ id: Int, _ type: Int32) throws {
            guard id >= 0, id < vocabularySize else {
                throw TailorError("\(path): token \"\(token)\" has id \(id), outside the model's vocabulary of \(vocabularySize)")
            }
            tokens[id] = token; types[id] = type
        }
        let preTokenizer = root["pre_tokenizer"] as? [String: Any]
        let byteLevel = describes(preTokenizer, type: "ByteLevel")
        for (id, token) in tokenizer.modelTokens.enumerated() { if let token { try put(token, id, 1) } }
        for a in added {
            guard let id = a["id"] as? Int, let content = a["content"] as? String else { continue }
            // `tokenizers` finds a `normalized` added token in the normalized text (NFC for Qwen2), llama.cpp
            // finds every added token in the raw text: write its normalized form (`token(for:)`) so both
            // split it out of normalized text. (SentencePiece-style normalizers add "▁"; that path writes raw text.)
            try put(byteLevel ? tokenizer.token(for: id) ?? content : content, id, (a["special"] as? Bool ?? false) ? 3 : 4)
        }
        var meta: [(String, GGUFValue)] = []
        var scores: [Float]? = nil
        if byteLevel {
            meta.append(("tokenizer.ggml.model", .string("gpt2")))
            meta.append(("tokenizer.ggml.pre", .string(try preName(preTokenizer, source: path))))
        } else if model["byte_fallback"] as? Bool == true {
            meta.append(("tokenizer.ggml.model", .string("llama")))
            meta.append(("tokenizer.ggml.pre", .string("default")))
            scores = try sentencePieceEntries(folder: folder, modelTokens: tokenizer.modelTokens, merges: merges, added: added,
                                              unknown: model["unk_token"] as? String, tokens: &tokens, types: &types)
            meta.append(("tokenizer.ggml.add_space_prefix", .bool(addsSpacePrefix(root))))
        } else {
            throw TailorError("\(path): a BPE tokenizer that is neither byte-level nor byte-fallback (SentencePiece-style) cannot be written to GGUF")
        }
        var seen = Set<[UInt8]>()  // bytes: canonically equivalent tokens are distinct tokens
        let strings = tokens.enumerated().map { (i, t) -> String in
            var s = t ?? "[PAD\(i)]"
            if t == nil { types[i] = 5 }
            if s.isEmpty || seen.contains(Array(s.utf8)) { s = "[PAD\(i)]"; types[i] = 5 }
            seen.insert(Array(s.utf8))
            return s
        }
        meta.append(("tokenizer.ggml.tokens", .array(elementType: 8, strings.map { .string($0) })))
        if let scores { meta.append(("tokenizer.ggml.scores", .array(elementType: 6, scores.map { .float32($0) }))) }
        meta.append(("tokenizer.ggml.token_type", .array(elementType: 5, types.map { .int32($0) })))
        if byteLevel { meta.append(("tokenizer.ggml.merges", .array(elementType: 8, merges.map { .string($0) }))) }

        let config = try TokenizerConfig(contentsOf: folder.appendingPathComponent("tokenizer_config.json"))
        func id(_ s: String?) -> Int? { s.flatMap { tokenizer.id(for: $0) } }
        let bos = id(config.bosToken) ?? tokenizer.bosTokenID ?? bosTokenId
        let eos = id(config.eosToken) ?? eosTokenIds.first
        for (key, value) in [("bos", bos), ("eos", eos), ("unknown", id(config.unkToken)), ("padding", id(config.padToken))] {
            if let value { meta.append(("tokenizer.ggml.\(key)_token_id", .uint32(UInt32(value)))) }
        }
        meta.append(("tokenizer.ggml.add_bos_token", .bool(tokenizer.addsBOS)))
        meta.append(("tokenizer.ggml.add_eos_token", .bool(tokenizer.addsEOS)))
        if let template = try ChatTemplate.loadSource(modelDirectory: folder) {  // as it is, compiled or not
            meta.append(("tokenizer.chat_template", .string(template.source)))
        }
        return meta
    }

    /// Scores, token texts and types of a `llama` vocabulary, as convert_hf_to_gguf.py writes them:
    /// SentencePiece's own pieces, scores and types from `tokenizer.model` when it is present and agrees
    /// with `tokenizer.json` (user-defined pieces become NORMAL, as there); otherwise score = −(rank of the
    /// first merge making the token), which orders merges the same way, and `<0xNN>` tokens get type BYTE.
    /// Then added tokens: special (or special-looking) → CONTROL, others USER_DEFINED with "▁" written as
    /// a space; both score −1000. Ids with no token: score −10000 (filled in as `[PAD{i}]`, UNUSED, later).
    static func sentencePieceEntries(folder: URL, modelTokens: [String?], merges: [String], added: [[String: Any]], unknown: String?,
                                     tokens: inout [String?], types: inout [Int32]) throws -> [Float] {
        let n = tokens.count
        var scores = [Float](repeating: -10000, count: n)
        let addedIDs = Set(added.compactMap { $0["id"] as? Int })
        var vocab: [[UInt8]: Int] = [:]
        for (id, t) in modelTokens.enumerated() { if let t { vocab[Array(t.utf8)] = id } }
        let spmURL = folder.appendingPathComponent("tokenizer.model")
        var pieces: [SentencePieceModel.Piece]? = nil
        if FileManager.default.fileExists(atPath: spmURL.path) {
            let p = try SentencePieceModel(contentsOf: spmURL).pieces
            // A stale tokenizer.model (ids that tokenizer.json has differently) would give wrong scores: not used then.
            let agrees = p.count <= n && modelTokens.enumerated().allSatisfy { id, token in
                guard let token, !addedIDs.contains(id) else { return true }
                return id < p.count && Array(p[id].text.utf8) == Array(token.utf8)
            }
            if agrees { pieces = p }
        }
        if let pieces {
            for (id, p) in pieces.enumerated() {
                tokens[id] = p.text; scores[id] = p.score
                types[id] = p.type == .userDefined ? 1 : Int32(p.type.rawValue)
            }
        } else {
            for id in vocab.values { scores[id] = 0 }
            var scored = Set<Int>()
            for (rank, m) in merges.enumerated() {
                let joined = Array(String(String.UnicodeScalarView(m.unicodeScalars.filter { $0 != " " })).utf8)
                if let id = vocab[joined], scored.insert(id).inserted { scores[id] = -Float(rank) }
            }
            for (token, id) in vocab where token.count == 6 && token.starts(with: Array("<0x".utf8)) && token.last == UInt8(ascii: ">") {
                types[id] = 6
            }
            if let unknown, let id = vocab[Array(unknown.utf8)] { types[id] = 2 }
        }
        for a in added {
            guard let id = a["id"] as? Int, id >= 0, id < n, let content = a["content"] as? String else { continue }
            let control = a["special"] as? Bool == true || looksSpecial(content)
            tokens[id] = control ? content : content.replacingOccurrences(of: "\u{2581}", with: " ")
            types[id] = control ? 3 : 4
            scores[id] = -1000
        }
        return scores
    }

    /// convert_hf_to_gguf.py's `does_token_look_special`: added tokens some models forget to mark special.
    static func looksSpecial(_ t: String) -> Bool {
        ["<pad>", "<mask>", "<2mass>", "[@BOS@]"].contains(t) || (t.hasPrefix("<|") && t.hasSuffix("|>"))
            || (t.hasPrefix("<｜") && t.hasSuffix("｜>")) || (t.hasPrefix("<unused") && t.hasSuffix(">"))
    }

    /// Whether a pre-tokenizer (or one inside a Sequence) has this type.
    static func describes(_ node: [String: Any]?, type: String) -> Bool {
        guard let node else { return false }
        if node["type"] as? String == type { return true }
        return ((node["pretokenizers"] as? [[String: Any]]) ?? []).contains { describes($0, type: type) }
    }

    static func preName(_ pre: [String: Any]?, source: String) throws -> String {
        let parts = pre?["type"] as? String == "Sequence" ? (pre?["pretokenizers"] as? [[String: Any]] ?? []) : [pre ?? [:]]
        let splits = parts.filter { $0["type"] as? String == "Split" }
        if splits.isEmpty, parts.count == 1, parts[0]["use_regex"] as? Bool ?? true { return "gpt-2" }
        if splits.count == 1, let regex = (splits[0]["pattern"] as? [String: Any])?["Regex"] as? String, let name = knownPre[regex] {
            return name
        }
        throw TailorError("\(source): byte-level pre-tokenizer not recognised; llama.cpp rejects unknown tokenizer.ggml.pre values, so Tailor knows only GPT-2, Llama 3 and Qwen2 regexes")
    }

    /// SentencePiece-style tokenizers prepend "▁" through a Prepend normalizer or a Metaspace
    /// pre-tokenizer with `prepend_scheme` first/always.
    static func addsSpacePrefix(_ root: [String: Any]) -> Bool {
        func walk(_ n: Any?) -> Bool {
            guard let n = n as? [String: Any] else { return false }
            if n["type"] as? String == "Prepend" { return true }
            if n["type"] as? String == "Metaspace" { return (n["prepend_scheme"] as? String ?? "always") != "never" && (n["add_prefix_space"] as? Bool ?? true) }
            return ((n["normalizers"] as? [Any]) ?? (n["pretokenizers"] as? [Any]) ?? []).contains(where: walk)
        }
        return walk(root["normalizer"]) || walk(root["pre_tokenizer"])
    }
}
