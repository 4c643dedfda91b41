import Foundation
import Testing
import TailorData

/// Bad or unsupported files must throw an error naming the file and the offending part, never crash.
@Suite("Tokenizer rejects bad tokenizer.json files clearly")
struct TokenizerErrorTests {
    /// A minimal valid BPE file with one component replaced.
    static func file(model: String = #"{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]}"#,
                     normalizer: String = "null", preTokenizer: String = "null", postProcessor: String = "null",
                     decoder: String = "null") -> Data {
        Data(#"{"version":"1.0","added_tokens":[],"normalizer":\#(normalizer),"pre_tokenizer":\#(preTokenizer),"post_processor":\#(postProcessor),"decoder":\#(decoder),"model":\#(model)}"#.utf8)
    }

    static func error(_ data: Data, source: String = "bad/tokenizer.json") -> TokenizerError? {
        do {
            _ = try Tokenizer(data: data, source: source)
            return nil
        } catch let e as TokenizerError {
            return e
        } catch {
            return nil
        }
    }

    @Test func minimalFileLoads() throws {
        let tokenizer = try Tokenizer(data: Self.file(), source: "ok.json")
        #expect(tokenizer.encode("ab") == [2])
    }

    @Test func malformedJSON() throws {
        let e = try #require(Self.error(Data(#"{"model": {"type": "BPE", "vocab": {"a": 0,}"#.utf8)))
        #expect(e.kind == .malformedJSON)
        #expect(e.description.hasPrefix("bad/tokenizer.json: malformed JSON"))
        let top = try #require(Self.error(Data("[1, 2]".utf8)))
        #expect(top.kind == .malformedJSON)
        #expect(Self.error(Data()) != nil)
    }

    @Test(arguments: ["WordPiece", "Unigram", "WordLevel"])
    func unsupportedModelType(type: String) throws {
        let e = try #require(Self.error(Self.file(model: #"{"type":"\#(type)","vocab":{"a":0}}"#)))
        #expect(e.kind == .unsupported)
        #expect(e.description.contains("bad/tokenizer.json"))
        #expect(e.description.contains("model type \"\(type)\" at $.model.type"))
    }

    @Test func unsupportedPreTokenizer() throws {
        let json = #"{"type":"Sequence","pretokenizers":[{"type":"BertPreTokenizer"}]}"#
        let e = try #require(Self.error(Self.file(preTokenizer: json)))
        #expect(e.kind == .unsupported)
        #expect(e.description.contains("bad/tokenizer.json"))
        #expect(e.description.contains("pre-tokenizer \"BertPreTokenizer\" at $.pre_tokenizer.pretokenizers[0].type"))
    }

    @Test(arguments: [#"\\w+|[^\\w\\s]+"#, #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,2}"#])
    func unknownSplitRegex(regex: String) throws {
        let json = #"{"type":"Split","pattern":{"Regex":"\#(regex)"},"behavior":"Isolated","invert":false}"#
        let e = try #require(Self.error(Self.file(preTokenizer: json)))
        #expect(e.kind == .unsupported)
        #expect(e.description.contains("bad/tokenizer.json"))
        #expect(e.description.contains("unsupported Split regex"))
        #expect(e.description.contains("at $.pre_tokenizer.pattern.Regex"))
        #expect(e.description.contains(String(regex.prefix(8)).replacingOccurrences(of: #"\\"#, with: #"\"#)))
    }

    @Test func unsupportedNormalizerDecoderAndPostProcessor() throws {
        let n = try #require(Self.error(Self.file(normalizer: #"{"type":"Sequence","normalizers":[{"type":"BertNormalizer"}]}"#)))
        #expect(n.description.contains("normalizer \"BertNormalizer\" at $.normalizer.normalizers[0].type"))
        let r = try #require(Self.error(Self.file(normalizer: #"{"type":"Replace","pattern":{"Regex":" {2,}"},"content":" "}"#)))
        #expect(r.description.contains("unsupported regex pattern \" {2,}\" in Replace normalizer at $.normalizer.pattern"))
        let d = try #require(Self.error(Self.file(decoder: #"{"type":"WordPiece","prefix":"@@"}"#)))
        #expect(d.description.contains("decoder \"WordPiece\" at $.decoder.type"))
        let p = try #require(Self.error(Self.file(postProcessor: #"{"type":"Frobnicate"}"#)))
        #expect(p.description.contains("post-processor \"Frobnicate\" at $.post_processor.type"))
    }

    @Test func invalidModelContents() throws {
        let missing = try #require(Self.error(Self.file(model: #"{"type":"BPE","vocab":{"a":0},"merges":["a b"]}"#)))
        #expect(missing.description.contains("$.model.merges[0] (a b) uses a token missing from the vocabulary"))
        let noVocab = try #require(Self.error(Self.file(model: #"{"type":"BPE","merges":[]}"#)))
        #expect(noVocab.description.contains("$.model.vocab"))
        let unk = try #require(Self.error(Self.file(model: #"{"type":"BPE","vocab":{"a":0},"merges":[],"unk_token":"<unk>"}"#)))
        #expect(unk.description.contains("unk_token \"<unk>\" is not in the vocabulary"))
        let prefix = try #require(Self.error(Self.file(model: #"{"type":"BPE","vocab":{"a":0},"merges":[],"continuing_subword_prefix":"@@"}"#)))
        #expect(prefix.kind == .unsupported)
        let noModel = try #require(Self.error(Data(#"{"added_tokens":[]}"#.utf8)))
        #expect(noModel.description.contains("$.model"))
    }

    @Test func unreadableFile() throws {
        let url = URL(fileURLWithPath: "/nonexistent/tailor/tokenizer.json")
        #expect {
            _ = try Tokenizer(contentsOf: url)
        } throws: { error in
            let e = error as? TokenizerError
            return e?.kind == .unreadable && e?.description.contains("/nonexistent/tailor/tokenizer.json") == true
        }
    }
}

@Suite("TokenizerConfig reads tokenizer_config.json")
struct TokenizerConfigTests {
    @Test func stringAndObjectForms() throws {
        let json = #"""
        {"bos_token": "<s>", "eos_token": {"content": "</s>", "lstrip": false, "__type": "AddedToken"},
         "pad_token": null, "add_bos_token": true, "add_eos_token": false, "legacy": false}
        """#
        let config = try TokenizerConfig(data: Data(json.utf8), source: "tokenizer_config.json")
        #expect(config.bosToken == "<s>")
        #expect(config.eosToken == "</s>")
        #expect(config.padToken == nil)
        #expect(config.unkToken == nil)
        #expect(config.addBOSToken == true)
        #expect(config.addEOSToken == false)
    }

    @Test func missingFileGivesNilFields() throws {
        let config = try TokenizerConfig(contentsOf: URL(fileURLWithPath: "/nonexistent/tokenizer_config.json"))
        #expect(config == TokenizerConfig())
    }

    @Test func malformedFileThrows() throws {
        #expect(throws: TokenizerError.self) {
            _ = try TokenizerConfig(data: Data("{\"bos_token\": ".utf8), source: "cfg.json")
        }
        do {
            _ = try TokenizerConfig(data: Data(#"{"bos_token": 5}"#.utf8), source: "cfg.json")
            Issue.record("expected an error")
        } catch let e as TokenizerError {
            #expect(e.description == "cfg.json: $.bos_token should be a string or an object with \"content\"")
        }
    }
}
