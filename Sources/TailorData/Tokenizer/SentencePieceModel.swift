import Foundation

/// The pieces of a SentencePiece `tokenizer.model` (the `ModelProto` protobuf): each piece's text,
/// score and type, in id order. Only what a GGUF `llama` vocabulary needs is read; every length and
/// offset is checked against the file, so a truncated or hostile file is an error, never a crash.
public struct SentencePieceModel: Sendable {
    /// `SentencePiece.Type` values (sentencepiece_model.proto); the same numbers as GGUF token types.
    public enum PieceType: Int, Sendable {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    /// One vocabulary entry.
    public struct Piece: Sendable, Equatable {
        /// The piece as stored (spaces are "▁", bytes `<0xNN>`).
        public var text: String
        /// SentencePiece's score: log-probability for unigram, −(merge index) for BPE, 0 for specials and bytes.
        public var score: Float
        public var type: PieceType

        public init(text: String, score: Float, type: PieceType) {
            self.text = text; self.score = score; self.type = type
        }
    }

    /// The pieces in id order.
    public var pieces: [Piece]

    /// Reads `url` (a `tokenizer.model`).
    public init(contentsOf url: URL) throws {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw TokenizerError(source: url.path, kind: .unreadable, message: "cannot read the file")
        }
        try self.init(data: data, source: url.path)
    }

    /// Parses protobuf bytes. `source` names the file in errors.
    public init(data: Data, source: String) throws {
        func fail(_ m: String) -> TokenizerError { TokenizerError(source: source, kind: .invalidField, message: "not a SentencePiece model: \(m)") }
        var pieces: [Piece] = []
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            // ModelProto field 1 = repeated SentencePiece {1: piece string, 2: score float, 3: type enum}.
            try Self.fields(bytes, 0..<bytes.count, fail) { field, wire, range, varint in
                guard field == 1 else { return }
                guard wire == 2 else { throw fail("field 1 has wire type \(wire)") }
                var piece = Piece(text: "", score: 0, type: .normal)
                try Self.fields(bytes, range, fail) { f, w, r, v in
                    switch (f, w) {
                    case (1, 2):
                        guard let s = String(bytes: bytes[r], encoding: .utf8) else { throw fail("piece \(pieces.count) is not UTF-8") }
                        piece.text = s
                    case (2, 5):
                        piece.score = Float(bitPattern: bytes[r].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
                    case (3, 0):
                        guard let t = PieceType(rawValue: Int(v)) else { throw fail("piece \(pieces.count) has type \(v)") }
                        piece.type = t
                    default: break
                    }
                }
                pieces.append(piece)
            }
        }
        guard !pieces.isEmpty else { throw fail("no pieces") }
        self.pieces = pieces
    }

    /// Calls `body(field, wireType, payload range, varint value)` for each field in `range`.
    private static func fields(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ fail: (String) -> TokenizerError,
                               _ body: (Int, Int, Range<Int>, UInt64) throws -> Void) throws {
        var i = range.lowerBound
        func varint() throws -> UInt64 {
            var v: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard i < range.upperBound, shift < 64 else { throw fail("truncated varint at byte \(i)") }
                let byte = b[i]; i += 1
                v |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return v }
                shift += 7
            }
        }
        while i < range.upperBound {
            let key = try varint()
            let field = Int(key >> 3), wire = Int(key & 7)
            switch wire {
            case 0: let v = try varint(); try body(field, wire, i..<i, v)
            case 1, 5:
                let n = wire == 1 ? 8 : 4
                guard range.upperBound - i >= n else { throw fail("truncated field \(field)") }
                try body(field, wire, i..<(i + n), 0); i += n
            case 2:
                let n = try varint()
                guard n <= UInt64(range.upperBound - i) else { throw fail("field \(field) runs past the end") }
                try body(field, wire, i..<(i + Int(n)), 0); i += Int(n)
            default: throw fail("unsupported wire type \(wire) at byte \(i)")
            }
        }
    }
}
