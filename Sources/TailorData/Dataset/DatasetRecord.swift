import Foundation

/// One validated dataset record, keys already remapped.
enum DatasetRecord {
    case text(String)
    case promptCompletion(prompt: String, completion: String)
    case messages([JSONValue], tools: [JSONValue]?)
    case alpaca(instruction: String, input: String, output: String)

    /// The roles a message may have.
    static let roles = ["system", "user", "assistant", "tool"]

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
                          + "\(quoted(options.key("prompt")))+\(quoted(options.key("completion"))) or "
                          + "\(quoted(options.key("instruction")))+\(quoted(options.key("output"))); \(found)")
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
            let key = options.key("messages"), name = quoted(key)
            guard let value = object[key] else { throw RecordError("\(name) is missing (messages format)") }
            guard case .array(let messages) = value else {
                throw RecordError("\(name) should be an array of {\"role\", \"content\"} objects, got \(typeName(value))")
            }
            guard !messages.isEmpty else { throw RecordError("\(name) is empty") }
            var hasAssistant = false
            for (i, message) in messages.enumerated() {
                let at = "\(name)[\(i)]"
                guard case .object(let m) = message else {
                    throw RecordError("\(at) should be an object with \"role\" and \"content\", got \(typeName(message))")
                }
                guard let roleValue = m["role"] else { throw RecordError("\(at).role is missing") }
                guard case .string(let role) = roleValue else {
                    throw RecordError("\(at).role should be a string, got \(typeName(roleValue))")
                }
                guard Self.roles.contains(where: { $0.utf8.elementsEqual(role.utf8) }) else {
                    throw RecordError("\(at).role \(quoted(role)) is not one of \(Self.roles.joined(separator: ", "))")
                }
                if role == "assistant" { hasAssistant = true }
                let toolCalls = m["tool_calls"].flatMap { $0.arrayValue.map { !$0.isEmpty } } ?? false
                if role == "assistant" && toolCalls, m["content"] == nil || m["content"] == .null { continue }
                guard let content = m["content"] else { throw RecordError("\(at).content is missing") }
                if case .array = content {
                    throw RecordError("\(at).content should be a string, got array (multi-part content is not supported)")
                }
                _ = try checkedString(content, name: "\(at).content", allowEmpty: role == "assistant" && toolCalls)
            }
            guard hasAssistant else {
                throw RecordError("\(name) has no assistant turn, so nothing would be trained")
            }
            var tools: [JSONValue]?
            let toolsKey = options.key("tools")
            if let t = object[toolsKey], t != .null {
                guard case .array(let list) = t else {
                    throw RecordError("\(quoted(toolsKey)) should be an array of tool schemas, got \(typeName(t))")
                }
                if let bad = list.firstIndex(where: { $0.objectValue == nil }) {
                    throw RecordError("\(quoted(toolsKey))[\(bad)] should be an object, got \(typeName(list[bad]))")
                }
                tools = list
            }
            self = .messages(messages, tools: tools)
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
