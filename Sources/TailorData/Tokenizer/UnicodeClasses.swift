/// Character classes used by the pre-tokenizer regexes, defined as the `tokenizers` regex engines define them:
/// `\p{L}` = Lu/Ll/Lt/Lm/Lo, `\p{N}` = Nd/Nl/No, `\s` = Unicode White_Space, `\w` = Rust regex's Unicode word class.
enum UnicodeClass {
    @inline(__always)
    static func isLetter(_ v: UInt32) -> Bool {
        if v < 0x80 { return (v &- 0x41) < 26 || (v &- 0x61) < 26 }
        switch Unicode.Scalar(v)?.properties.generalCategory {
        case .uppercaseLetter?, .lowercaseLetter?, .titlecaseLetter?, .modifierLetter?, .otherLetter?: return true
        default: return false
        }
    }

    @inline(__always)
    static func isNumber(_ v: UInt32) -> Bool {
        if v < 0x80 { return (v &- 0x30) < 10 }
        switch Unicode.Scalar(v)?.properties.generalCategory {
        case .decimalNumber?, .letterNumber?, .otherNumber?: return true
        default: return false
        }
    }

    @inline(__always)
    static func isWhitespace(_ v: UInt32) -> Bool {
        if v < 0x80 { return v == 0x20 || (v >= 0x09 && v <= 0x0D) }
        return Unicode.Scalar(v)?.properties.isWhitespace ?? false
    }

    /// Rust regex `\w`: Alphabetic, marks, decimal digits, connector punctuation, Join_Control.
    static func isWordCharacter(_ v: UInt32) -> Bool {
        if v < 0x80 { return isLetter(v) || (v &- 0x30) < 10 || v == 0x5F }
        guard let s = Unicode.Scalar(v) else { return false }
        let p = s.properties
        if p.isAlphabetic || p.isJoinControl { return true }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }
}

/// Minimal UTF-8 decoding over byte buffers that are known to hold valid UTF-8 (they come from Swift strings).
enum UTF8Scan {
    /// The scalar starting at `i` and its encoded length.
    @inline(__always)
    static func scalar(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> (value: UInt32, length: Int) {
        let b0 = UInt32(b[i])
        if b0 < 0x80 { return (b0, 1) }
        if b0 < 0xE0 { return ((b0 & 0x1F) << 6 | UInt32(b[i + 1] & 0x3F), 2) }
        if b0 < 0xF0 {
            return ((b0 & 0x0F) << 12 | UInt32(b[i + 1] & 0x3F) << 6 | UInt32(b[i + 2] & 0x3F), 3)
        }
        return ((b0 & 0x07) << 18 | UInt32(b[i + 1] & 0x3F) << 12 | UInt32(b[i + 2] & 0x3F) << 6
                    | UInt32(b[i + 3] & 0x3F), 4)
    }

    /// Length of the scalar whose first byte is `b0`.
    @inline(__always)
    static func length(leadByte b0: UInt8) -> Int {
        b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4
    }

    /// Start of the scalar that ends just before `i`.
    @inline(__always)
    static func previousStart(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int {
        var j = i - 1
        while j > 0 && b[j] & 0xC0 == 0x80 { j -= 1 }
        return j
    }

    static func encode(_ v: UInt32, into out: inout [UInt8]) {
        guard let s = Unicode.Scalar(v) else { return }
        out.append(contentsOf: UTF8.encode(s)!)
    }
}
