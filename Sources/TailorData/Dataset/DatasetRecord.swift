import Foundation

/// One validated dataset record, keys already remapped.
enum DatasetRecord {
    case text(String)
    case promptCompletion(prompt: String, completion: String)
    case messages([JSONValue], tools: [JSONValue]?)
    case alpaca(instruction: String, input: String, output: String)

    /// The format whose required keys `object` has.
    /// - Throws: ``RecordError`` when no format or more than one matches.
    static func detect(_ object: JSONObject, options: DatasetOptions) throws -> DatasetFormat {
        func has(_ k: String) -> Bool { object[options.key(k)] != nil }
        let matches = DatasetFormat.allCases.filter { $0.requiredKeys.allSatisfy(has) }
        if matches.count == 1 { return matches[0] }
        if matches.count > 1 {
            throw RecordError("ambiguous record: it has the keys of the " + matches.map(\.label).joined(separator: " and ")
                              + " formats; choose one with an explicit format")
        }
        for format in DatasetFormat.allCases where format.requiredKeys.count > 1 {
            let present = format.requiredKeys.filter(has), missing = format.requiredKeys.filter { !has($0) }
            if !present.isEmpty {
                throw RecordError("has \(quoted(options.key(present[0]))) but no \(quoted(options.key(missing[0]))) "
                                  + "(\(format.label) format)")
            }
        }
        let found = object.keys.isEmpty ? "it is an empty object" : "found " + object.keys.prefix(8).map(quoted).joined(separator: ", ")
        throw RecordError("no known format: expected \(quoted(options.key("text"))), \(quoted(options.key("messages"))), "
                          + "\(quoted(options.key("prompt")))+\(quoted(options.key("completion"))), "
                          + "\(quoted(options.key("instruction")))+\(quoted(options.key("output"))) or "
                          + "\(quoted(options.key("conversations"))); \(found)")
    }

    /// Validates `object` as a record of `format`.
    /// - Throws: ``RecordError`` naming the key and what is wrong with it.
    init(_ object: JSONObject, format: DatasetFormat, options: DatasetOptions) throws {
        func string(_ canonical: String, optional: Bool = false) throws -> String {
            let key = options.key(canonical)
            guard let value = object[key], !(optional && value == .null) else {
                if optional { return "" }
                throw RecordError("\(quoted(key)) is missing (\(format.label) format)")
            }
            return try checkedString(value, name: quoted(key), allowEmpty: optional)
        }
        switch format {
        case .text:
            self = .text(try string("text"))
        case .promptCompletion:
            self = .promptCompletion(prompt: try string("prompt"), completion: try string("completion"))
        case .alpaca:
            self = .alpaca(instruction: try string("instruction"), input: try string("input", optional: true),
                           output: try string("output"))
        case .messages:
            let key = options.key("messages")
            guard let value = object[key] else { throw RecordError("\(quoted(key)) is missing (messages format)") }
            self = .messages(try Self.conversation(value, name: quoted(key)), tools: try Self.tools(object, options: options))
        case .sharegpt:
            self = .messages(try Self.shareGPT(object, options: options), tools: try Self.tools(object, options: options))
        }
    }
}

/// The string in `value`, rejecting other types, empty strings (unless allowed) and NUL characters.
func checkedString(_ value: JSONValue, name: String, allowEmpty: Bool) throws -> String {
    guard case .string(let s) = value else { throw RecordError("\(name) should be a string, got \(typeName(value))") }
    if !allowEmpty && s.utf8.isEmpty { throw RecordError("\(name) is empty") }
    if s.utf8.contains(0) { throw RecordError("\(name) contains a NUL character (\\u0000)") }
    return s
}

/// The JSON type of a value, for messages.
func typeName(_ value: JSONValue) -> String {
    switch value {
    case .null: return "null"
    case .bool: return "boolean"
    case .int, .double: return "number"
    case .string: return "string"
    case .array: return "array"
    case .object: return "object"
    }
}

/// `s` in double quotes, JSON-escaped and cut to 60 characters.
func quoted(_ s: String) -> String {
    let short = s.unicodeScalars.count > 60 ? String(String.UnicodeScalarView(s.unicodeScalars.prefix(60))) + "…" : s
    return JSONValue.string(short).serialized(options: JSONSerializationOptions(ensureASCII: false))
}
