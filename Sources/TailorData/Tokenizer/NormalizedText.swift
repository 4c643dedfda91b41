import Foundation

/// UTF-8 text under transformation, with the original byte range each byte came from.
///
/// Normalizers and pre-tokenizers may rewrite text (NFC, `▁` for spaces, prefix spaces); keeping a source range
/// per byte lets the tokenizer report token offsets in the caller's original string.
struct NormalizedText {
    var bytes: [UInt8]
    /// Original start / end byte offset for each byte of `bytes`.
    var starts: [Int32]
    var ends: [Int32]

    init() {
        bytes = []
        starts = []
        ends = []
    }

    /// The bytes `range` of `original`, each mapped to itself.
    init(original: UnsafeBufferPointer<UInt8>, range: Range<Int>) {
        bytes = Array(original[range])
        starts = range.map { Int32($0) }
        ends = range.map { Int32($0 + 1) }
    }

    /// Text with no source (used to normalize added-token contents).
    init(string: String) {
        bytes = Array(string.utf8)
        starts = (0..<bytes.count).map { Int32($0) }
        ends = (0..<bytes.count).map { Int32($0 + 1) }
    }

    var count: Int { bytes.count }
    var isEmpty: Bool { bytes.isEmpty }
    var string: String { String(decoding: bytes, as: UTF8.self) }

    mutating func reserve(_ n: Int) {
        bytes.reserveCapacity(n)
        starts.reserveCapacity(n)
        ends.reserveCapacity(n)
    }

    /// Appends bytes `range` of `other`, keeping their sources.
    mutating func append(from other: NormalizedText, _ range: Range<Int>) {
        bytes.append(contentsOf: other.bytes[range])
        starts.append(contentsOf: other.starts[range])
        ends.append(contentsOf: other.ends[range])
    }

    /// Appends new bytes that all stand for the original span `start..<end`.
    mutating func append<S: Sequence>(_ newBytes: S, start: Int32, end: Int32) where S.Element == UInt8 {
        for b in newBytes {
            bytes.append(b)
            starts.append(start)
            ends.append(end)
        }
    }

    /// The original span covered by bytes `range` (empty ranges map to an empty span at their position).
    func originalSpan(_ range: Range<Int>) -> Range<Int> {
        if range.isEmpty {
            let p = range.lowerBound < count ? Int(starts[range.lowerBound]) : (count > 0 ? Int(ends[count - 1]) : 0)
            return p..<p
        }
        var lo = Int(starts[range.lowerBound])
        var hi = Int(ends[range.upperBound - 1])
        // Rewrites can reorder sources (NFC of a cluster); take the hull.
        if lo > hi { swap(&lo, &hi) }
        return lo..<hi
    }
}

/// A `tokenizer.json` normalizer.
indirect enum Normalizer: Sendable {
    case nfc, nfd, nfkc, nfkd
    case lowercase
    case prepend(String)
    case replace(pattern: String, content: String)
    case strip(left: Bool, right: Bool)
    case sequence([Normalizer])

    static let supported = "NFC, NFD, NFKC, NFKD, Lowercase, Prepend, Replace (string pattern), Strip, Sequence"

    init(json: JSONNode) throws {
        let type = try json.type()
        switch type {
        case "NFC": self = .nfc
        case "NFD": self = .nfd
        case "NFKC": self = .nfkc
        case "NFKD": self = .nfkd
        case "Lowercase": self = .lowercase
        case "Prepend": self = .prepend(try json.requiredString("prepend"))
        case "Replace":
            let pattern = try Self.stringPattern(json, component: "Replace normalizer")
            self = .replace(pattern: pattern, content: try json.requiredString("content"))
        case "Strip":
            self = .strip(left: try json.bool("strip_left", default: true),
                          right: try json.bool("strip_right", default: true))
        case "Sequence":
            self = .sequence(try json.objects("normalizers").map(Normalizer.init(json:)))
        default:
            throw json.unsupported("normalizer", type, at: "type", supported: Self.supported)
        }
    }

    /// The literal of a `{"String": …}` pattern; regex patterns are not supported here.
    static func stringPattern(_ json: JSONNode, component: String) throws -> String {
        guard let pattern = try json.object("pattern") else {
            throw json.fail(.invalidField, "missing object field \(json.path).pattern")
        }
        if let s = try pattern.string("String") { return s }
        if let r = try pattern.string("Regex") {
            throw json.fail(.unsupported, "unsupported regex pattern \"\(r)\" in \(component) at \(json.path).pattern")
        }
        throw json.fail(.invalidField, "\(json.path).pattern should hold \"String\" or \"Regex\"")
    }

    func normalize(_ text: inout NormalizedText) {
        switch self {
        case .nfc: Self.unicodeForm(&text, form: .nfc)
        case .nfd: Self.unicodeForm(&text, form: .nfd)
        case .nfkc: Self.unicodeForm(&text, form: .nfkc)
        case .nfkd: Self.unicodeForm(&text, form: .nfkd)
        case .lowercase: Self.lowercase(&text)
        case .prepend(let s):
            guard !text.isEmpty, !s.isEmpty else { return }
            let firstEnd = UTF8Scan.length(leadByte: text.bytes[0])
            var out = NormalizedText()
            out.reserve(text.count + s.utf8.count)
            out.append(s.utf8, start: text.starts[0], end: text.ends[firstEnd - 1])
            out.append(from: text, 0..<text.count)
            text = out
        case .replace(let pattern, let content):
            Self.replace(&text, pattern: Array(pattern.utf8), content: Array(content.utf8))
        case .strip(let left, let right):
            Self.strip(&text, left: left, right: right)
        case .sequence(let steps):
            for step in steps { step.normalize(&text) }
        }
    }

    private enum Form { case nfc, nfd, nfkc, nfkd }

    /// Normalizes one grapheme cluster at a time so every output byte keeps the span of its cluster.
    private static func unicodeForm(_ text: inout NormalizedText, form: Form) {
        // Scalars below U+0300 are stable under NFC; ASCII is stable under every form.
        let limit: UInt8 = form == .nfc ? 0xCC : 0x80
        guard text.bytes.contains(where: { $0 >= limit }) else { return }
        let string = text.string
        var out = NormalizedText()
        out.reserve(text.count + 8)
        var offset = 0
        for character in string {
            let n = character.utf8.count
            let range = offset..<(offset + n)
            offset += n
            if character.utf8.allSatisfy({ $0 < limit }) {
                out.append(from: text, range)
                continue
            }
            let s = String(character)
            let normalized: String
            switch form {
            case .nfc: normalized = s.precomposedStringWithCanonicalMapping
            case .nfd: normalized = s.decomposedStringWithCanonicalMapping
            case .nfkc: normalized = s.precomposedStringWithCompatibilityMapping
            case .nfkd: normalized = s.decomposedStringWithCompatibilityMapping
            }
            if normalized.utf8.elementsEqual(character.utf8) {
                out.append(from: text, range)
            } else {
                let span = text.originalSpan(range)
                out.append(normalized.utf8, start: Int32(span.lowerBound), end: Int32(span.upperBound))
            }
        }
        text = out
    }

    private static func lowercase(_ text: inout NormalizedText) {
        var out = NormalizedText()
        out.reserve(text.count)
        text.bytes.withUnsafeBufferPointer { b in
            var i = 0
            while i < b.count {
                let (v, n) = UTF8Scan.scalar(b, i)
                if v < 0x80 {
                    let lower = (v &- 0x41) < 26 ? UInt8(v + 0x20) : UInt8(v)
                    out.append(CollectionOfOne(lower), start: text.starts[i], end: text.ends[i])
                } else if let s = Unicode.Scalar(v) {
                    let lower = s.properties.lowercaseMapping
                    if lower.unicodeScalars.count == 1 && lower.unicodeScalars.first == s {
                        out.append(from: text, i..<(i + n))
                    } else {
                        out.append(lower.utf8, start: text.starts[i], end: text.ends[i + n - 1])
                    }
                }
                i += n
            }
        }
        text = out
    }

    private static func replace(_ text: inout NormalizedText, pattern: [UInt8], content: [UInt8]) {
        guard !pattern.isEmpty, text.count >= pattern.count else { return }
        var out = NormalizedText()
        out.reserve(text.count + content.count)
        var i = 0
        var copied = 0
        let first = pattern[0]
        let n = text.count
        while i + pattern.count <= n {
            if text.bytes[i] == first && text.bytes[i..<(i + pattern.count)].elementsEqual(pattern) {
                out.append(from: text, copied..<i)
                out.append(content, start: text.starts[i], end: text.ends[i + pattern.count - 1])
                i += pattern.count
                copied = i
            } else {
                i += 1
            }
        }
        guard copied > 0 else { return }
        out.append(from: text, copied..<n)
        text = out
    }

    private static func strip(_ text: inout NormalizedText, left: Bool, right: Bool) {
        let (lo, hi) = text.bytes.withUnsafeBufferPointer { b -> (Int, Int) in
            var lo = 0
            var hi = b.count
            if left {
                while lo < hi {
                    let (v, n) = UTF8Scan.scalar(b, lo)
                    guard UnicodeClass.isWhitespace(v) else { break }
                    lo += n
                }
            }
            if right {
                while hi > lo {
                    let p = UTF8Scan.previousStart(b, hi)
                    guard UnicodeClass.isWhitespace(UTF8Scan.scalar(b, p).value) else { break }
                    hi = p
                }
            }
            return (lo, hi)
        }
        guard lo > 0 || hi < text.count else { return }
        var out = NormalizedText()
        out.append(from: text, lo..<hi)
        text = out
    }
}
