/// A `tokenizer.json` decoder: turns token strings back into text (`tokenizers`' `decode_chain`).
indirect enum Decoder: Sendable {
    case byteLevel
    case byteFallback
    case fuse
    case strip(content: Unicode.Scalar, start: Int, stop: Int)
    case replace(pattern: String, content: String)
    case metaspace(replacement: Unicode.Scalar, prependScheme: PreTokenizer.PrependScheme)
    case sequence([Decoder])

    static let supported = "ByteLevel, ByteFallback, Fuse, Strip, Replace (string pattern), Metaspace, Sequence"

    init(json: JSONNode) throws {
        let type = try json.type()
        switch type {
        case "ByteLevel": self = .byteLevel
        case "ByteFallback": self = .byteFallback
        case "Fuse": self = .fuse
        case "Strip":
            let content = try json.requiredString("content")
            guard content.unicodeScalars.count == 1 else {
                throw json.fail(.invalidField, "\(json.path).content should be one character")
            }
            self = .strip(content: content.unicodeScalars.first!, start: try json.int("start") ?? 0, stop: try json.int("stop") ?? 0)
        case "Replace":
            self = .replace(pattern: try Normalizer.stringPattern(json, component: "Replace decoder"),
                            content: try json.requiredString("content"))
        case "Metaspace":
            let replacement = try json.string("replacement") ?? "\u{2581}"
            guard replacement.unicodeScalars.count == 1 else {
                throw json.fail(.invalidField, "\(json.path).replacement should be one character")
            }
            let scheme: PreTokenizer.PrependScheme
            if let name = try json.string("prepend_scheme") {
                guard let s = PreTokenizer.PrependScheme(rawValue: name) else {
                    throw json.unsupported("Metaspace prepend_scheme", name, at: "prepend_scheme",
                                           supported: "first, always, never")
                }
                scheme = s
            } else {
                scheme = try json.bool("add_prefix_space", default: true) ? .always : .never
            }
            self = .metaspace(replacement: replacement.unicodeScalars.first!, prependScheme: scheme)
        case "Sequence":
            self = .sequence(try json.objects("decoders").map(Decoder.init(json:)))
        default:
            throw json.unsupported("decoder", type, at: "type", supported: Self.supported)
        }
    }

    func decodeChain(_ tokens: [String]) -> [String] {
        switch self {
        case .sequence(let steps):
            return steps.reduce(tokens) { $1.decodeChain($0) }
        case .byteLevel:
            // A token with a character outside the byte map contributes its own UTF-8 bytes.
            var bytes: [UInt8] = []
            for token in tokens {
                if let raw = ByteLevelMap.bytes(of: token) {
                    bytes.append(contentsOf: raw)
                } else {
                    bytes.append(contentsOf: token.utf8)
                }
            }
            return [String(decoding: bytes, as: UTF8.self)]
        case .byteFallback:
            var out: [String] = []
            var pending: [UInt8] = []
            func flush() {
                guard !pending.isEmpty else { return }
                if let s = String(validating: pending, as: UTF8.self) {
                    out.append(s)
                } else {
                    // tokenizers emits one U+FFFD per byte of an invalid run.
                    out.append(contentsOf: repeatElement("\u{FFFD}", count: pending.count))
                }
                pending.removeAll()
            }
            for token in tokens {
                if let b = Self.fallbackByte(token) {
                    pending.append(b)
                } else {
                    flush()
                    out.append(token)
                }
            }
            flush()
            return out
        case .fuse:
            return [tokens.joined()]
        case .strip(let content, let start, let stop):
            return tokens.map { token in
                // Rust iterates chars, i.e. Unicode scalars.
                let chars = Array(token.unicodeScalars)
                var startCut = 0
                while startCut < start && startCut < chars.count && chars[startCut] == content { startCut += 1 }
                var stopCut = 0
                while stopCut < stop && stopCut < chars.count && chars[chars.count - 1 - stopCut] == content {
                    stopCut += 1
                }
                // tokenizers takes (byte length − cuts) characters, so multi-byte tokens may keep their tail.
                let take = max(0, token.utf8.count - startCut - stopCut)
                var s = String.UnicodeScalarView()
                s.append(contentsOf: chars.dropFirst(startCut).prefix(take))
                return String(s)
            }
        case .replace(let pattern, let content):
            guard !pattern.isEmpty else { return tokens }
            return tokens.map { $0.replacingAll(pattern, with: content) }
        case .metaspace(let replacement, let scheme):
            // In the first token every replacement character is dropped (not only a leading one), as tokenizers does.
            return tokens.enumerated().map { i, token in
                var s = String.UnicodeScalarView()
                for c in token.unicodeScalars {
                    if c == replacement {
                        if i == 0 && scheme != .never { continue }
                        s.append(" ")
                    } else {
                        s.append(c)
                    }
                }
                return String(s)
            }
        }
    }

    /// The byte of a `<0xNN>` token.
    static func fallbackByte(_ token: String) -> UInt8? {
        let u = token.utf8
        guard u.count == 6, token.hasPrefix("<0x"), token.hasSuffix(">") else { return nil }
        let hex = token.dropFirst(3).prefix(2)
        return UInt8(hex, radix: 16)
    }
}

extension String {
    /// Replaces every non-overlapping occurrence of `pattern`, scanning left to right on UTF-8 bytes.
    func replacingAll(_ pattern: String, with content: String) -> String {
        let p = Array(pattern.utf8)
        let s = Array(utf8)
        guard !p.isEmpty, s.count >= p.count else { return self }
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            if i + p.count <= s.count && s[i] == p[0] && s[i..<(i + p.count)].elementsEqual(p) {
                out.append(contentsOf: content.utf8)
                i += p.count
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
