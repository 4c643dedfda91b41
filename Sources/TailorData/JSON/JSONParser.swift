/// Why a JSON document could not be parsed, and where.
///
/// `line` and `column` are 1-based; the column counts Unicode scalars from the start of the line, as Python's
/// `json.JSONDecodeError.colno` does. `offset` is the byte offset into the input.
///
/// ```swift
/// do { _ = try JSONValue(parsing: #"{"a": 1 "b": 2}"#) }
/// catch let error as JSONParseError { print(error) }  // expected ',' or '}' at line 1, column 9
/// ```
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, e.g. `expected ',' or '}'`.
    public let message: String
    /// The 0-based byte offset of the problem.
    public let offset: Int
    /// The 1-based line.
    public let line: Int
    /// The 1-based column, in Unicode scalars.
    public let column: Int

    public var description: String { "\(message) at line \(line), column \(column)" }
}

/// A strict RFC 8259 parser over UTF-8 bytes with Python `json` conventions for numbers and duplicate keys.
///
/// Differences from Python: `NaN`/`Infinity` are rejected (strict JSON); a lone UTF-16 surrogate escape
/// (`"\ud800"`) becomes U+FFFD because Swift strings cannot hold it; integers beyond `Int` become `Double`.
struct JSONParser {
    static let maxDepth = 512

    let base: UnsafePointer<UInt8>?
    let end: Int
    var pos = 0
    var depth = 0

    static func parse(_ buffer: UnsafeRawBufferPointer) throws -> JSONValue {
        var parser = JSONParser(base: buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), end: buffer.count)
        return try parser.parseDocument()
    }

    @inline(__always) func byte(_ i: Int) -> UInt8 { base![i] }

    mutating func parseDocument() throws -> JSONValue {
        if end >= 3, byte(0) == 0xEF, byte(1) == 0xBB, byte(2) == 0xBF {
            throw error("unexpected UTF-8 byte order mark", at: 0)
        }
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        if pos < end { throw error("unexpected trailing characters after the JSON value", at: pos) }
        return value
    }

    @inline(__always) mutating func skipWhitespace() {
        while pos < end {
            let c = byte(pos)
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { pos += 1 } else { return }
        }
    }

    mutating func parseValue() throws -> JSONValue {
        guard pos < end else { throw error("expected a value but reached the end of the input", at: pos) }
        switch byte(pos) {
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw unexpected("expected a value")
        }
    }

    mutating func expectLiteral(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        let ok = pos + n <= end && (0..<n).allSatisfy { byte(pos + $0) == word.utf8Start[$0] }
        guard ok else { throw unexpected("expected a value") }
        pos += n
    }

    mutating func enter() throws {
        depth += 1
        if depth > Self.maxDepth { throw error("nesting deeper than \(Self.maxDepth) levels", at: pos) }
    }

    mutating func parseObject() throws -> JSONValue {
        try enter()
        defer { depth -= 1 }
        pos += 1
        var object = JSONObject()
        skipWhitespace()
        if pos < end, byte(pos) == UInt8(ascii: "}") {
            pos += 1
            return .object(object)
        }
        while true {
            guard pos < end, byte(pos) == UInt8(ascii: "\"") else {
                throw unexpected(object.isEmpty ? "expected '\"' to start a key or '}'" : "expected '\"' to start a key")
            }
            let key = try parseString()
            skipWhitespace()
            guard pos < end, byte(pos) == UInt8(ascii: ":") else { throw unexpected("expected ':' after an object key") }
            pos += 1
            skipWhitespace()
            let value = try parseValue()
            object.store.set(key, value)
            skipWhitespace()
            guard pos < end else { throw unexpected("expected ',' or '}'") }
            let c = byte(pos)
            pos += 1
            if c == UInt8(ascii: ",") {
                skipWhitespace()
                continue
            }
            if c == UInt8(ascii: "}") { return .object(object) }
            pos -= 1
            throw unexpected("expected ',' or '}'")
        }
    }

    mutating func parseArray() throws -> JSONValue {
        try enter()
        defer { depth -= 1 }
        pos += 1
        var array: [JSONValue] = []
        skipWhitespace()
        if pos < end, byte(pos) == UInt8(ascii: "]") {
            pos += 1
            return .array(array)
        }
        while true {
            array.append(try parseValue())
            skipWhitespace()
            guard pos < end else { throw unexpected("expected ',' or ']'") }
            let c = byte(pos)
            pos += 1
            if c == UInt8(ascii: ",") {
                skipWhitespace()
                continue
            }
            if c == UInt8(ascii: "]") { return .array(array) }
            pos -= 1
            throw unexpected("expected ',' or ']'")
        }
    }

    mutating func parseNumber() throws -> JSONValue {
        let start = pos
        var isInteger = true
        if byte(pos) == UInt8(ascii: "-") { pos += 1 }
        guard pos < end, isDigit(byte(pos)) else { throw unexpected("expected a digit after '-'") }
        if byte(pos) == UInt8(ascii: "0") {
            pos += 1
        } else {
            while pos < end, isDigit(byte(pos)) { pos += 1 }
        }
        if pos < end, byte(pos) == UInt8(ascii: ".") {
            isInteger = false
            pos += 1
            guard pos < end, isDigit(byte(pos)) else { throw unexpected("expected a digit after '.'") }
            while pos < end, isDigit(byte(pos)) { pos += 1 }
        }
        if pos < end, byte(pos) == UInt8(ascii: "e") || byte(pos) == UInt8(ascii: "E") {
            isInteger = false
            pos += 1
            if pos < end, byte(pos) == UInt8(ascii: "+") || byte(pos) == UInt8(ascii: "-") { pos += 1 }
            guard pos < end, isDigit(byte(pos)) else { throw unexpected("expected a digit in the exponent") }
            while pos < end, isDigit(byte(pos)) { pos += 1 }
        }
        if isInteger {
            var negative = false
            var i = start
            if byte(i) == UInt8(ascii: "-") { negative = true; i += 1 }
            var value = 0
            var overflow = false
            while i < pos {
                let d = Int(byte(i) &- 48)
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (s, o2) = negative ? m.subtractingReportingOverflow(d) : m.addingReportingOverflow(d)
                if o1 || o2 { overflow = true; break }
                value = s
                i += 1
            }
            if !overflow { return .int(value) }
        }
        let text = String(decoding: UnsafeBufferPointer(start: base! + start, count: pos - start), as: UTF8.self)
        guard let d = Double(text) else { throw error("invalid number", at: start) }
        return .double(d)
    }

    @inline(__always) func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    mutating func parseString() throws -> String {
        let open = pos
        pos += 1
        let start = pos
        // Fast path: no escapes.
        var sawNonASCII = false
        while pos < end {
            let c = byte(pos)
            if c == UInt8(ascii: "\"") {
                let bytes = UnsafeBufferPointer(start: base! + start, count: pos - start)
                if sawNonASCII { try validateUTF8(from: start, to: pos) }
                pos += 1
                return String(decoding: bytes, as: UTF8.self)
            }
            if c == UInt8(ascii: "\\") { break }
            if c < 0x20 { throw controlCharacter(c) }
            if c >= 0x80 { sawNonASCII = true }
            pos += 1
        }
        if pos >= end { throw error("unterminated string", at: open) }
        if sawNonASCII { try validateUTF8(from: start, to: pos) }
        var out = [UInt8](UnsafeBufferPointer(start: base! + start, count: pos - start))
        while pos < end {
            let c = byte(pos)
            if c == UInt8(ascii: "\"") {
                pos += 1
                return String(decoding: out, as: UTF8.self)
            }
            if c < 0x20 { throw controlCharacter(c) }
            if c == UInt8(ascii: "\\") {
                try parseEscape(into: &out)
                continue
            }
            if c < 0x80 {
                out.append(c)
                pos += 1
            } else {
                let n = try utf8SequenceLength(at: pos)
                out.append(contentsOf: UnsafeBufferPointer(start: base! + pos, count: n))
                pos += n
            }
        }
        throw error("unterminated string", at: open)
    }

    mutating func parseEscape(into out: inout [UInt8]) throws {
        let escapeStart = pos
        pos += 1
        guard pos < end else { throw error("unterminated string", at: escapeStart) }
        let c = byte(pos)
        pos += 1
        switch c {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(c)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try parseHex4(escapeStart: escapeStart)
            if (0xD800...0xDBFF).contains(scalar) {
                // A high surrogate pairs with a following \uDC00–\uDFFF escape.
                if pos + 6 <= end, byte(pos) == UInt8(ascii: "\\"), byte(pos + 1) == UInt8(ascii: "u") {
                    let save = pos
                    pos += 2
                    let low = try parseHex4(escapeStart: save)
                    if (0xDC00...0xDFFF).contains(low) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        pos = save
                        scalar = 0xFFFD
                    }
                } else {
                    scalar = 0xFFFD
                }
            } else if (0xDC00...0xDFFF).contains(scalar) {
                scalar = 0xFFFD
            }
            appendUTF8(Unicode.Scalar(scalar)!, to: &out)
        default:
            throw error("invalid escape '\\\(printable(c))' in string", at: escapeStart)
        }
    }

    mutating func parseHex4(escapeStart: Int) throws -> UInt32 {
        guard pos + 4 <= end else { throw error("invalid \\u escape: expected four hex digits", at: escapeStart) }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = byte(pos)
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw error("invalid \\u escape: expected four hex digits", at: escapeStart)
            }
            v = v << 4 | d
            pos += 1
        }
        return v
    }

    func validateUTF8(from start: Int, to stop: Int) throws {
        var i = start
        while i < stop {
            if byte(i) < 0x80 { i += 1 } else { i += try utf8SequenceLength(at: i) }
        }
    }

    /// The length of the valid UTF-8 sequence starting at `i`, or an error (overlong forms, surrogates and
    /// values above U+10FFFF are invalid).
    func utf8SequenceLength(at i: Int) throws -> Int {
        let b0 = byte(i)
        func cont(_ k: Int, _ lo: UInt8 = 0x80, _ hi: UInt8 = 0xBF) -> Bool {
            i + k < end && byte(i + k) >= lo && byte(i + k) <= hi
        }
        switch b0 {
        case 0xC2...0xDF where cont(1): return 2
        case 0xE0 where cont(1, 0xA0) && cont(2): return 3
        case 0xE1...0xEC where cont(1) && cont(2): return 3
        case 0xED where cont(1, 0x80, 0x9F) && cont(2): return 3
        case 0xEE...0xEF where cont(1) && cont(2): return 3
        case 0xF0 where cont(1, 0x90) && cont(2) && cont(3): return 4
        case 0xF1...0xF3 where cont(1) && cont(2) && cont(3): return 4
        case 0xF4 where cont(1, 0x80, 0x8F) && cont(2) && cont(3): return 4
        default: throw error("invalid UTF-8 byte 0x\(String(b0, radix: 16, uppercase: true))", at: i)
        }
    }

    func appendUTF8(_ s: Unicode.Scalar, to out: inout [UInt8]) {
        UTF8.encode(s) { out.append($0) }
    }

    func printable(_ c: UInt8) -> String {
        c >= 0x20 && c < 0x7F ? String(UnicodeScalar(c)) : "\\u{\(String(c, radix: 16))}"
    }

    func controlCharacter(_ c: UInt8) -> JSONParseError {
        let hex = String(c, radix: 16, uppercase: true)
        return error("invalid control character U+\(String(repeating: "0", count: 4 - hex.count))\(hex) in string", at: pos)
    }

    /// An error for the character at `pos`, naming it.
    func unexpected(_ expectation: String) -> JSONParseError {
        guard pos < end else { return error("\(expectation) but reached the end of the input", at: pos) }
        let c = byte(pos)
        if c < 0x80 {
            let shown = c >= 0x20 && c < 0x7F ? "'\(String(UnicodeScalar(c)))'" : "byte 0x\(String(c, radix: 16, uppercase: true))"
            return error("\(expectation), found \(shown)", at: pos)
        }
        if let n = try? utf8SequenceLength(at: pos) {
            let s = String(decoding: UnsafeBufferPointer(start: base! + pos, count: n), as: UTF8.self)
            return error("\(expectation), found '\(s)'", at: pos)
        }
        return error("invalid UTF-8 byte 0x\(String(c, radix: 16, uppercase: true))", at: pos)
    }

    func error(_ message: String, at offset: Int) -> JSONParseError {
        var line = 1
        var lineStart = 0
        for i in 0..<min(offset, end) where byte(i) == 0x0A {
            line += 1
            lineStart = i + 1
        }
        // Column in Unicode scalars: count the bytes that are not UTF-8 continuation bytes.
        var column = 1
        if offset > lineStart {
            for i in lineStart..<min(offset, end) where byte(i) & 0xC0 != 0x80 { column += 1 }
        }
        return JSONParseError(message: message, offset: offset, line: line, column: column)
    }
}
