import Foundation

/// An error raised while loading a `tokenizer.json` or `tokenizer_config.json` file.
///
/// The description always names the file (``source``) and the part that failed, for example
/// `tokenizer.json: unsupported model type "WordPiece" at model.type (supported: BPE)`.
public struct TokenizerError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The broad class of failure.
    public enum Kind: String, Sendable {
        /// The file could not be read.
        case unreadable
        /// The file is not valid JSON, or its top level is not an object.
        case malformedJSON
        /// A field the tokenizer needs is missing or has the wrong JSON type.
        case invalidField
        /// The file is valid but uses a component or option this tokenizer does not implement.
        case unsupported
    }

    /// The file (path or caller-given name) the error is about.
    public let source: String
    /// The broad class of failure.
    public let kind: Kind
    /// What failed, naming the JSON path of the offending part.
    public let message: String

    /// Creates an error.
    /// - Parameters:
    ///   - source: The file (path or caller-given name) the error is about.
    ///   - kind: The broad class of failure.
    ///   - message: What failed, naming the JSON path of the offending part.
    public init(source: String, kind: Kind, message: String) {
        self.source = source
        self.kind = kind
        self.message = message
    }

    /// `"<source>: <message>"`.
    public var description: String { "\(source): \(message)" }

    /// The bytes of a tokenizer file, or an ``Kind/unreadable`` error naming it.
    static func contents(of url: URL) throws -> Data {
        do {
            return try Data(contentsOf: url)
        } catch {
            throw TokenizerError(source: url.path, kind: .unreadable, message: "cannot read file (\(error.localizedDescription))")
        }
    }
}
