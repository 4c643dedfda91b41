/// Tokens of a Jinja template, with jinja2's whitespace rules applied while lexing
/// (`trim_blocks`, `lstrip_blocks`, `-`/`+` modifiers, `keep_trailing_newline = False`).
enum TokenKind: Equatable {
    case text(String)
    case variableBegin, variableEnd, blockBegin, blockEnd
    case name(String)
    case string(String)
    case integer(Int)
    case float(Double)
    case op(String)
    case eof
}

struct Token {
    let kind: TokenKind
    let line: Int
}

struct TemplateLexer {
    let src: [UInt8]
    let trimBlocks: Bool
    let lstripBlocks: Bool
    var pos = 0
    var line = 1
    var tokens: [Token] = []
    var lineStarting = true

    init(source: String, trimBlocks: Bool = true, lstripBlocks: Bool = true) {
        // jinja2 normalises \r\n and \r to \n and drops one trailing newline (keep_trailing_newline = False).
        var bytes: [UInt8] = []
        bytes.reserveCapacity(source.utf8.count)
        var it = source.utf8.makeIterator()
        var pendingCR = false
        while let b = it.next() {
            if pendingCR {
                pendingCR = false
                if b == 0x0A { continue }
            }
            if b == 0x0D {
                bytes.append(0x0A)
                pendingCR = true
            } else {
                bytes.append(b)
            }
        }
        if bytes.last == 0x0A { bytes.removeLast() }
        src = bytes
        self.trimBlocks = trimBlocks
        self.lstripBlocks = lstripBlocks
    }

    static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == 0x0B || b == 0x0C }

    func string(_ range: Range<Int>) -> String { String(decoding: src[range], as: UTF8.self) }

    func fail(_ message: String) -> TemplateError { TemplateError(.syntax, message, line: line) }

    mutating func emit(_ kind: TokenKind) { tokens.append(Token(kind: kind, line: line)) }

    mutating func advance(to newPos: Int) {
        for i in pos..<newPos where src[i] == 0x0A { line += 1 }
        pos = newPos
    }

    func find(_ a: UInt8, _ b: UInt8, from start: Int) -> Int? {
        var i = start
        while i + 1 < src.count {
            if src[i] == a && src[i + 1] == b { return i }
            i += 1
        }
        return nil
    }

    /// The start of the next `{{`, `{%` or `{#` at or after `start`.
    func nextTag(from start: Int) -> Int? {
        var i = start
        while i + 1 < src.count {
            if src[i] == UInt8(ascii: "{") {
                let n = src[i + 1]
                if n == UInt8(ascii: "{") || n == UInt8(ascii: "%") || n == UInt8(ascii: "#") { return i }
            }
            i += 1
        }
        return nil
    }

    mutating func tokenize() throws -> [Token] {
        while pos < src.count {
            guard let tag = nextTag(from: pos) else {
                emitText(pos..<src.count)
                advance(to: src.count)
                break
            }
            let kind = src[tag + 1]
            let sign: UInt8? = tag + 2 < src.count && (src[tag + 2] == UInt8(ascii: "-") || src[tag + 2] == UInt8(ascii: "+")) ? src[tag + 2] : nil
            var textEnd = tag
            if sign == UInt8(ascii: "-") {
                while textEnd > pos && Self.isSpace(src[textEnd - 1]) { textEnd -= 1 }
            } else if sign != UInt8(ascii: "+") && lstripBlocks && kind != UInt8(ascii: "{") {
                var lineStart = textEnd
                while lineStart > pos && src[lineStart - 1] != 0x0A { lineStart -= 1 }
                let atLineStart = lineStart > pos || (lineStart == pos && lineStarting)
                if atLineStart && lineStart < textEnd && src[lineStart..<textEnd].allSatisfy(Self.isSpace) {
                    textEnd = lineStart
                }
            }
            emitText(pos..<textEnd)
            advance(to: tag + 2 + (sign == nil ? 0 : 1))
            switch kind {
            case UInt8(ascii: "#"): try lexComment()
            case UInt8(ascii: "%"): try lexBlock()
            default: try lexVariable()
            }
        }
        emit(.eof)
        return tokens
    }

    mutating func emitText(_ range: Range<Int>) {
        if !range.isEmpty { emit(.text(string(range))) }
    }

    /// After a closing `%}`/`#}`: `-` eats following whitespace, `+` keeps it, else trim_blocks eats one newline.
    mutating func afterBlockEnd(sign: UInt8?, isBlock: Bool) {
        var p = pos
        if sign == UInt8(ascii: "-") {
            while p < src.count && Self.isSpace(src[p]) { p += 1 }
        } else if sign == nil && trimBlocks && isBlock && p < src.count && src[p] == 0x0A {
            p += 1
        }
        advance(to: p)
        lineStarting = pos > 0 && src[pos - 1] == 0x0A
    }

    mutating func lexComment() throws {
        guard let close = find(UInt8(ascii: "#"), UInt8(ascii: "}"), from: pos) else { throw fail("unterminated comment") }
        let sign: UInt8? = close > pos && (src[close - 1] == UInt8(ascii: "-") || src[close - 1] == UInt8(ascii: "+")) ? src[close - 1] : nil
        advance(to: close + 2)
        afterBlockEnd(sign: sign, isBlock: true)
    }

    mutating func lexBlock() throws {
        // `{% raw %}…{% endraw %}` is copied verbatim.
        var p = pos
        while p < src.count && Self.isSpace(src[p]) { p += 1 }
        if src[p...].starts(with: "raw".utf8) {
            var q = p + 3
            while q < src.count && Self.isSpace(src[q]) { q += 1 }
            var sign: UInt8? = nil
            if q < src.count && src[q] == UInt8(ascii: "-") { sign = src[q]; q += 1 }
            if q + 1 < src.count && src[q] == UInt8(ascii: "%") && src[q + 1] == UInt8(ascii: "}") {
                advance(to: q + 2)
                if sign != nil { afterBlockEnd(sign: sign, isBlock: true) }
                try lexRaw()
                return
            }
        }
        emit(.blockBegin)
        try lexExpressionTokens(closing: UInt8(ascii: "%"))
    }

    mutating func lexRaw() throws {
        var search = pos
        while let tag = find(UInt8(ascii: "{"), UInt8(ascii: "%"), from: search) {
            var p = tag + 2
            var openSign: UInt8? = nil
            if p < src.count && (src[p] == UInt8(ascii: "-") || src[p] == UInt8(ascii: "+")) { openSign = src[p]; p += 1 }
            while p < src.count && Self.isSpace(src[p]) { p += 1 }
            guard src[p...].starts(with: "endraw".utf8) else { search = tag + 2; continue }
            p += 6
            while p < src.count && Self.isSpace(src[p]) { p += 1 }
            var closeSign: UInt8? = nil
            if p < src.count && (src[p] == UInt8(ascii: "-") || src[p] == UInt8(ascii: "+")) { closeSign = src[p]; p += 1 }
            guard p + 1 < src.count && src[p] == UInt8(ascii: "%") && src[p + 1] == UInt8(ascii: "}") else {
                search = tag + 2
                continue
            }
            var textEnd = tag
            if openSign == UInt8(ascii: "-") {
                while textEnd > pos && Self.isSpace(src[textEnd - 1]) { textEnd -= 1 }
            }
            emitText(pos..<textEnd)
            advance(to: p + 2)
            afterBlockEnd(sign: closeSign, isBlock: true)
            return
        }
        throw fail("missing {% endraw %}")
    }

    mutating func lexVariable() throws {
        emit(.variableBegin)
        try lexExpressionTokens(closing: UInt8(ascii: "}"))
    }

    static let operators: [String] = ["//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">",
                                      "=", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|", ";"]

    mutating func lexExpressionTokens(closing: UInt8) throws {
        var balance: [UInt8] = []
        let isBlock = closing == UInt8(ascii: "%")
        while true {
            while pos < src.count && Self.isSpace(src[pos]) { advance(to: pos + 1) }
            guard pos < src.count else { throw fail(isBlock ? "unexpected end of template inside {% … %}" : "unexpected end of template inside {{ … }}") }
            let c = src[pos]
            if balance.isEmpty {
                var p = pos
                var sign: UInt8? = nil
                if c == UInt8(ascii: "-") || c == UInt8(ascii: "+") { sign = c; p += 1 }
                if p + 1 < src.count && src[p] == closing && src[p + 1] == UInt8(ascii: "}") {
                    advance(to: p + 2)
                    emit(isBlock ? .blockEnd : .variableEnd)
                    afterBlockEnd(sign: sign, isBlock: isBlock)
                    return
                }
            }
            if c == UInt8(ascii: "'") || c == UInt8(ascii: "\"") {
                try lexString(quote: c)
            } else if c >= 0x30 && c <= 0x39 {
                lexNumber()
            } else if c == UInt8(ascii: "_") || (c | 0x20 >= 0x61 && c | 0x20 <= 0x7A) || c >= 0x80 {
                var p = pos
                while p < src.count {
                    let d = src[p]
                    if d == UInt8(ascii: "_") || (d | 0x20 >= 0x61 && d | 0x20 <= 0x7A) || (d >= 0x30 && d <= 0x39) || d >= 0x80 { p += 1 } else { break }
                }
                emit(.name(string(pos..<p)))
                advance(to: p)
            } else {
                guard let op = Self.operators.first(where: { src[pos...].starts(with: $0.utf8) }) else {
                    throw fail("unexpected character '\(string(pos..<pos + 1))'")
                }
                switch op {
                case "(": balance.append(UInt8(ascii: ")"))
                case "[": balance.append(UInt8(ascii: "]"))
                case "{": balance.append(UInt8(ascii: "}"))
                case ")", "]", "}":
                    guard balance.last == op.utf8.first else { throw fail("unexpected '\(op)'") }
                    balance.removeLast()
                default: break
                }
                emit(.op(op))
                advance(to: pos + op.utf8.count)
            }
        }
    }

    mutating func lexNumber() {
        var p = pos
        func digits() { while p < src.count && ((src[p] >= 0x30 && src[p] <= 0x39) || src[p] == UInt8(ascii: "_")) { p += 1 } }
        digits()
        var isFloat = false
        if p + 1 < src.count && src[p] == UInt8(ascii: ".") && src[p + 1] >= 0x30 && src[p + 1] <= 0x39 {
            isFloat = true
            p += 1
            digits()
        }
        if p < src.count && (src[p] == UInt8(ascii: "e") || src[p] == UInt8(ascii: "E")) {
            var q = p + 1
            if q < src.count && (src[q] == UInt8(ascii: "+") || src[q] == UInt8(ascii: "-")) { q += 1 }
            if q < src.count && src[q] >= 0x30 && src[q] <= 0x39 {
                isFloat = true
                p = q
                digits()
            }
        }
        let text = string(pos..<p).replacingOccurrences(of: "_", with: "")
        if !isFloat, let i = Int(text) { emit(.integer(i)) } else { emit(.float(Double(text) ?? .infinity)) }
        advance(to: p)
    }

    /// A string literal, decoded like jinja2 does (Python `unicode-escape` semantics).
    mutating func lexString(quote: UInt8) throws {
        let startLine = line
        var p = pos + 1
        var out = String.UnicodeScalarView()
        var raw: [UInt8] = []
        func flush() {
            if !raw.isEmpty {
                out.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars)
                raw.removeAll(keepingCapacity: true)
            }
        }
        func hex(_ n: Int) -> UInt32? {
            guard p + n <= src.count else { return nil }
            var v: UInt32 = 0
            for k in 0..<n {
                guard let d = UInt32(String(UnicodeScalar(src[p + k])), radix: 16) else { return nil }
                v = v * 16 + d
            }
            return v
        }
        while true {
            guard p < src.count else { throw TemplateError(.syntax, "unterminated string literal", line: startLine) }
            let c = src[p]
            if c == quote { break }
            if c != UInt8(ascii: "\\") {
                raw.append(c)
                p += 1
                continue
            }
            guard p + 1 < src.count else { throw TemplateError(.syntax, "unterminated string literal", line: startLine) }
            let e = src[p + 1]
            p += 2
            var scalar: UInt32? = nil
            switch e {
            case UInt8(ascii: "n"): scalar = 0x0A
            case UInt8(ascii: "t"): scalar = 0x09
            case UInt8(ascii: "r"): scalar = 0x0D
            case UInt8(ascii: "\\"): scalar = 0x5C
            case UInt8(ascii: "'"): scalar = 0x27
            case UInt8(ascii: "\""): scalar = 0x22
            case UInt8(ascii: "a"): scalar = 0x07
            case UInt8(ascii: "b"): scalar = 0x08
            case UInt8(ascii: "f"): scalar = 0x0C
            case UInt8(ascii: "v"): scalar = 0x0B
            case 0x0A: scalar = nil  // line continuation
            case UInt8(ascii: "x"), UInt8(ascii: "u"), UInt8(ascii: "U"):
                let n = e == UInt8(ascii: "x") ? 2 : e == UInt8(ascii: "u") ? 4 : 8
                guard let v = hex(n), Unicode.Scalar(v) != nil else {
                    throw TemplateError(.syntax, "invalid \\\(String(UnicodeScalar(e))) escape in string literal", line: line)
                }
                scalar = v
                p += n
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                var v = UInt32(e - 0x30)
                var k = 0
                while k < 2 && p < src.count && src[p] >= 0x30 && src[p] <= 0x37 {
                    v = v * 8 + UInt32(src[p] - 0x30)
                    p += 1
                    k += 1
                }
                scalar = v
            default:
                raw.append(UInt8(ascii: "\\"))
                raw.append(e)
                continue
            }
            flush()
            if let s = scalar.flatMap(Unicode.Scalar.init) { out.append(s) }
        }
        flush()
        emit(.string(String(out)))
        advance(to: p + 1)
    }
}
