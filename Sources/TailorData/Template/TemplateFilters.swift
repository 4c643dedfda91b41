import Foundation

/// jinja2's built-in filters and tests (the subset chat templates use), with transformers' `tojson`.
extension Interpreter {
    func applyFilter(_ name: String, _ value: Value, _ argExprs: [Argument], _ scope: Scope) throws -> Value {
        let (positional, keywords) = try evalArguments(argExprs, scope)
        return try filter(name, value, CallArguments(positional: positional, keywords: keywords))
    }

    func length(_ v: Value) throws -> Int {
        switch v {
        case .string(let s): return s.unicodeScalars.count
        case .list(let a), .tuple(let a): return a.count
        case .dict(let d): return d.count
        case .undefined: return 0
        case .namespace(let ns): return ns.attributes.count
        default: throw fail("object of type '\(v.typeName)' has no len()")
        }
    }

    func bool(_ args: CallArguments, _ i: Int, _ name: String, _ def: Bool = false) -> Bool {
        args.get(i, name)?.truthy ?? def
    }

    /// Looks up a dotted attribute path the way jinja2's `make_attrgetter` does (item access first).
    func attributePath(_ item: Value, _ path: Value) throws -> Value {
        if let i = intIndex(path) { return try getItem(item, .int(i)) }
        var v = item
        for part in path.pythonString.split(separator: ".", omittingEmptySubsequences: false) {
            v = try getItem(v, Int(part).map(Value.int) ?? .string(String(part)))
        }
        return v
    }

    func filter(_ name: String, _ value: Value, _ args: CallArguments) throws -> Value {
        switch name {
        case "trim":
            let chars = try stringArg(args, 0, "chars", method: "trim")
            return .string(pythonStrip(value.pythonString, chars: chars, leading: true, trailing: true))
        case "length", "count":
            return .int(try length(value))
        case "tojson":
            let ensureASCII = bool(args, 0, "ensure_ascii")
            var indent: Int? = nil
            if let i = args.get(1, "indent"), !i.isNone {
                guard let n = intIndex(i) else { throw fail("tojson indent must be an integer") }
                indent = n
            }
            var separators: (String, String)? = nil
            if let s = args.get(2, "separators"), !s.isNone {
                let parts = try iterate(s)
                guard parts.count == 2, case .string(let a) = parts[0], case .string(let b) = parts[1] else {
                    throw fail("tojson separators must be a pair of strings")
                }
                separators = (a, b)
            }
            let options = JSONSerializationOptions(ensureASCII: ensureASCII, indent: indent,
                                                   sortKeys: bool(args, 3, "sort_keys"), separators: separators)
            if case .undefined(let hint) = value { throw fail(hint) }
            return .string(try value.toJSON().serialized(options: options))
        case "upper": return .string(value.pythonString.uppercased())
        case "lower": return .string(value.pythonString.lowercased())
        case "capitalize": return .string(pythonCapitalize(value.pythonString))
        case "title":
            // jinja2 splits on runs of whitespace, '-', and opening brackets, then capitalizes each piece.
            var out = ""
            var startOfWord = true
            for c in value.pythonString.unicodeScalars {
                let boundary = isPythonWhitespace(c) || "-({[<".unicodeScalars.contains(c)
                if boundary {
                    out.unicodeScalars.append(c)
                    startOfWord = true
                } else {
                    out += startOfWord ? c.properties.uppercaseMapping : c.properties.lowercaseMapping
                    startOfWord = false
                }
            }
            return .string(out)
        case "replace":
            let count = args.get(2, "count").flatMap { $0.isNone ? nil : intIndex($0) } ?? -1
            return try checkedString(pythonReplace(value.pythonString, args.get(0, "old")?.pythonString ?? "",
                                                   args.get(1, "new")?.pythonString ?? "", count: count))
        case "default", "d":
            let fallback = args.get(0, "default_value") ?? .string("")
            if value.isUndefined || (bool(args, 1, "boolean") && !value.truthy) { return fallback }
            return value
        case "join":
            let sep = args.get(0, "d")?.pythonString ?? ""
            var items = try iterate(value)
            if let attr = args.get(1, "attribute"), !attr.isNone { items = try items.map { try attributePath($0, attr) } }
            return try checkedString(items.map(\.pythonString).joined(separator: sep))
        case "first":
            return try iterate(value).first ?? .undefined("No first item, sequence was empty.")
        case "last":
            return try iterate(value).last ?? .undefined("No last item, sequence was empty.")
        case "items":
            switch value {
            case .dict(let d): return .list(zip(d.keys, d.values).map { .tuple([.string($0), $1]) })
            case .undefined: return .list([])
            default: throw fail("Can only get item pairs from a mapping.")
            }
        case "selectattr", "rejectattr":
            guard let attr = args.positional.first else { throw fail("\(name)() requires an attribute name") }
            let keep = name == "selectattr"
            let testName = args.positional.count > 1 ? args.positional[1].pythonString : nil
            let testArgs = Array(args.positional.dropFirst(2))
            return .list(try iterate(value).filter { item in
                let v = try attributePath(item, attr)
                let ok = try testName.map { try applyTest($0, v, testArgs) } ?? v.truthy
                return ok == keep
            })
        case "select", "reject":
            let keep = name == "select"
            let testName = args.positional.first?.pythonString
            let testArgs = Array(args.positional.dropFirst(1))
            return .list(try iterate(value).filter { item in
                let ok = try testName.map { try applyTest($0, item, testArgs) } ?? item.truthy
                return ok == keep
            })
        case "map":
            let items = try iterate(value)
            if let attr = args.keywords.first(where: { $0.0 == "attribute" })?.1 {
                let fallback = args.keywords.first { $0.0 == "default" }?.1
                return .list(try items.map { item in
                    let v = try attributePath(item, attr)
                    if v.isUndefined, let fallback { return fallback }
                    return v
                })
            }
            guard let filterName = args.positional.first?.pythonString else { return .list(items) }
            let rest = CallArguments(positional: Array(args.positional.dropFirst()), keywords: args.keywords)
            return .list(try items.map { try filter(filterName, $0, rest) })
        case "string": return .string(value.pythonString)
        case "int":
            let fallback = args.get(0, "default") ?? .int(0)
            switch value {
            case .int: return value
            case .bool(let b): return .int(b ? 1 : 0)
            case .double(let d): return d.isFinite && abs(d) < 9.2e18 ? .int(Int(d)) : fallback
            case .string(let s):
                let t = pythonStrip(s, chars: nil, leading: true, trailing: true).replacingOccurrences(of: "_", with: "")
                if let i = Int(t) { return .int(i) }
                if let d = Double(t), d.isFinite, abs(d) < 9.2e18 { return .int(Int(d)) }
                return fallback
            case .undefined(let hint): throw fail(hint)
            default: return fallback
            }
        case "float":
            let fallback = args.get(0, "default") ?? .double(0)
            switch value {
            case .int(let i): return .double(Double(i))
            case .bool(let b): return .double(b ? 1 : 0)
            case .double: return value
            case .string(let s): return Double(pythonStrip(s, chars: nil, leading: true, trailing: true)).map(Value.double) ?? fallback
            case .undefined(let hint): throw fail(hint)
            default: return fallback
            }
        case "list": return .list(try iterate(value))
        case "safe": return value
        case "escape", "e", "forceescape":
            var out = ""
            for c in value.pythonString.unicodeScalars {
                switch c {
                case "&": out += "&amp;"
                case "<": out += "&lt;"
                case ">": out += "&gt;"
                case "\"": out += "&#34;"
                case "'": out += "&#39;"
                default: out.unicodeScalars.append(c)
                }
            }
            return .string(out)
        case "reverse":
            if case .string(let s) = value { return .string(String(scalars: s.unicodeScalars.reversed())) }
            return .list(try iterate(value).reversed())
        case "sort":
            let reverse = bool(args, 0, "reverse"), caseSensitive = bool(args, 1, "case_sensitive")
            let attr = args.get(2, "attribute").flatMap { $0.isNone ? nil : $0 }
            let keyed = try iterate(value).map { item -> (Value, Value) in
                var key = try attr.map { try attributePath(item, $0) } ?? item
                if !caseSensitive, case .string(let s) = key { key = .string(s.lowercased()) }
                return (key, item)
            }
            var failure: Error? = nil
            let sorted = keyed.enumerated().sorted { a, b in
                do {
                    let o = try ordering(a.element.0, b.element.0, "<")
                    if o == 0 { return a.offset < b.offset }
                    return reverse ? o > 0 : o < 0
                } catch {
                    failure = error
                    return false
                }
            }
            if let failure { throw failure }
            return .list(sorted.map(\.element.1))
        case "unique":
            let caseSensitive = bool(args, 0, "case_sensitive")
            let attr = args.get(1, "attribute").flatMap { $0.isNone ? nil : $0 }
            var seen: [Value] = []
            var out: [Value] = []
            for item in try iterate(value) {
                var key = try attr.map { try attributePath(item, $0) } ?? item
                if !caseSensitive, case .string(let s) = key { key = .string(s.lowercased()) }
                if !seen.contains(where: { valuesEqual($0, key) }) {
                    seen.append(key)
                    out.append(item)
                }
            }
            return .list(out)
        case "indent":
            let widthValue = args.get(0, "width") ?? .int(4)
            let indentation: String
            if case .string(let s) = widthValue {
                indentation = s
            } else {
                let width = intIndex(widthValue) ?? 4
                try checkLength(width)
                indentation = String(repeating: " ", count: max(0, width))
            }
            let first = bool(args, 1, "first"), blank = bool(args, 2, "blank")
            let text = value.pythonString
            let lines = pythonSplitlines(text + "\n")
            // The result is at most the text plus one indentation per line: bound it before building.
            let (added, overflow) = indentation.utf8.count.multipliedReportingOverflow(by: lines.count + 1)
            try checkLength(overflow || added > limits.maxOutputBytes ? .max : added + text.utf8.count)
            var rv: String
            if blank {
                rv = lines.joined(separator: "\n" + indentation)
            } else {
                rv = lines.first ?? ""
                if lines.count > 1 {
                    rv += "\n" + lines.dropFirst().map { $0.isEmpty ? $0 : indentation + $0 }.joined(separator: "\n")
                }
            }
            return try checkedString(first ? indentation + rv : rv)
        case "abs":
            switch value {
            case .int(let i): return .int(abs(i))
            case .double(let d): return .double(abs(d))
            default: throw fail("bad operand type for abs(): '\(value.typeName)'")
            }
        case "round":
            guard let x = numeric(value).1 else { throw fail("round() requires a number") }
            let precision = args.get(0, "precision").flatMap(intIndex) ?? 0
            let method = args.get(1, "method")?.pythonString ?? "common"
            let scale = pow(10.0, Double(precision))
            let rule: FloatingPointRoundingRule = method == "ceil" ? .up : method == "floor" ? .down : .toNearestOrEven
            return .double((x * scale).rounded(rule) / scale)
        case "max", "min":
            let items = try iterate(value)
            guard var best = items.first else { return .undefined("No aggregated item, sequence was empty.") }
            for item in items.dropFirst() {
                let o = try ordering(item, best, "<")
                if name == "max" ? o > 0 : o < 0 { best = item }
            }
            return best
        case "sum":
            var total = args.get(1, "start") ?? .int(0)
            let attr = args.get(0, "attribute").flatMap { $0.isNone ? nil : $0 }
            for item in try iterate(value) { total = try binary("+", total, try attr.map { try attributePath(item, $0) } ?? item) }
            return total
        case "dictsort":
            guard case .dict(let d) = value else { throw fail("You can only sort by either \"key\" or \"value\"") }
            let byValue = args.get(1, "by")?.pythonString == "value"
            let pairs = zip(d.keys, d.values).map { Value.tuple([.string($0), $1]) }
            let sorted = try filter("sort", .list(pairs), CallArguments(positional: [args.get(2, "reverse") ?? .bool(false), args.get(0, "case_sensitive") ?? .bool(false), .int(byValue ? 1 : 0)], keywords: []))
            return sorted
        case "wordcount":
            return .int(pythonSplit(value.pythonString, separator: nil, maxSplit: -1).count)
        default:
            throw fail("no filter named '\(name)'")
        }
    }

    func applyTest(_ name: String, _ value: Value, _ args: [Value]) throws -> Bool {
        let arg = args.first ?? .undefined("missing test argument")
        switch name {
        case "defined": return !value.isUndefined
        case "undefined": return value.isUndefined
        case "none": return value.isNone
        case "string": if case .string = value { return true }; return false
        case "mapping": if case .dict = value { return true }; return false
        case "iterable", "sequence":
            switch value {
            case .string, .list, .tuple, .dict, .undefined: return true
            default: return false
            }
        case "number":
            switch value {
            case .int, .double, .bool: return true
            default: return false
            }
        case "integer": if case .int = value { return true }; return false
        case "float": if case .double = value { return true }; return false
        case "boolean": if case .bool = value { return true }; return false
        case "true": if case .bool(true) = value { return true }; return false
        case "false": if case .bool(false) = value { return true }; return false
        case "callable": if case .callable = value { return true }; return false
        case "equalto", "eq", "==": return valuesEqual(value, arg)
        case "ne", "!=": return !valuesEqual(value, arg)
        case "lt", "lessthan", "<": return try ordering(value, arg, "<") < 0
        case "le", "<=": return try ordering(value, arg, "<=") <= 0
        case "gt", "greaterthan", ">": return try ordering(value, arg, ">") > 0
        case "ge", ">=": return try ordering(value, arg, ">=") >= 0
        case "in": return try contains(arg, value)
        case "sameas":
            switch (value, arg) {
            case (.none, .none): return true
            case (.bool(let a), .bool(let b)): return a == b
            case (.namespace(let a), .namespace(let b)): return a === b
            default: return false
            }
        case "odd", "even", "divisibleby":
            guard let i = intIndex(value) else { throw fail("test '\(name)' requires an integer") }
            if name == "odd" { return i % 2 != 0 }
            if name == "even" { return i % 2 == 0 }
            guard let n = intIndex(arg), n != 0 else { throw fail("divisibleby requires a non-zero integer") }
            return i % n == 0
        case "lower": return value.pythonString.lowercased() == value.pythonString
        case "upper": return value.pythonString.uppercased() == value.pythonString
        case "escaped": return false
        default: throw fail("no test named '\(name)'")
        }
    }
}

/// Python `str.splitlines()` (all Unicode line boundaries, `\r\n` as one).
func pythonSplitlines(_ s: String) -> [String] {
    var lines: [String] = []
    var current = String.UnicodeScalarView()
    var iterator = s.unicodeScalars.makeIterator()
    var pending: Unicode.Scalar? = iterator.next()
    while let c = pending {
        pending = iterator.next()
        switch c.value {
        case 0x0A, 0x0B, 0x0C, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029:
            lines.append(String(current))
            current = String.UnicodeScalarView()
        case 0x0D:
            lines.append(String(current))
            current = String.UnicodeScalarView()
            if pending == "\n" { pending = iterator.next() }
        default:
            current.append(c)
        }
    }
    if !current.isEmpty { lines.append(String(current)) }
    return lines
}
