/// Options for ``JSONValue/serialized(options:)``, named after Python `json.dumps` parameters.
///
/// The defaults reproduce `json.dumps(x)`; transformers' `tojson` filter is `json.dumps(x, ensure_ascii=False)`.
public struct JSONSerializationOptions: Sendable, Equatable {
    /// Escape every non-ASCII character as `\uXXXX` (surrogate pairs above U+FFFF). Python's default is true.
    public var ensureASCII: Bool
    /// Pretty-print with this many spaces per level (`indent=`); nil for one line.
    public var indent: Int?
    /// Sort object keys by code point (`sort_keys=`).
    public var sortKeys: Bool
    /// The item and key separators (`separators=`); nil for Python's default: `(", ", ": ")`, or `(",", ": ")`
    /// when `indent` is set.
    public var separators: (item: String, key: String)?

    public init(ensureASCII: Bool = true, indent: Int? = nil, sortKeys: Bool = false,
                separators: (item: String, key: String)? = nil) {
        self.ensureASCII = ensureASCII
        self.indent = indent
        self.sortKeys = sortKeys
        self.separators = separators
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.ensureASCII == b.ensureASCII && a.indent == b.indent && a.sortKeys == b.sortKeys
            && a.separators?.item == b.separators?.item && a.separators?.key == b.separators?.key
    }
}

extension JSONValue {
    /// Serializes like Python's `json.dumps(value, ...)`, byte for byte.
    ///
    /// Floats use Python's `repr` (`1.0`, `0.1`, `1e-05`, `1e+16`); non-finite values become `NaN`,
    /// `Infinity` and `-Infinity` as Python writes them.
    ///
    /// ```swift
    /// let v: JSONValue = ["a": [1, 2.5], "é": nil]
    /// v.serialized()                                             // {"a": [1, 2.5], "\u00e9": null}
    /// v.serialized(options: .init(ensureASCII: false, indent: 2))
    /// ```
    public func serialized(options: JSONSerializationOptions = JSONSerializationOptions()) -> String {
        var writer = JSONWriter(options: options)
        writer.write(self, level: 0)
        return String(decoding: writer.out, as: UTF8.self)
    }
}

/// Formats a Double the way Python's `repr(float)` does: the shortest round-trip digits, written in fixed
/// notation when the decimal exponent is in -4 ..< 16 and as `d.ddde±XX` otherwise.
func pythonFloatRepr(_ d: Double) -> String {
    if d.isNaN { return "nan" }
    if d.isInfinite { return d < 0 ? "-inf" : "inf" }
    if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
    // Swift's description gives the same shortest digits; re-lay them out with Python's thresholds.
    let text = d.magnitude.description
    var mantissa = Substring(text)
    var exponent = 0
    if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
        mantissa = text[..<e]
        exponent = Int(text[text.index(after: e)...])!
    }
    var digits = ""
    var pointPosition = mantissa.count
    for (i, ch) in mantissa.enumerated() {
        if ch == "." { pointPosition = i } else { digits.append(ch) }
    }
    // decpt: position of the decimal point relative to the start of `digits`.
    var decpt = pointPosition + exponent
    while digits.hasPrefix("0") && digits.count > 1 {
        digits.removeFirst()
        decpt -= 1
    }
    while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
    var out = d.sign == .minus ? "-" : ""
    if decpt <= -4 || decpt > 16 {
        out += String(digits.first!)
        if digits.count > 1 { out += "." + digits.dropFirst() }
        let e = decpt - 1
        out += (e < 0 ? "e-" : "e+") + (abs(e) < 10 ? "0" : "") + String(abs(e))
    } else if decpt <= 0 {
        out += "0." + String(repeating: "0", count: -decpt) + digits
    } else if decpt >= digits.count {
        out += digits + String(repeating: "0", count: decpt - digits.count) + ".0"
    } else {
        let i = digits.index(digits.startIndex, offsetBy: decpt)
        out += digits[..<i] + "." + digits[i...]
    }
    return out
}

struct JSONWriter {
    let options: JSONSerializationOptions
    var out: [UInt8] = []
    let itemSeparator: [UInt8]
    let keySeparator: [UInt8]

    init(options: JSONSerializationOptions) {
        self.options = options
        let defaultItem = options.indent == nil ? ", " : ","
        itemSeparator = Array((options.separators?.item ?? defaultItem).utf8)
        keySeparator = Array((options.separators?.key ?? ": ").utf8)
        out.reserveCapacity(256)
    }

    mutating func newline(_ level: Int) {
        guard let indent = options.indent else { return }
        out.append(0x0A)
        out.append(contentsOf: repeatElement(0x20, count: max(indent, 0) * level))
    }

    mutating func write(_ value: JSONValue, level: Int) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i): out.append(contentsOf: String(i).utf8)
        case .double(let d):
            if d.isNaN {
                out.append(contentsOf: "NaN".utf8)
            } else if d.isInfinite {
                out.append(contentsOf: (d < 0 ? "-Infinity" : "Infinity").utf8)
            } else {
                out.append(contentsOf: pythonFloatRepr(d).utf8)
            }
        case .string(let s): writeString(s)
        case .array(let a):
            if a.isEmpty {
                out.append(contentsOf: "[]".utf8)
                return
            }
            out.append(UInt8(ascii: "["))
            for (i, element) in a.enumerated() {
                if i > 0 { out.append(contentsOf: itemSeparator) }
                newline(level + 1)
                write(element, level: level + 1)
            }
            newline(level)
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            if o.isEmpty {
                out.append(contentsOf: "{}".utf8)
                return
            }
            out.append(UInt8(ascii: "{"))
            var order = Array(o.keys.indices)
            if options.sortKeys {
                let keys = o.keys
                order.sort { keys[$0].utf8.lexicographicallyPrecedes(keys[$1].utf8) }
            }
            for (n, i) in order.enumerated() {
                if n > 0 { out.append(contentsOf: itemSeparator) }
                newline(level + 1)
                writeString(o.store.keys[i])
                out.append(contentsOf: keySeparator)
                write(o.store.values[i], level: level + 1)
            }
            newline(level)
            out.append(UInt8(ascii: "}"))
        }
    }

    static let hexDigits = Array("0123456789abcdef".utf8)

    mutating func writeUnicodeEscape(_ unit: UInt16) {
        out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u")])
        for shift in stride(from: 12, through: 0, by: -4) {
            out.append(Self.hexDigits[Int((unit >> UInt16(shift)) & 0xF)])
        }
    }

    mutating func writeString(_ s: String) {
        out.append(UInt8(ascii: "\""))
        let ascii = options.ensureASCII
        var utf8 = s.utf8.makeIterator()
        // Walk scalars for ensure_ascii, bytes otherwise.
        if !ascii {
            while let b = utf8.next() {
                switch b {
                case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
                case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
                case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
                case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
                case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
                case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
                case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
                case 0..<0x20: writeUnicodeEscape(UInt16(b))
                default: out.append(b)
                }
            }
        } else {
            for scalar in s.unicodeScalars {
                let v = scalar.value
                switch v {
                case 0x22: out.append(contentsOf: [0x5C, 0x22])
                case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
                case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
                case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
                case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
                case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
                case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
                case 0x20...0x7E: out.append(UInt8(v))
                case 0x10000...:
                    let u = v - 0x10000
                    writeUnicodeEscape(UInt16(0xD800 + (u >> 10)))
                    writeUnicodeEscape(UInt16(0xDC00 + (u & 0x3FF)))
                default: writeUnicodeEscape(UInt16(v))
                }
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
