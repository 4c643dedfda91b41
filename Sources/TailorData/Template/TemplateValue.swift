/// Runtime values of the template interpreter, modelled on the Python objects jinja2 sees.
final class NamespaceBox {
    var attributes = OrderedStore<Value>()
}

final class MacroBox {
    let definition: MacroDefinition
    let scope: Scope
    init(definition: MacroDefinition, scope: Scope) {
        self.definition = definition
        self.scope = scope
    }
}

indirect enum Callable {
    case global(String)
    case method(Value, String)
    case macro(MacroBox)
    case cycle(index0: Int)
}

indirect enum Value {
    /// jinja2's default `Undefined`; the payload is the message used if it is misused.
    case undefined(String)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([Value])
    case tuple([Value])
    case dict(OrderedStore<Value>)
    case namespace(NamespaceBox)
    case callable(Callable)

    init(_ json: JSONValue) {
        switch json {
        case .null: self = .none
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .array(let a): self = .list(a.map(Value.init))
        case .object(let o):
            var store = OrderedStore<Value>(minimumCapacity: o.count)
            for (k, v) in zip(o.store.keys, o.store.values) { store.set(k, Value(v)) }
            self = .dict(store)
        }
    }

    var isUndefined: Bool {
        if case .undefined = self { return true }
        return false
    }

    var truthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .list(let a), .tuple(let a): return !a.isEmpty
        case .dict(let d): return d.count > 0
        case .namespace, .callable: return true
        }
    }

    /// The Python type name, for error messages.
    var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .list: return "list"
        case .tuple: return "tuple"
        case .dict: return "dict"
        case .namespace: return "Namespace"
        case .callable: return "function"
        }
    }

    /// Python `str(x)` (what `{{ x }}` prints).
    var pythonString: String {
        switch self {
        case .undefined: return ""
        case .string(let s): return s
        default: return pythonRepr
        }
    }

    /// Python `repr(x)`.
    var pythonRepr: String {
        switch self {
        case .undefined: return ""
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return pythonFloatRepr(d)
        case .string(let s): return pythonStringRepr(s)
        case .list(let a): return "[" + a.map(\.pythonRepr).joined(separator: ", ") + "]"
        case .tuple(let a): return a.count == 1 ? "(\(a[0].pythonRepr),)" : "(" + a.map(\.pythonRepr).joined(separator: ", ") + ")"
        case .dict(let d):
            return "{" + zip(d.keys, d.values).map { pythonStringRepr($0) + ": " + $1.pythonRepr }.joined(separator: ", ") + "}"
        case .namespace(let n):
            return "<Namespace " + Value.dict(n.attributes).pythonRepr + ">"
        case .callable: return "<function>"
        }
    }

    /// Converts to JSON for `tojson`; fails like Python's `json.dumps` on non-JSON values.
    func toJSON() throws -> JSONValue {
        switch self {
        case .none: return .null
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .double(let d): return .double(d)
        case .string(let s): return .string(s)
        case .list(let a), .tuple(let a): return .array(try a.map { try $0.toJSON() })
        case .dict(let d):
            var o = JSONObject()
            for (k, v) in zip(d.keys, d.values) { o[k] = try v.toJSON() }
            return .object(o)
        default:
            throw TemplateError(.runtime, "Object of type \(typeName) is not JSON serializable")
        }
    }
}

func pythonStringRepr(_ s: String) -> String {
    let quote: Character = s.contains("'") && !s.contains("\"") ? "\"" : "'"
    var out = String(quote)
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if Character(scalar) == quote {
                out += "\\" + String(quote)
            } else if scalar.value < 0x20 || scalar.value == 0x7F {
                out += "\\x" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    out.append(quote)
    return out
}

// MARK: Python semantics helpers (code-point based, like Python `str`)

extension String {
    var scalars: [Unicode.Scalar] { Array(unicodeScalars) }

    init(scalars: some Sequence<Unicode.Scalar>) {
        var v = String.UnicodeScalarView()
        v.append(contentsOf: scalars)
        self = String(v)
    }

    /// Code-point equality (Swift's `==` uses canonical equivalence; Python compares code points).
    func pythonEquals(_ other: String) -> Bool {
        utf8.elementsEqual(other.utf8)
    }
}

func isPythonWhitespace(_ s: Unicode.Scalar) -> Bool {
    switch s.value {
    case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
    default: return false
    }
}

/// Index of `needle` in `haystack` at or after `from`, comparing code points.
func scalarIndex(of needle: [Unicode.Scalar], in haystack: [Unicode.Scalar], from: Int = 0) -> Int? {
    if needle.isEmpty { return from <= haystack.count ? from : nil }
    guard needle.count <= haystack.count else { return nil }
    var i = from
    while i + needle.count <= haystack.count {
        if haystack[i] == needle[0] && haystack[i..<i + needle.count].elementsEqual(needle) { return i }
        i += 1
    }
    return nil
}

func pythonStrip(_ s: String, chars: String?, leading: Bool, trailing: Bool) -> String {
    let a = s.scalars
    let set = chars.map { Set($0.unicodeScalars) }
    func strip(_ c: Unicode.Scalar) -> Bool { set.map { $0.contains(c) } ?? isPythonWhitespace(c) }
    var lo = 0, hi = a.count
    if leading { while lo < hi && strip(a[lo]) { lo += 1 } }
    if trailing { while hi > lo && strip(a[hi - 1]) { hi -= 1 } }
    if lo == 0 && hi == a.count { return s }
    return String(scalars: a[lo..<hi])
}

func pythonReplace(_ s: String, _ old: String, _ new: String, count: Int = -1) -> String {
    let a = s.scalars, o = old.scalars, n = new.scalars
    var out: [Unicode.Scalar] = []
    var i = 0, done = 0
    if o.isEmpty {
        // Python inserts `new` between every character (and at both ends).
        for c in a {
            if count < 0 || done < count { out += n; done += 1 }
            out.append(c)
        }
        if count < 0 || done < count { out += n }
        return String(scalars: out)
    }
    while let j = scalarIndex(of: o, in: a, from: i), count < 0 || done < count {
        out += a[i..<j]
        out += n
        i = j + o.count
        done += 1
    }
    out += a[i...]
    return String(scalars: out)
}

func pythonSplit(_ s: String, separator: String?, maxSplit: Int) -> [String] {
    let a = s.scalars
    var parts: [String] = []
    if let separator {
        let sep = separator.scalars
        var i = 0
        while maxSplit < 0 || parts.count < maxSplit, let j = scalarIndex(of: sep, in: a, from: i) {
            parts.append(String(scalars: a[i..<j]))
            i = j + sep.count
        }
        parts.append(String(scalars: a[i...]))
        return parts
    }
    var i = 0
    while i < a.count {
        while i < a.count && isPythonWhitespace(a[i]) { i += 1 }
        if i == a.count { break }
        if maxSplit >= 0 && parts.count == maxSplit {
            var end = a.count
            while end > i && isPythonWhitespace(a[end - 1]) { end -= 1 }
            parts.append(String(scalars: a[i..<end]))
            return parts
        }
        var j = i
        while j < a.count && !isPythonWhitespace(a[j]) { j += 1 }
        parts.append(String(scalars: a[i..<j]))
        i = j
    }
    return parts
}

/// Python `str.title()`: upper-case a cased character that follows an uncased one, lower-case the rest.
func pythonTitle(_ s: String) -> String {
    var out = ""
    var previousCased = false
    for c in s.unicodeScalars {
        let cased = c.properties.isCased
        if cased {
            out += previousCased ? String(c).lowercased() : String(c.properties.titlecaseMapping)
        } else {
            out.unicodeScalars.append(c)
        }
        previousCased = cased
    }
    return out
}

/// Python `str.capitalize()`: first character title-cased, the rest lower-cased.
func pythonCapitalize(_ s: String) -> String {
    guard let first = s.unicodeScalars.first else { return s }
    return first.properties.titlecaseMapping + String(scalars: s.unicodeScalars.dropFirst()).lowercased()
}
