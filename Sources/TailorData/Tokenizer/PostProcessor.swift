/// A `tokenizer.json` post-processor. Only the ids it adds around a single sequence matter here;
/// `ByteLevel` (offset trimming) adds nothing.
indirect enum PostProcessor: Sendable {
    enum Item: Sendable {
        case special([Int])
        case sequence
    }

    case template([Item])
    case byteLevel
    case sequence([PostProcessor])

    static let supported = "TemplateProcessing, ByteLevel, BertProcessing, RobertaProcessing, Sequence"

    init(json: JSONNode) throws {
        let type = try json.type()
        switch type {
        case "ByteLevel":
            self = .byteLevel
        case "TemplateProcessing":
            let specials = try json.object("special_tokens")
            var items: [Item] = []
            guard let single = try json.array("single") else {
                throw json.fail(.invalidField, "missing array field \(json.path).single")
            }
            for (i, element) in single.enumerated() {
                let path = "\(json.path).single[\(i)]"
                guard case .object(let item) = element else {
                    throw json.fail(.invalidField, "\(path) should be an object")
                }
                if case .object(let seq)? = item["Sequence"] {
                    // A single encoding is sequence A; B only appears in pair templates.
                    if case .string("A")? = seq["id"] { items.append(.sequence) }
                } else if case .object(let special)? = item["SpecialToken"], case .string(let name)? = special["id"] {
                    guard let entry = try specials?.object(name), let ids = try entry.array("ids") else {
                        throw json.fail(.invalidField, "\(path) names special token \"\(name)\" missing from "
                                        + "\(json.path).special_tokens")
                    }
                    items.append(.special(ids.compactMap { if case .integer(let n) = $0 { n } else { nil } }))
                } else {
                    throw json.fail(.invalidField, "\(path) should hold \"Sequence\" or \"SpecialToken\"")
                }
            }
            self = .template(items)
        case "BertProcessing", "RobertaProcessing":
            func id(_ key: String) throws -> Int {
                guard let pair = try json.array(key), pair.count == 2, case .integer(let id) = pair[1] else {
                    throw json.fail(.invalidField, "\(json.path).\(key) should be [token, id]")
                }
                return id
            }
            self = .template([.special([try id("cls")]), .sequence, .special([try id("sep")])])
        case "Sequence":
            self = .sequence(try json.objects("processors").map(PostProcessor.init(json:)))
        default:
            throw json.unsupported("post-processor", type, at: "type", supported: Self.supported)
        }
    }

    /// Ids added before and after a single sequence.
    var singleAffixes: (prefix: [Int], suffix: [Int]) {
        switch self {
        case .byteLevel:
            return ([], [])
        case .template(let items):
            var prefix: [Int] = []
            var suffix: [Int] = []
            var seenSequence = false
            for item in items {
                switch item {
                case .sequence: seenSequence = true
                case .special(let ids):
                    if seenSequence { suffix += ids } else { prefix += ids }
                }
            }
            return (prefix, suffix)
        case .sequence(let steps):
            // Each step wraps the result of the previous one.
            var prefix: [Int] = []
            var suffix: [Int] = []
            for step in steps {
                let (p, s) = step.singleAffixes
                prefix = p + prefix
                suffix += s
            }
            return (prefix, suffix)
        }
    }
}
