import Foundation

/// Conversations: the messages format's `[{role, content}]`, and ShareGPT's `[{from, value}]` turned into it.
extension DatasetRecord {
    /// The roles a message may have.
    static let roles = ["system", "user", "assistant", "tool"]

    /// ShareGPT's speakers (`from`) and the roles they become: the original `human`/`gpt`, the chat names, and
    /// LLaMA-Factory's `observation` (a tool's answer).
    static let speakers: KeyValuePairs<String, String> = [
        "system": "system", "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
        "tool": "tool", "observation": "tool",
    ]

    /// Checks a messages-format conversation (`name` is how errors call it) and returns its messages with any
    /// multi-part content (`[{"type": "text", "text": "…"}, …]`) joined into one string, as templates expect.
    static func conversation(_ value: JSONValue, name: String) throws -> [JSONValue] {
        guard case .array(let messages) = value else {
            throw RecordError("\(name) should be an array of {\"role\", \"content\"} objects, got \(typeName(value))")
        }
        guard !messages.isEmpty else { throw RecordError("\(name) is empty") }
        var checked: [JSONValue] = []
        checked.reserveCapacity(messages.count)
        var hasAssistant = false
        for (i, message) in messages.enumerated() {
            let at = "\(name)[\(i)]"
            guard case .object(var m) = message else {
                throw RecordError("\(at) should be an object with \"role\" and \"content\", got \(typeName(message))")
            }
            let role = try field(m, "role", at: at)
            guard roles.contains(where: { $0.utf8.elementsEqual(role.utf8) }) else {
                throw RecordError("\(at).role \(quoted(role)) is not one of \(roles.joined(separator: ", "))")
            }
            if role == "assistant" { hasAssistant = true }
            let toolCalls = m["tool_calls"].flatMap { $0.arrayValue.map { !$0.isEmpty } } ?? false
            if role == "assistant" && toolCalls, m["content"] == nil || m["content"] == .null {
                checked.append(message)
                continue
            }
            guard var content = m["content"] else { throw RecordError("\(at).content is missing") }
            if case .array(let parts) = content {
                content = .string(try joinedText(parts, name: "\(at).content"))
                m["content"] = content
            }
            _ = try checkedString(content, name: "\(at).content", allowEmpty: role == "assistant" && toolCalls)
            checked.append(.object(m))
        }
        guard hasAssistant else { throw RecordError("\(name) has no assistant turn, so nothing would be trained") }
        return checked
    }

    /// The text of multi-part content: its `{"type": "text", "text": "…"}` parts joined with nothing between
    /// them (as templates that take parts render them). Any other part (an image, audio) is refused: Tailor
    /// trains text models.
    static func joinedText(_ parts: [JSONValue], name: String) throws -> String {
        guard !parts.isEmpty else { throw RecordError("\(name) is an empty list of parts") }
        var text = ""
        for (j, part) in parts.enumerated() {
            let at = "\(name)[\(j)]"
            guard case .object(let p) = part else {
                throw RecordError("\(at) should be an object like {\"type\": \"text\", \"text\": \"…\"}, got \(typeName(part))")
            }
            let type = try field(p, "type", at: at)
            guard type == "text" else {
                throw RecordError("\(at).type is \(quoted(type)): only text parts can be trained (Tailor trains text models)")
            }
            guard let t = p["text"] else { throw RecordError("\(at).text is missing") }
            text += try checkedString(t, name: "\(at).text", allowEmpty: true)
        }
        return text
    }

    /// A ShareGPT record `{"conversations": [{"from": "human", "value": "…"}, {"from": "gpt", …}], "system"?}` as
    /// messages. Turns written as `{role, content}` are taken as they are; a non-empty top-level `system`
    /// (LLaMA-Factory's layout) becomes a first system message.
    static func shareGPT(_ object: JSONObject, options: DatasetOptions) throws -> [JSONValue] {
        let key = options.key("conversations"), name = quoted(key)
        guard let value = object[key] else { throw RecordError("\(name) is missing (sharegpt format)") }
        guard case .array(let turns) = value else {
            throw RecordError("\(name) should be an array of {\"from\", \"value\"} objects, got \(typeName(value))")
        }
        let messages: [JSONValue] = try turns.enumerated().map { i, turn in
            let at = "\(name)[\(i)]"
            guard case .object(let t) = turn else {
                throw RecordError("\(at) should be an object with \"from\" and \"value\", got \(typeName(turn))")
            }
            if t["from"] == nil, t["role"] != nil { return turn }  // already {role, content}
            let from = try field(t, "from", at: at)
            guard let role = speakers.first(where: { $0.key.utf8.elementsEqual(from.utf8) })?.value else {
                throw RecordError("\(at).from \(quoted(from)) is not one of "
                                  + speakers.map(\.key).joined(separator: ", "))
            }
            guard let content = t["value"] else { throw RecordError("\(at).value is missing") }
            _ = try checkedString(content, name: "\(at).value", allowEmpty: false)
            return .object(["role": .string(role), "content": content])
        }
        var checked = try conversation(.array(messages), name: name)
        let systemKey = options.key("system")
        if let s = object[systemKey], s != .null, !(try checkedString(s, name: quoted(systemKey), allowEmpty: true)).isEmpty {
            if case .object(let first) = checked[0], first["role"] == .string("system") {
                throw RecordError("has both \(quoted(systemKey)) and a system turn at \(name)[0]; keep one")
            }
            checked.insert(.object(["role": "system", "content": s]), at: 0)
        }
        return checked
    }

    /// `object[key]`, which must be a string; errors call it `at.key`.
    static func field(_ object: JSONObject, _ key: String, at: String) throws -> String {
        guard let value = object[key] else { throw RecordError("\(at).\(key) is missing") }
        guard case .string(let s) = value else { throw RecordError("\(at).\(key) should be a string, got \(typeName(value))") }
        return s
    }

    /// The record's optional `tools` list (schemas passed to the template), or a string holding that list as JSON
    /// (LLaMA-Factory's layout).
    static func tools(_ object: JSONObject, options: DatasetOptions) throws -> [JSONValue]? {
        let key = options.key("tools")
        guard var t = object[key], t != .null else { return nil }
        if case .string(let s) = t {
            guard let parsed = try? JSONValue(parsing: s), case .array = parsed else {
                throw RecordError("\(quoted(key)) is a string that does not hold a JSON array of tool schemas")
            }
            t = parsed
        }
        guard case .array(let list) = t else {
            throw RecordError("\(quoted(key)) should be an array of tool schemas, got \(typeName(t))")
        }
        if let bad = list.firstIndex(where: { $0.objectValue == nil }) {
            throw RecordError("\(quoted(key))[\(bad)] should be an object, got \(typeName(list[bad]))")
        }
        return list
    }
}
