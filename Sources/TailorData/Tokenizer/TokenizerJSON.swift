import Foundation

/// A parsed JSON value that keeps object members in file order with their exact keys.
///
/// `JSONSerialization` cannot be used for vocabularies: it returns Swift dictionaries, whose `String` keys compare
/// by canonical equivalence, so distinct tokens such as `Å` (U+00C5) and `Å` (U+212B) would collapse into one.
/// (On Linux it also drops U+FEFF at the start of a string.)
indirect enum TokenizerJSON {
    case null
    case bool(Bool)
    case integer(Int)
    case double(Double)
    case string(String)
    case array([TokenizerJSON])
    case object(TokenizerJSONObject)

    /// Parses a complete JSON document.
    static func parse(_ data: Data) throws -> TokenizerJSON {
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws -> TokenizerJSON in
            var parser = TokenizerJSONParser(bytes: raw.bindMemory(to: UInt8.self))
            parser.skipWhitespace()
            let value = try parser.value(depth: 0)
            parser.skipWhitespace()
            guard parser.position == parser.bytes.count else { throw parser.error("unexpected trailing characters") }
            return value
        }
    }
}

/// Members of a JSON object in file order. Field lookups scan small objects and index large ones on first use
/// (a vocabulary object is only iterated, so it never pays for hashing 100k+ keys).
final class TokenizerJSONObject {
    private(set) var keys: [String] = []
    private(set) var values: [TokenizerJSON] = []
    private var index: [String: Int]?

    func append(_ key: String, _ value: TokenizerJSON) {
        keys.append(key)
        values.append(value)
    }

    /// The first member named `key`.
    subscript(key: String) -> TokenizerJSON? {
        if keys.count <= 32 {
            return keys.firstIndex(of: key).map { values[$0] }
        }
        if index == nil {
            var built: [String: Int] = [:]
            for (i, k) in keys.enumerated() where built[k] == nil { built[k] = i }
            index = built
        }
        return index?[key].map { values[$0] }
    }
}

/// Where and why parsing failed.
struct TokenizerJSONError: Error {
    var message: String
    var offset: Int
}

private struct TokenizerJSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    func error(_ message: String) -> TokenizerJSONError { TokenizerJSONError(message: message, offset: position) }

    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    mutating func value(depth: Int) throws -> TokenizerJSON {
        guard depth < 512 else { throw error("nesting too deep") }
        guard position < bytes.count else { throw error("unexpected end of input") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return .object(try object(depth: depth))
        case UInt8(ascii: "["):
            position += 1
            var items: [TokenizerJSON] = []
            skipWhitespace()
            if position < bytes.count && bytes[position] == UInt8(ascii: "]") {
                position += 1
                return .array(items)
            }
            while true {
                skipWhitespace()
                items.append(try value(depth: depth + 1))
                skipWhitespace()
                guard position < bytes.count else { throw error("unterminated array") }
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                if bytes[position] == UInt8(ascii: "]") { position += 1; return .array(items) }
                throw error("expected ',' or ']' in array")
            }
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default: return try number()
        }
    }

    mutating func object(depth: Int) throws -> TokenizerJSONObject {
        position += 1
        let object = TokenizerJSONObject()
        skipWhitespace()
        if position < bytes.count && bytes[position] == UInt8(ascii: "}") {
            position += 1
            return object
        }
        while true {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
                throw error("expected a string key in object")
            }
            let key = try string()
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw error("expected ':'") }
            position += 1
            skipWhitespace()
            object.append(key, try value(depth: depth + 1))
            skipWhitespace()
            guard position < bytes.count else { throw error("unterminated object") }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            if bytes[position] == UInt8(ascii: "}") { position += 1; return object }
            throw error("expected ',' or '}' in object")
        }
    }

    mutating func literal(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        guard position + n <= bytes.count else { throw error("invalid literal") }
        for k in 0..<n where bytes[position + k] != word.utf8Start[k] { throw error("invalid literal") }
        position += n
    }

    mutating func number() throws -> TokenizerJSON {
        let start = position
        var isInteger = true
        while position < bytes.count {
            let c = bytes[position]
            if (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+") {
                position += 1
            } else if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                isInteger = false
                position += 1
            } else {
                break
            }
        }
        guard position > start else { throw error("unexpected character") }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        if isInteger, let n = Int(text) { return .integer(n) }
        guard let d = Double(text) else { throw error("invalid number \(text)") }
        return .double(d)
    }

    mutating func hex4() throws -> UInt32 {
        guard position + 4 <= bytes.count else { throw error("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[position]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw error("invalid \\u escape")
            }
            v = v << 4 | d
            position += 1
        }
        return v
    }

    mutating func string() throws -> String {
        position += 1
        let start = position
        // Fast path: no escapes.
        while position < bytes.count {
            let c = bytes[position]
            if c == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
                position += 1
                return s
            }
            if c == UInt8(ascii: "\\") { break }
            position += 1
        }
        var out = Array(bytes[start..<position])
        while position < bytes.count {
            let c = bytes[position]
            if c == UInt8(ascii: "\"") {
                position += 1
                return String(decoding: out, as: UTF8.self)
            }
            guard c == UInt8(ascii: "\\") else {
                out.append(c)
                position += 1
                continue
            }
            position += 1
            guard position < bytes.count else { break }
            let e = bytes[position]
            position += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var v = try hex4()
                if v >= 0xD800 && v < 0xDC00, position + 6 <= bytes.count, bytes[position] == UInt8(ascii: "\\"),
                   bytes[position + 1] == UInt8(ascii: "u") {
                    let save = position
                    position += 2
                    let low = try hex4()
                    if low >= 0xDC00 && low < 0xE000 {
                        v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        position = save
                    }
                }
                UTF8Scan.encode(Unicode.Scalar(v) == nil ? 0xFFFD : v, into: &out)
            default: throw error("invalid escape")
            }
        }
        throw error("unterminated string")
    }
}
