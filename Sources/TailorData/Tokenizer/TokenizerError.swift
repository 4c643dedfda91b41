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
}

/// A JSON object read with `JSONSerialization`, remembering its path for error messages.
struct JSONNode {
    let value: [String: Any]
    let path: String
    let source: String

    func fail(_ kind: TokenizerError.Kind, _ message: String) -> TokenizerError {
        TokenizerError(source: source, kind: kind, message: message)
    }

    func unsupported(_ what: String, _ name: String, at key: String, supported: String) -> TokenizerError {
        fail(.unsupported, "unsupported \(what) \"\(name)\" at \(path).\(key) (supported: \(supported))")
    }

    func isNull(_ key: String) -> Bool { value[key] == nil || value[key] is NSNull }

    func string(_ key: String) throws -> String? {
        guard !isNull(key) else { return nil }
        guard let s = value[key] as? String else { throw wrongType(key, "a string") }
        return s
    }

    func requiredString(_ key: String) throws -> String {
        guard let s = try string(key) else { throw fail(.invalidField, "missing string field \(path).\(key)") }
        return s
    }

    func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard !isNull(key) else { return fallback }
        guard let b = value[key] as? Bool else { throw wrongType(key, "a boolean") }
        return b
    }

    func int(_ key: String) throws -> Int? {
        guard !isNull(key) else { return nil }
        guard let n = value[key] as? NSNumber else { throw wrongType(key, "an integer") }
        return n.intValue
    }

    func object(_ key: String) throws -> JSONNode? {
        guard !isNull(key) else { return nil }
        guard let o = value[key] as? [String: Any] else { throw wrongType(key, "an object") }
        return JSONNode(value: o, path: "\(path).\(key)", source: source)
    }

    func objects(_ key: String) throws -> [JSONNode] {
        guard !isNull(key) else { return [] }
        guard let a = value[key] as? [Any] else { throw wrongType(key, "an array") }
        return try a.enumerated().map { i, element in
            guard let o = element as? [String: Any] else {
                throw fail(.invalidField, "\(path).\(key)[\(i)] should be an object")
            }
            return JSONNode(value: o, path: "\(path).\(key)[\(i)]", source: source)
        }
    }

    /// The `type` field of a component, required.
    func type() throws -> String {
        guard let t = value["type"] as? String else { throw fail(.invalidField, "missing string field \(path).type") }
        return t
    }

    private func wrongType(_ key: String, _ expected: String) -> TokenizerError {
        fail(.invalidField, "\(path).\(key) should be \(expected)")
    }

    /// Parses `data` as a JSON object.
    static func parse(_ data: Data, source: String) throws -> JSONNode {
        let any: Any
        do {
            any = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw TokenizerError(source: source, kind: .malformedJSON,
                                 message: "malformed JSON (\(error.localizedDescription))")
        }
        guard let object = any as? [String: Any] else {
            throw TokenizerError(source: source, kind: .malformedJSON, message: "the top level is not a JSON object")
        }
        return JSONNode(value: object, path: "$", source: source)
    }
}
