import Foundation

/// A GGUF metadata value (`gguf_type`).
public enum GGUFValue: Sendable, Equatable, CustomStringConvertible {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case float32(Float), bool(Bool), string(String), uint64(UInt64), int64(Int64), float64(Double)
    /// An array with its element type id (arrays of arrays are rejected, as in ggml).
    case array(elementType: UInt32, [GGUFValue])

    /// The `gguf_type` id.
    public var typeID: UInt32 {
        switch self {
        case .uint8: 0
        case .int8: 1
        case .uint16: 2
        case .int16: 3
        case .uint32: 4
        case .int32: 5
        case .float32: 6
        case .bool: 7
        case .string: 8
        case .array: 9
        case .uint64: 10
        case .int64: 11
        case .float64: 12
        }
    }

    /// The value as an integer, for any integer type.
    public var integer: Int? {
        switch self {
        case .uint8(let v): Int(v)
        case .int8(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint32(let v): Int(v)
        case .int32(let v): Int(v)
        case .uint64(let v): Int(exactly: v)
        case .int64(let v): Int(v)
        default: nil
        }
    }

    /// The value as a floating-point number, for float and integer types.
    public var number: Double? {
        switch self {
        case .float32(let v): Double(v)
        case .float64(let v): v
        default: integer.map(Double.init)
        }
    }

    public var string: String? { if case .string(let s) = self { s } else { nil } }
    public var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var array: [GGUFValue]? { if case .array(_, let a) = self { a } else { nil } }

    public var description: String {
        switch self {
        case .string(let s): return s.count > 60 ? "\"\(s.prefix(57))…\" (\(s.utf8.count) bytes)" : "\"\(s)\""
        case .array(let t, let a):
            let name = GGUFValue.typeName(t)
            let head = a.prefix(4).map(\.description).joined(separator: ", ")
            return "[\(name) × \(a.count)]\(a.isEmpty ? "" : " [\(head)\(a.count > 4 ? ", …" : "")]")"
        case .bool(let b): return b ? "true" : "false"
        case .float32(let f): return "\(f)"
        case .float64(let d): return "\(d)"
        default: return integer.map(String.init) ?? "?"
        }
    }

    /// The name of a `gguf_type` id.
    public static func typeName(_ id: UInt32) -> String {
        let names = ["UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32", "BOOL", "STRING", "ARRAY", "UINT64", "INT64", "FLOAT64"]
        return id < names.count ? names[Int(id)] : "type \(id)"
    }

    /// The fixed byte size of a scalar type, nil for strings, arrays and unknown ids.
    static func scalarSize(_ id: UInt32) -> Int? {
        switch id {
        case 0, 1, 7: 1
        case 2, 3: 2
        case 4, 5, 6: 4
        case 10, 11, 12: 8
        default: nil
        }
    }
}
