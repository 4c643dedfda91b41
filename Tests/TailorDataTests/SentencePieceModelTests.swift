import Foundation
import Testing
import TailorData

/// The `tokenizer.model` reader used for GGUF `llama` scores (fixture: spm/model, make_spm_fixtures.py).
@Suite struct SentencePieceModelTests {
    static let url = fixturesRoot.appendingPathComponent("spm/model/tokenizer.model")

    @Test func readsPiecesScoresAndTypes() throws {
        let m = try SentencePieceModel(contentsOf: Self.url)
        #expect(m.pieces.count == 768)
        #expect(m.pieces[0] == .init(text: "<unk>", score: 0, type: .unknown))
        #expect(m.pieces[1] == .init(text: "<s>", score: 0, type: .control) && m.pieces[2].type == .control)
        #expect(m.pieces[3] == .init(text: "<0x00>", score: 0, type: .byte) && m.pieces[258].text == "<0xFF>")
        // BPE: score = −(merge index) from id 259 on, single characters last.
        #expect(m.pieces[259].text == "\u{2581}\u{2581}" && m.pieces[260].score == -1 && m.pieces[767].score == -508)
        #expect(m.pieces[515].text.unicodeScalars.map(\.value) == [0x2581, 0x212B])
    }

    /// Every truncation of a real file and a few corruptions are errors or shorter piece lists, never a crash.
    @Test func truncatedOrCorruptFilesAreErrors() throws {
        let data = try Data(contentsOf: Self.url)
        for cut in stride(from: 0, to: data.count, by: 7) {
            if let m = try? SentencePieceModel(data: data.prefix(cut), source: "cut") { #expect(m.pieces.count < 768) }
        }
        #expect(throws: TokenizerError.self) { try SentencePieceModel(data: Data(), source: "empty") }
        #expect(throws: TokenizerError.self) { try SentencePieceModel(data: Data([0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]), source: "long") }
        #expect(throws: TokenizerError.self) { try SentencePieceModel(data: Data([0x0A, 0x03, 0x0A, 0x01, 0xFF]), source: "utf8") }
        #expect(throws: TokenizerError.self) { try SentencePieceModel(data: Data([0x0A, 0x02, 0x18, 0x09]), source: "type") }
    }
}
