import Foundation

/// Where each record of a dataset file is: JSON Lines (one object per line) or one JSON array of objects
/// (`[{…}, {…}]`, as `alpaca_data.json` and LLaMA-Factory's files are), told apart by the first character.
struct RecordRanges {
    /// A record: the 1-based line and column where it starts, and its bytes.
    struct Record {
        let line: Int
        let column: Int
        let range: Range<Int>
    }

    let records: [Record]
    /// Whether the file is one JSON array (else JSON Lines).
    let isArray: Bool

    /// Splits `buffer` (a UTF-8 byte order mark at the start is ignored).
    /// - Throws: ``LocatedRecordError`` at the line it concerns, for an array that is not closed, is empty, leaves
    ///   an element out (`[{…},,{…}]`) or is followed by more text.
    init(_ buffer: UnsafeRawBufferPointer) throws(LocatedRecordError) {
        let n = buffer.count
        var start = n >= 3 && buffer[0] == 0xEF && buffer[1] == 0xBB && buffer[2] == 0xBF ? 3 : 0
        var first = start
        while first < n, Self.isSpace(buffer[first]) { first += 1 }
        if first < n, buffer[first] == UInt8(ascii: "[") {
            isArray = true
            records = try Self.arrayElements(buffer, open: first)
        } else {
            isArray = false
            records = Self.lines(buffer, from: &start)
        }
    }

    static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0A }

    /// The non-blank lines from `start`: line number and byte range (without the `\n`).
    private static func lines(_ buffer: UnsafeRawBufferPointer, from start: inout Int) -> [Record] {
        var out: [Record] = []
        let n = buffer.count
        guard n > 0, let base = buffer.baseAddress else { return out }
        var number = 0
        while start < n {
            number += 1
            let end = memchr(base + start, 0x0A, n - start).map { UnsafeRawPointer($0) - base } ?? n
            if buffer[start..<end].contains(where: { !isSpace($0) }) { out.append(Record(line: number, column: 1, range: start..<end)) }
            start = end + 1
        }
        return out
    }

    /// The elements of the top-level array whose `[` is at `open`, found by tracking strings and nesting
    /// (each element is parsed later, on its own).
    private static func arrayElements(_ buffer: UnsafeRawBufferPointer, open: Int) throws(LocatedRecordError) -> [Record] {
        let n = buffer.count
        var line = 1, lineStart = 0
        for i in 0..<open where buffer[i] == 0x0A { line += 1; lineStart = i + 1 }
        let arrayLine = line
        var out: [Record] = []
        var i = open + 1, depth = 0, inString = false, escaped = false
        var elementStart: (offset: Int, line: Int, column: Int)?
        func column(_ offset: Int) -> Int {  // 1-based, in characters
            buffer[lineStart..<offset].reduce(1) { $1 & 0xC0 != 0x80 ? $0 + 1 : $0 }
        }
        while i < n {
            let b = buffer[i]
            if b == 0x0A { line += 1; lineStart = i + 1 }
            if inString {
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
                i += 1
                continue
            }
            if elementStart == nil && !isSpace(b) && b != UInt8(ascii: ",") && b != UInt8(ascii: "]") {
                elementStart = (i, line, column(i))
            }
            switch b {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "}") where depth > 0, UInt8(ascii: "]") where depth > 0, UInt8(ascii: ",") where depth > 0:
                if b != UInt8(ascii: ",") { depth -= 1 }
            case UInt8(ascii: ","), UInt8(ascii: "]"):  // depth 0: the cases above took the nested ones
                guard let s = elementStart else {
                    // `[]` is an empty array; `[,` or `,,` or `,]` is an element left out.
                    if b == UInt8(ascii: "]") && out.isEmpty && !buffer[(open + 1)..<i].contains(UInt8(ascii: ",")) {
                        return try closed(buffer, after: i, line: line, arrayLine: arrayLine, out)
                    }
                    throw LocatedRecordError(line: line, "expected a JSON object before '\(Character(UnicodeScalar(b)))' at column \(column(i))")
                }
                var end = i
                while end > s.offset, isSpace(buffer[end - 1]) { end -= 1 }
                out.append(Record(line: s.line, column: s.column, range: s.offset..<end))
                elementStart = nil
                if b == UInt8(ascii: "]") { return try closed(buffer, after: i, line: line, arrayLine: arrayLine, out) }
            default: break
            }
            i += 1
        }
        throw LocatedRecordError(line: arrayLine, "the JSON array that starts here is not closed (the file ends inside it)")
    }

    /// The elements, once only whitespace is left after the closing `]` at `after`.
    private static func closed(_ buffer: UnsafeRawBufferPointer, after: Int, line: Int, arrayLine: Int, _ records: [Record])
        throws(LocatedRecordError) -> [Record] {
        var l = line
        for i in (after + 1)..<buffer.count {
            if buffer[i] == 0x0A { l += 1 }
            guard isSpace(buffer[i]) else { throw LocatedRecordError(line: l, "unexpected text after the JSON array that closes on line \(line)") }
        }
        guard !records.isEmpty else { throw LocatedRecordError(line: arrayLine, "the JSON array is empty; expected objects, one per example") }
        return records
    }
}

/// A problem with a dataset file's layout, at a line.
struct LocatedRecordError: Error {
    let line: Int
    let message: String
    init(line: Int, _ message: String) { self.line = line; self.message = message }
}
