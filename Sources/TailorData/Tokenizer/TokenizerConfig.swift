import Foundation

/// The special-token settings of a Hugging Face `tokenizer_config.json`.
///
/// Token fields may be written as a string or as an added-token object `{"content": "<s>", …}`; both give the
/// content string. Fields that are absent or `null` are nil.
///
/// ```swift
/// let config = try TokenizerConfig(contentsOf: folder.appendingPathComponent("tokenizer_config.json"))
/// let eos = config.eosToken.flatMap(tokenizer.id(for:))
/// ```
public struct TokenizerConfig: Sendable, Equatable {
    /// `bos_token`, e.g. `<s>` or `<|begin_of_text|>`.
    public var bosToken: String?
    /// `eos_token`, e.g. `</s>`, `<|eot_id|>` or `<|im_end|>`.
    public var eosToken: String?
    /// `pad_token`.
    public var padToken: String?
    /// `unk_token`.
    public var unkToken: String?
    /// `add_bos_token`: whether the (slow) tokenizer class adds BOS; nil when the file does not say.
    public var addBOSToken: Bool?
    /// `add_eos_token`: whether the (slow) tokenizer class adds EOS; nil when the file does not say.
    public var addEOSToken: Bool?

    /// A configuration with every field nil.
    public init() {}

    /// Reads `tokenizer_config.json`. A missing file gives a configuration with every field nil.
    /// - Parameter url: The file's location.
    /// - Throws: ``TokenizerError`` naming the file when it exists but cannot be read or is malformed.
    public init(contentsOf url: URL) throws {
        guard FileManager.default.fileExists(atPath: url.path) else {
            self.init()
            return
        }
        try self.init(data: try TokenizerError.contents(of: url), source: url.path)
    }

    /// Parses the contents of a `tokenizer_config.json` file.
    /// - Parameters:
    ///   - data: The file's bytes.
    ///   - source: A name for the file used in error messages, usually its path.
    /// - Throws: ``TokenizerError`` naming `source` when the JSON is malformed or a field has the wrong type.
    public init(data: Data, source: String = "tokenizer_config.json") throws {
        let root = try JSONNode.parse(data, source: source)
        func token(_ key: String) throws -> String? {
            switch root.value[key] {
            case nil, .null?: return nil
            case .string(let s)?: return s
            case .object?: return try root.object(key)?.requiredString("content")
            default:
                throw root.fail(.invalidField, "$.\(key) should be a string or an object with \"content\"")
            }
        }
        bosToken = try token("bos_token")
        eosToken = try token("eos_token")
        padToken = try token("pad_token")
        unkToken = try token("unk_token")
        addBOSToken = root.isNull("add_bos_token") ? nil : try root.bool("add_bos_token", default: false)
        addEOSToken = root.isNull("add_eos_token") ? nil : try root.bool("add_eos_token", default: false)
    }
}
