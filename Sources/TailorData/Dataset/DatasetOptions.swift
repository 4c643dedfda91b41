import Foundation

/// The shape of the records in a JSONL dataset file.
///
/// | format | keys | trained (with ``LossMaskMode/completions``) |
/// |---|---|---|
/// | ``text`` | `text` | every token |
/// | ``promptCompletion`` | `prompt`, `completion` | the completion and its end-of-turn/EOS token |
/// | ``messages`` | `messages` (`[{role, content}]`), optional `tools` | every assistant turn and its end-of-turn token |
/// | ``alpaca`` | `instruction`, optional `input`, `output` | the output and its end-of-turn/EOS token |
/// | ``sharegpt`` | `conversations` (`[{from, value}]`), optional `system`, `tools` | as ``messages`` |
///
/// Other keys in a record are ignored. Required strings must be non-empty. A message is an object with a `role`
/// (`system`, `user`, `assistant` or `tool`) and a non-empty string `content` (an assistant message with
/// `tool_calls` may have none), or a list of text parts (`[{"type": "text", "text": "…"}]`, joined into one string);
/// other message keys (`tool_calls`, `name`, …) are passed to the template as they are. A ShareGPT turn's `from` is
/// `system`, `human`/`user`, `gpt`/`assistant` or `tool`/`observation`. `tools` is a list of schemas, or that list as
/// a JSON string. A conversation needs at least one assistant message. See ``DatasetEncoder`` for how each becomes tokens.
public enum DatasetFormat: String, Sendable, CaseIterable, Codable {
    /// `{"text": "…"}`: plain text, trained everywhere.
    case text
    /// `{"prompt": "…", "completion": "…"}`.
    case promptCompletion = "prompt_completion"
    /// `{"messages": [{"role": "user", "content": "…"}, …], "tools": [...]?}`.
    case messages
    /// `{"instruction": "…", "input": "…"?, "output": "…"}`.
    case alpaca
    /// `{"conversations": [{"from": "human", "value": "…"}, {"from": "gpt", "value": "…"}, …], "system": "…"?}`:
    /// ShareGPT (and LLaMA-Factory's `system`), trained as ``messages``.
    case sharegpt

    /// The names ``init(name:)`` takes, for help and errors.
    public static let choices = "text, completion, chat, alpaca or sharegpt"

    /// Parses a format name: the raw value, or `prompt-completion`, `completion`, `completions`, `chat`,
    /// `conversations`.
    /// - Parameter name: A name as a user would type it.
    public init?(name: String) {
        switch name.lowercased() {
        case "text": self = .text
        case "prompt_completion", "prompt-completion", "completion", "completions": self = .promptCompletion
        case "messages", "chat": self = .messages
        case "alpaca": self = .alpaca
        case "sharegpt", "conversations": self = .sharegpt
        default: return nil
        }
    }

    /// The keys (before remapping) a record of this format must have.
    public var requiredKeys: [String] {
        switch self {
        case .text: return ["text"]
        case .promptCompletion: return ["prompt", "completion"]
        case .messages: return ["messages"]
        case .alpaca: return ["instruction", "output"]
        case .sharegpt: return ["conversations"]
        }
    }

    /// A short human name used in messages (`prompt/completion` for ``promptCompletion``).
    public var label: String {
        switch self {
        case .text: return "text"
        case .promptCompletion: return "prompt/completion"
        case .messages: return "messages"
        case .alpaca: return "alpaca"
        case .sharegpt: return "sharegpt"
        }
    }
}

/// Which tokens the loss covers.
public enum LossMaskMode: String, Sendable, CaseIterable, Codable {
    /// Completions only: assistant turns (with their end-of-turn tokens) and completions; text datasets train
    /// everything.
    case completions
    /// Every token.
    case all
}

/// How ``DatasetEncoder/load(_:options:)`` reads a file.
public struct DatasetOptions: Sendable, Equatable {
    /// The record format; nil detects it from the keys of each line (all lines must agree).
    public var format: DatasetFormat?
    /// Key remapping, canonical name → the key used in the file, e.g. `["prompt": "question", "completion":
    /// "answer"]`. Canonical names: `text`, `prompt`, `completion`, `messages`, `tools`, `instruction`, `input`,
    /// `output`, `conversations`, `system`.
    public var keys: [String: String]
    /// Which tokens are trained.
    public var mask: LossMaskMode
    /// Skip lines that fail (counted in ``LoadedDataset/skipped``) instead of throwing.
    public var skipBad: Bool
    /// Keep only the first `maxLength` tokens of each example; nil keeps everything.
    public var maxLength: Int?

    /// Options; the defaults detect the format, train completions, throw on bad lines and do not truncate.
    public init(format: DatasetFormat? = nil, keys: [String: String] = [:], mask: LossMaskMode = .completions,
                skipBad: Bool = false, maxLength: Int? = nil) {
        precondition(maxLength.map { $0 > 0 } ?? true, "maxLength must be positive")
        self.format = format; self.keys = keys; self.mask = mask; self.skipBad = skipBad; self.maxLength = maxLength
    }

    /// The file's key for a canonical key name.
    func key(_ canonical: String) -> String { keys[canonical] ?? canonical }

    /// The canonical key names ``keys`` may remap.
    public static let canonicalKeys = ["text", "prompt", "completion", "messages", "tools", "instruction", "input", "output",
                                       "conversations", "system"]

    /// `canonical=fileKey` pairs as ``keys``.
    /// - Throws: A ``DatasetError`` at `source` (e.g. `--key`) for a pair that is not `a=b`, or a canonical name
    ///   Tailor does not read (a typo would otherwise remap nothing).
    public static func keys<S: Sequence>(_ pairs: S, source: String) throws -> [String: String] where S.Element: StringProtocol {
        var keys: [String: String] = [:]
        for pair in pairs {
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw DatasetError(location: source, message: "\(quoted(String(pair))) should be canonical=fileKey, e.g. prompt=question")
            }
            guard canonicalKeys.contains(parts[0]) else {
                throw DatasetError(location: source, message: "\(quoted(parts[0])) is not a key Tailor reads; the keys that can be "
                                   + "remapped are " + canonicalKeys.joined(separator: ", "))
            }
            keys[parts[0]] = parts[1]
        }
        return keys
    }
}

/// A problem with a dataset file or one of its lines.
///
/// ``description`` is `"<location>: <message>"`, where the location is `path:line` for a line (1-based, blank
/// lines counted) or the path alone, e.g.
/// `data.jsonl:7: "messages"[2].role "robot" is not one of system, user, assistant, tool`.
public struct DatasetError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
    /// `path:line` or `path`.
    public let location: String
    /// What is wrong.
    public let message: String

    /// An error at `location` (`path:line` or `path`).
    public init(location: String, message: String) { self.location = location; self.message = message }

    /// `"<location>: <message>"`.
    public var description: String { location.isEmpty ? message : "\(location): \(message)" }
    public var errorDescription: String? { description }
}

/// A problem with one record; the loader adds the location.
struct RecordError: Error {
    let message: String
    /// Not the line's fault (e.g. the model has no chat template): never skipped.
    var fatal = false
    init(_ message: String, fatal: Bool = false) { self.message = message; self.fatal = fatal }
}

/// Finding the dataset files behind `--data`.
public enum DatasetFiles {
    /// Resolves `--data`: a `.jsonl` or `.json` file is the training set; a folder must hold `train.jsonl` (or
    /// `train.json`) and may hold `valid` and `test` files the same way.
    /// - Parameter url: A file or folder.
    /// - Returns: The training file and the validation and test files when present.
    /// - Throws: ``DatasetError`` naming the path when it does not exist, is not a `.jsonl` or `.json` file, or is a
    ///   folder without a training file or with both `name.jsonl` and `name.json`.
    public static func resolve(_ url: URL) throws -> (train: URL, valid: URL?, test: URL?) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw DatasetError(location: url.path, message: "no such file or folder")
        }
        if !isDirectory.boolValue {
            guard ["jsonl", "json"].contains(url.pathExtension.lowercased()) else {
                throw DatasetError(location: url.path, message: "expected a .jsonl file (one JSON object per line), a .json file "
                                   + "(JSON Lines or an array of objects) or a folder with train.jsonl")
            }
            return (url, nil, nil)
        }
        func file(_ stem: String) throws -> URL? {
            let found = ["jsonl", "json"].map { url.appendingPathComponent("\(stem).\($0)") }.filter { f in
                var dir: ObjCBool = false
                return FileManager.default.fileExists(atPath: f.path, isDirectory: &dir) && !dir.boolValue
            }
            guard found.count < 2 else {
                throw DatasetError(location: url.path, message: "the folder has both \(stem).jsonl and \(stem).json; keep one")
            }
            return found.first
        }
        guard let train = try file("train") else {
            let contents = (try? FileManager.default.contentsOfDirectory(atPath: url.path))?.sorted() ?? []
            let listing = contents.isEmpty ? "it is empty" : "it has " + contents.prefix(10).joined(separator: ", ")
                + (contents.count > 10 ? ", …" : "")
            throw DatasetError(location: url.path, message: "the folder has no train.jsonl (\(listing))")
        }
        return (train, try file("valid"), try file("test"))
    }
}

/// Splits off a validation set, deterministically in `seed`.
///
/// Holds out `round(count × fraction)` items, at least 1 when `fraction > 0` and `count ≥ 2`, and always leaves
/// at least one for training. Both parts keep the input order. The choice uses SplitMix64, so it is the same on
/// every platform and Swift version.
/// - Parameters:
///   - examples: The items to split.
///   - fraction: The share to hold out, in `0..<1`.
///   - seed: The random seed.
/// - Returns: The training and validation items.
public func splitValidation<T>(_ examples: [T], fraction: Double, seed: UInt64) -> (train: [T], valid: [T]) {
    precondition(fraction >= 0 && fraction < 1, "validation fraction must be in [0, 1), got \(fraction)")
    let n = examples.count
    guard fraction > 0, n >= 2 else { return (examples, []) }
    let k = min(n - 1, max(1, Int((Double(n) * fraction).rounded())))
    var order = Array(0..<n)
    var rng = SeededGenerator(seed: seed)
    rng.shuffle(&order)
    var held = [Bool](repeating: false, count: n)
    for i in order.prefix(k) { held[i] = true }
    var train: [T] = [], valid: [T] = []
    train.reserveCapacity(n - k); valid.reserveCapacity(k)
    for (i, e) in examples.enumerated() { if held[i] { valid.append(e) } else { train.append(e) } }
    return (train, valid)
}
