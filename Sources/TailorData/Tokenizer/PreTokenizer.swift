/// A `tokenizer.json` pre-tokenizer, splitting normalized text into the words the model sees.
///
/// Pieces are byte ranges of one `NormalizedText`; the few pre-tokenizers that rewrite text (`Metaspace`, a
/// `ByteLevel` prefix space) rebuild the text. `ByteLevel`'s byte-to-character map is not applied here: the BPE
/// model looks bytes up through it directly (see `BPEModel`).
indirect enum PreTokenizer: Sendable {
    enum Matcher: Sendable {
        case regex(KnownSplitRegex)
        case literal([UInt8])
    }

    enum PrependScheme: String, Sendable {
        case first, always, never
    }

    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    case split(Matcher, behavior: SplitBehavior, invert: Bool)
    case digits(individual: Bool)
    case metaspace(replacement: [UInt8], prependScheme: PrependScheme, split: Bool)
    case whitespaceSplit
    case sequence([PreTokenizer])

    static let supported = "ByteLevel, Split, Digits, Metaspace, WhitespaceSplit, Sequence"

    init(json: JSONNode) throws {
        let type = try json.type()
        switch type {
        case "ByteLevel":
            self = .byteLevel(addPrefixSpace: try json.bool("add_prefix_space", default: true),
                              useRegex: try json.bool("use_regex", default: true))
        case "Split":
            guard let pattern = try json.object("pattern") else {
                throw json.fail(.invalidField, "missing object field \(json.path).pattern")
            }
            let matcher: Matcher
            if let literal = try pattern.string("String") {
                matcher = .literal(Array(literal.utf8))
            } else if let regex = try pattern.string("Regex") {
                guard let known = KnownSplitRegex(source: regex) else {
                    throw json.fail(.unsupported, "unsupported Split regex \"\(regex)\" at \(json.path).pattern.Regex "
                                    + "(supported: the GPT-2, Llama 3 and Qwen2 patterns)")
                }
                matcher = .regex(known)
            } else {
                throw json.fail(.invalidField, "\(json.path).pattern should hold \"String\" or \"Regex\"")
            }
            let behaviorName = try json.string("behavior") ?? "Isolated"
            guard let behavior = SplitBehavior(rawValue: behaviorName) else {
                throw json.unsupported("Split behavior", behaviorName, at: "behavior",
                                       supported: "Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous")
            }
            self = .split(matcher, behavior: behavior, invert: try json.bool("invert", default: false))
        case "Digits":
            self = .digits(individual: try json.bool("individual_digits", default: false))
        case "Metaspace":
            let replacement = try json.string("replacement") ?? json.string("str_rep") ?? "\u{2581}"
            let scheme: PrependScheme
            if let name = try json.string("prepend_scheme") {
                guard let s = PrependScheme(rawValue: name) else {
                    throw json.unsupported("Metaspace prepend_scheme", name, at: "prepend_scheme",
                                           supported: "first, always, never")
                }
                scheme = s
            } else {
                scheme = try json.bool("add_prefix_space", default: true) ? .always : .never
            }
            self = .metaspace(replacement: Array(replacement.utf8), prependScheme: scheme,
                              split: try json.bool("split", default: true))
        case "WhitespaceSplit":
            self = .whitespaceSplit
        case "Sequence":
            let steps = try json.objects("pretokenizers").map(PreTokenizer.init(json:))
            // The byte map is applied by the model, so nothing may inspect text after a ByteLevel step.
            if let i = steps.firstIndex(where: { $0.isByteLevel }), i != steps.count - 1 {
                throw json.fail(.unsupported, "unsupported pre-tokenizer order at \(json.path).pretokenizers: "
                                + "ByteLevel must be the last step")
            }
            self = .sequence(steps)
        default:
            throw json.unsupported("pre-tokenizer", type, at: "type", supported: Self.supported)
        }
    }

    private var isByteLevel: Bool {
        if case .byteLevel = self { return true }
        return false
    }

    /// Whether a `ByteLevel` step is present, so the model must map bytes through the GPT-2 byte map.
    var usesByteLevel: Bool {
        switch self {
        case .byteLevel: return true
        case .sequence(let steps): return steps.contains { $0.usesByteLevel }
        default: return false
        }
    }

    func apply(_ text: inout NormalizedText, _ pieces: inout [Range<Int>]) {
        switch self {
        case .sequence(let steps):
            for step in steps { step.apply(&text, &pieces) }
        case .byteLevel(let addPrefixSpace, let useRegex):
            if addPrefixSpace {
                Self.rewrite(&text, &pieces) { text, piece, out in
                    if text.bytes[piece.lowerBound] != 0x20 {
                        out.append(CollectionOfOne(0x20), start: text.starts[piece.lowerBound],
                                   end: text.ends[piece.lowerBound])
                    }
                    out.append(from: text, piece)
                }
            }
            if useRegex {
                Self.splitEach(text, &pieces, behavior: .isolated, invert: false) { b, r, out in
                    KnownSplitRegex.gpt2.matches(in: b, r, into: &out)
                }
            }
        case .split(let matcher, let behavior, let invert):
            Self.splitEach(text, &pieces, behavior: behavior, invert: invert) { b, r, out in
                switch matcher {
                case .regex(let regex): regex.matches(in: b, r, into: &out)
                case .literal(let literal): Self.literalMatches(b, r, literal, into: &out)
                }
            }
        case .digits(let individual):
            Self.splitEach(text, &pieces, behavior: individual ? .isolated : .contiguous, invert: false) { b, r, out in
                Self.scalarMatches(b, r, into: &out, UnicodeClass.isNumber)
            }
        case .whitespaceSplit:
            Self.splitEach(text, &pieces, behavior: .removed, invert: false) { b, r, out in
                Self.scalarMatches(b, r, into: &out, UnicodeClass.isWhitespace)
            }
        case .metaspace(let replacement, let scheme, let split):
            Self.rewrite(&text, &pieces) { text, piece, out in
                let startsWithReplacement = text.bytes[piece].starts(with: replacement)
                    || (text.bytes[piece.lowerBound] == 0x20 && replacement.count > 0)
                let prepend: Bool
                switch scheme {
                case .always: prepend = !startsWithReplacement
                case .first: prepend = !startsWithReplacement && text.starts[piece.lowerBound] == 0
                case .never: prepend = false
                }
                if prepend {
                    let firstEnd = piece.lowerBound + UTF8Scan.length(leadByte: text.bytes[piece.lowerBound]) - 1
                    out.append(replacement, start: text.starts[piece.lowerBound], end: text.ends[firstEnd])
                }
                for i in piece {
                    if text.bytes[i] == 0x20 {
                        out.append(replacement, start: text.starts[i], end: text.ends[i])
                    } else {
                        out.append(from: text, i..<(i + 1))
                    }
                }
            }
            if split {
                Self.splitEach(text, &pieces, behavior: .mergedWithNext, invert: false) { b, r, out in
                    Self.literalMatches(b, r, replacement, into: &out)
                }
            }
        }
    }

    /// Rebuilds the text piece by piece; `body` appends the new bytes for one piece.
    private static func rewrite(_ text: inout NormalizedText, _ pieces: inout [Range<Int>],
                                _ body: (NormalizedText, Range<Int>, inout NormalizedText) -> Void) {
        var out = NormalizedText()
        out.reserve(text.count + pieces.count * 3)
        var newPieces: [Range<Int>] = []
        newPieces.reserveCapacity(pieces.count)
        for piece in pieces where !piece.isEmpty {
            let start = out.count
            body(text, piece, &out)
            newPieces.append(start..<out.count)
        }
        text = out
        pieces = newPieces
    }

    /// Splits every piece with `find` (which appends its matches) and a delimiter behavior.
    private static func splitEach(
        _ text: NormalizedText, _ pieces: inout [Range<Int>], behavior: SplitBehavior, invert: Bool,
        _ find: (UnsafeBufferPointer<UInt8>, Range<Int>, inout [Range<Int>]) -> Void
    ) {
        var out: [Range<Int>] = []
        out.reserveCapacity(pieces.count * 4)
        var matches: [Range<Int>] = []
        text.bytes.withUnsafeBufferPointer { b in
            for piece in pieces where !piece.isEmpty {
                matches.removeAll(keepingCapacity: true)
                find(b, piece, &matches)
                if behavior == .isolated && !invert {
                    // Fast path: matches plus the gaps between them.
                    var previous = piece.lowerBound
                    for m in matches {
                        if previous < m.lowerBound { out.append(previous..<m.lowerBound) }
                        if !m.isEmpty { out.append(m) }
                        previous = m.upperBound
                    }
                    if previous < piece.upperBound { out.append(previous..<piece.upperBound) }
                } else {
                    behavior.apply(SplitBehavior.spans(matches: matches, in: piece, invert: invert), into: &out)
                }
            }
        }
        pieces = out
    }

    /// Every occurrence of `literal`, left to right, non-overlapping.
    private static func literalMatches(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, _ literal: [UInt8],
                                       into out: inout [Range<Int>]) {
        guard !literal.isEmpty else { return }
        var i = r.lowerBound
        while i + literal.count <= r.upperBound {
            var equal = true
            for k in 0..<literal.count where b[i + k] != literal[k] {
                equal = false
                break
            }
            if equal {
                out.append(i..<(i + literal.count))
                i += literal.count
            } else {
                i += 1
            }
        }
    }

    /// Each scalar satisfying `test` is its own match (as `tokenizers` does for character predicates).
    private static func scalarMatches(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, into out: inout [Range<Int>],
                                      _ test: (UInt32) -> Bool) {
        var i = r.lowerBound
        while i < r.upperBound {
            let (v, n) = UTF8Scan.scalar(b, i)
            if test(v) { out.append(i..<(i + n)) }
            i += n
        }
    }
}
