import Foundation

/// A JSON object of a tokenizer file, remembering its path for error messages.
struct JSONNode {
    let value: TokenizerJSONObject
    let path: String
    let source: String

    func fail(_ kind: TokenizerError.Kind, _ message: String) -> TokenizerError {
        TokenizerError(source: source, kind: kind, message: message)
    }

    func unsupported(_ what: String, _ name: String, at key: String, supported: String) -> TokenizerError {
        fail(.unsupported, "unsupported \(what) \"\(name)\" at \(path).\(key) (supported: \(supported))")
    }

    func isNull(_ key: String) -> Bool {
        switch value[key] {
        case nil, .null?: return true
        default: return false
        }
    }

    func string(_ key: String) throws -> String? {
        switch value[key] {
        case nil, .null?: return nil
        case .string(let s)?: return s
        default: throw wrongType(key, "a string")
        }
    }

    func requiredString(_ key: String) throws -> String {
        guard let s = try string(key) else { throw fail(.invalidField, "missing string field \(path).\(key)") }
        return s
    }

    func bool(_ key: String, default fallback: Bool) throws -> Bool {
        switch value[key] {
        case nil, .null?: return fallback
        case .bool(let b)?: return b
        default: throw wrongType(key, "a boolean")
        }
    }

    func int(_ key: String) throws -> Int? {
        switch value[key] {
        case nil, .null?: return nil
        case .integer(let n)?: return n
        default: throw wrongType(key, "an integer")
        }
    }

    func double(_ key: String) throws -> Double? {
        switch value[key] {
        case nil, .null?: return nil
        case .integer(let n)?: return Double(n)
        case .double(let d)?: return d
        default: throw wrongType(key, "a number")
        }
    }

    func array(_ key: String) throws -> [TokenizerJSON]? {
        switch value[key] {
        case nil, .null?: return nil
        case .array(let a)?: return a
        default: throw wrongType(key, "an array")
        }
    }

    func object(_ key: String) throws -> JSONNode? {
        switch value[key] {
        case nil, .null?: return nil
        case .object(let o)?: return JSONNode(value: o, path: "\(path).\(key)", source: source)
        default: throw wrongType(key, "an object")
        }
    }

    func objects(_ key: String) throws -> [JSONNode] {
        guard let a = try array(key) else { return [] }
        return try a.enumerated().map { i, element in
            guard case .object(let o) = element else {
                throw fail(.invalidField, "\(path).\(key)[\(i)] should be an object")
            }
            return JSONNode(value: o, path: "\(path).\(key)[\(i)]", source: source)
        }
    }

    /// The `type` field of a component, required.
    func type() throws -> String {
        guard case .string(let t)? = value["type"] else {
            throw fail(.invalidField, "missing string field \(path).type")
        }
        return t
    }

    private func wrongType(_ key: String, _ expected: String) -> TokenizerError {
        fail(.invalidField, "\(path).\(key) should be \(expected)")
    }

    /// Parses `data` as a JSON object.
    static func parse(_ data: Data, source: String) throws -> JSONNode {
        let parsed: TokenizerJSON
        do {
            parsed = try TokenizerJSON.parse(data)
        } catch let error as TokenizerJSONError {
            throw TokenizerError(source: source, kind: .malformedJSON,
                                 message: "malformed JSON at byte \(error.offset): \(error.message)")
        }
        guard case .object(let object) = parsed else {
            throw TokenizerError(source: source, kind: .malformedJSON, message: "the top level is not a JSON object")
        }
        return JSONNode(value: object, path: "$", source: source)
    }
}
