/// Native matchers for the handful of split regexes real `tokenizer.json` files use.
///
/// `tokenizers` runs these through Oniguruma; rather than depend on another engine agreeing with it, each known
/// pattern is recognised by its exact source text and matched by hand. Every known pattern covers every
/// character, so a match always starts where the previous one ended.
enum KnownSplitRegex: Sendable, Equatable {
    /// GPT-2 (also the built-in regex of the `ByteLevel` pre-tokenizer):
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// tiktoken cl100k style (Llama 3 with `maxDigits` 3, Qwen2 with 1):
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case cl100k(maxDigits: Int)

    static let gpt2Source = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let llama3Source =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Source =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// The matcher for a regex source, or nil when it is not one of the known patterns.
    init?(source: String) {
        switch source {
        case Self.gpt2Source: self = .gpt2
        case Self.llama3Source: self = .cl100k(maxDigits: 3)
        case Self.qwen2Source: self = .cl100k(maxDigits: 1)
        default: return nil
        }
    }

    /// Appends the consecutive matches covering `range` to `out`.
    func matches(in b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, into out: inout [Range<Int>]) {
        var i = range.lowerBound
        let end = range.upperBound
        while i < end {
            let next: Int
            switch self {
            case .gpt2: next = Self.gpt2Match(b, i, end)
            case .cl100k(let maxDigits): next = Self.cl100kMatch(b, i, end, maxDigits: maxDigits)
            }
            out.append(i..<next)
            i = next
        }
    }

    private typealias C = UnicodeClass

    @inline(__always)
    private static func isOther(_ v: UInt32) -> Bool { !C.isWhitespace(v) && !C.isLetter(v) && !C.isNumber(v) }

    /// End of the run of scalars satisfying `test`, starting at `i`.
    @inline(__always)
    private static func run(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int, _ test: (UInt32) -> Bool) -> Int {
        var j = i
        while j < end {
            let (v, n) = UTF8Scan.scalar(b, j)
            guard test(v) else { break }
            j += n
        }
        return j
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d` at `i` (which holds `'`); returns the match end or nil.
    private static func contraction(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int, caseless: Bool) -> Int? {
        guard i + 1 < end else { return nil }
        let (c1, n1) = UTF8Scan.scalar(b, i + 1)
        @inline(__always) func fold(_ v: UInt32) -> UInt32 {
            guard caseless else { return v }
            if v == 0x17F { return 0x73 }  // ſ case-folds to s
            return (v &- 0x41) < 26 ? v + 0x20 : v
        }
        switch fold(c1) {
        case 0x73, 0x74, 0x6D, 0x64: return i + 1 + n1  // s t m d
        case 0x72, 0x76, 0x6C:  // r v l, need e e l
            let want: UInt32 = fold(c1) == 0x6C ? 0x6C : 0x65
            guard i + 1 + n1 < end else { return nil }
            let (c2, n2) = UTF8Scan.scalar(b, i + 1 + n1)
            return fold(c2) == want ? i + 1 + n1 + n2 : nil
        default: return nil
        }
    }

    /// `\s+(?!\S)|\s+` at whitespace position `i`: a run keeps its last character for the next word.
    @inline(__always)
    private static func whitespaceRun(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int) -> Int {
        let j = run(b, i, end, C.isWhitespace)
        if j == end { return j }
        let last = UTF8Scan.previousStart(b, j)
        return last > i ? last : j
    }

    private static func gpt2Match(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int) -> Int {
        let (c, n) = UTF8Scan.scalar(b, i)
        if c == 0x27, let e = contraction(b, i, end, caseless: false) { return e }
        var start = i
        var v = c
        if c == 0x20 && i + 1 < end {  // ` ?` prefix: only if a letter, number or other follows
            let (d, _) = UTF8Scan.scalar(b, i + 1)
            if !C.isWhitespace(d) { start = i + 1; v = d }
        }
        if C.isLetter(v) { return run(b, start, end, C.isLetter) }
        if C.isNumber(v) { return run(b, start, end, C.isNumber) }
        if !C.isWhitespace(v) { return run(b, start, end, isOther) }
        _ = n
        return whitespaceRun(b, i, end)
    }

    private static func cl100kMatch(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int, maxDigits: Int) -> Int {
        let (c, n) = UTF8Scan.scalar(b, i)
        if c == 0x27, let e = contraction(b, i, end, caseless: true) { return e }
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if C.isLetter(c) { return run(b, i, end, C.isLetter) }
        if c != 0x0D && c != 0x0A && !C.isNumber(c) && i + n < end {
            let (d, _) = UTF8Scan.scalar(b, i + n)
            if C.isLetter(d) { return run(b, i + n, end, C.isLetter) }
        }
        // \p{N}{1,maxDigits}
        if C.isNumber(c) {
            var j = i
            var count = 0
            while j < end && count < maxDigits {
                let (v, m) = UTF8Scan.scalar(b, j)
                guard C.isNumber(v) else { break }
                j += m
                count += 1
            }
            return j
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        var start = -1
        if isOther(c) {
            start = i
        } else if c == 0x20 && i + 1 < end && isOther(UTF8Scan.scalar(b, i + 1).value) {
            start = i + 1
        }
        if start >= 0 {
            let j = run(b, start, end, isOther)
            return run(b, j, end) { $0 == 0x0D || $0 == 0x0A }
        }
        // \s*[\r\n]+ : ends after the last newline of the whitespace run, if it has one.
        let j = run(b, i, end, C.isWhitespace)
        var k = j
        while k > i {
            let p = UTF8Scan.previousStart(b, k)
            if b[p] == 0x0A || b[p] == 0x0D { return k }
            k = p
        }
        return whitespaceRun(b, i, end)
    }
}

/// How a `Split`-style pre-tokenizer treats the matches (`tokenizers`' `SplitDelimiterBehavior`).
enum SplitBehavior: String, Sendable {
    case removed = "Removed"
    case isolated = "Isolated"
    case mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext"
    case contiguous = "Contiguous"

    /// Turns a list of consecutive `(range, isMatch)` spans covering a piece into the kept sub-ranges.
    func apply(_ spans: [(Range<Int>, Bool)], into out: inout [Range<Int>]) {
        switch self {
        case .isolated:
            for (r, _) in spans where !r.isEmpty { out.append(r) }
        case .removed:
            for (r, m) in spans where !m && !r.isEmpty { out.append(r) }
        case .contiguous, .mergedWithPrevious:
            var acc: [Range<Int>] = []
            var previous = false
            for (r, m) in spans {
                let merge = self == .contiguous ? (m == previous) : (m && !previous)
                if merge, let last = acc.last {
                    acc[acc.count - 1] = last.lowerBound..<r.upperBound
                } else {
                    acc.append(r)
                }
                previous = m
            }
            for r in acc where !r.isEmpty { out.append(r) }
        case .mergedWithNext:
            var acc: [Range<Int>] = []
            var previous = false
            for (r, m) in spans.reversed() {
                if m && !previous, let last = acc.last {
                    acc[acc.count - 1] = r.lowerBound..<last.upperBound
                } else {
                    acc.append(r)
                }
                previous = m
            }
            for r in acc.reversed() where !r.isEmpty { out.append(r) }
        }
    }

    /// Builds consecutive spans from the (sorted, non-overlapping) matches inside `range`.
    static func spans(matches: [Range<Int>], in range: Range<Int>, invert: Bool) -> [(Range<Int>, Bool)] {
        var spans: [(Range<Int>, Bool)] = []
        var previous = range.lowerBound
        for m in matches {
            if previous < m.lowerBound { spans.append((previous..<m.lowerBound, invert)) }
            spans.append((m, !invert))
            previous = m.upperBound
        }
        if previous < range.upperBound { spans.append((previous..<range.upperBound, invert)) }
        return spans
    }
}
