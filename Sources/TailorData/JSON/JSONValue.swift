import Foundation

/// A JSON document: the values Python's `json` module produces, with objects that keep key order.
///
/// Integers that fit in `Int` parse as ``int(_:)``; other numbers (fractions, exponents, integers too large for
/// `Int`) parse as ``double(_:)``. Serializing with ``serialized(options:)`` matches Python's `json.dumps`.
///
/// ```swift
/// let value = try JSONValue(parsing: #"{"role": "user", "content": "Hi"}"#)
/// value["role"]?.stringValue          // "user"
/// value.serialized()                  // {"role": "user", "content": "Hi"}
/// ```
public enum JSONValue: Sendable, Hashable {
    /// `null` (Python `None`).
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// An integer that fits in `Int`.
    case int(Int)
    /// Any other number.
    case double(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object with insertion-ordered keys.
    case object(JSONObject)
}

extension JSONValue {
    /// The string, if this is a ``string(_:)``.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The Boolean, if this is a ``bool(_:)``.
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The integer, if this is an ``int(_:)`` or a ``double(_:)`` with an exact integer value.
    public var intValue: Int? {
        switch self {
        case .int(let i): return i
        case .double(let d):
            guard d.rounded() == d, d >= -9.223372036854775808e18, d < 9.223372036854775808e18 else { return nil }
            return Int(d)
        default: return nil
        }
    }

    /// The number as a `Double`, if this is an ``int(_:)`` or ``double(_:)``.
    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    /// The elements, if this is an ``array(_:)``.
    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The object, if this is an ``object(_:)``.
    public var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// Whether this is ``null``.
    public var isNull: Bool { self == .null }

    /// The member `key` of an object; nil for a missing key or a non-object.
    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    /// The element at `index` of an array; nil when out of range or not an array.
    public subscript(index: Int) -> JSONValue? {
        if case .array(let a) = self, a.indices.contains(index) { return a[index] }
        return nil
    }
}

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(JSONObject(elements)) }
}

extension JSONValue: CustomStringConvertible {
    /// The compact Python-style serialization (`json.dumps` defaults).
    public var description: String { serialized() }
}

extension JSONValue {
    /// Parses one JSON document from UTF-8 text.
    ///
    /// - Throws: ``JSONParseError`` with line and column on invalid input.
    public init(parsing text: String) throws {
        var copy = text
        self = try copy.withUTF8 { try JSONParser.parse(UnsafeRawBufferPointer($0)) }
    }

    /// Parses one JSON document from UTF-8 bytes.
    ///
    /// - Throws: ``JSONParseError`` with line and column on invalid input (including invalid UTF-8).
    public init(parsing data: Data) throws {
        self = try data.withUnsafeBytes { try JSONParser.parse($0) }
    }

    /// Parses one JSON document from a buffer of UTF-8 bytes (e.g. one line of a JSONL file).
    public init(parsing bytes: UnsafeRawBufferPointer) throws {
        self = try JSONParser.parse(bytes)
    }
}
