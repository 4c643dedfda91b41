import Foundation

/// Positional and keyword arguments of a call, looked up Python-style.
struct CallArguments {
    let positional: [Value]
    let keywords: [(String, Value)]

    func get(_ index: Int, _ name: String) -> Value? {
        if index < positional.count { return positional[index] }
        return keywords.first { $0.0 == name }?.1
    }
}

/// Globals (`range`, `namespace`, `dict`, `raise_exception`, `strftime_now`) and methods of str, dict and list.
extension Interpreter {
    func call(_ f: Value, _ positional: [Value], _ keywords: [(String, Value)]) throws -> Value {
        let args = CallArguments(positional: positional, keywords: keywords)
        switch f {
        case .callable(.macro(let box)):
            return try callMacro(box, positional, keywords)
        case .callable(.global(let name)):
            return try callGlobal(name, args)
        case .callable(.method(let receiver, let name)):
            return try callMethod(receiver, name, args)
        case .callable(.cycle(let index0)):
            guard !positional.isEmpty else { throw fail("no items for cycling given") }
            return positional[index0 % positional.count]
        case .undefined(let hint):
            throw fail(hint)
        default:
            throw fail("'\(f.typeName)' object is not callable")
        }
    }

    func callGlobal(_ name: String, _ args: CallArguments) throws -> Value {
        switch name {
        case "raise_exception":
            throw TemplateError(.raised, args.get(0, "message")?.pythonString ?? "", line: line)
        case "strftime_now":
            guard case .string(let format)? = args.get(0, "format") else { throw fail("strftime_now() expects a format string") }
            return .string(strftimeNow(format))
        case "range":
            let ints = try args.positional.map { v -> Int in
                guard let i = intIndex(v) else { throw fail("'\(v.typeName)' object cannot be interpreted as an integer") }
                return i
            }
            var start = 0, stop = 0, step = 1
            switch ints.count {
            case 1: stop = ints[0]
            case 2: start = ints[0]; stop = ints[1]
            case 3: start = ints[0]; stop = ints[1]; step = ints[2]
            default: throw fail("range expected 1 to 3 arguments, got \(ints.count)")
            }
            guard step != 0 else { throw fail("range() arg 3 must not be zero") }
            let count = step > 0 ? max(0, (stop - start + step - 1) / step) : max(0, (start - stop - step - 1) / -step)
            if count > limits.maxSequenceLength {
                throw TemplateError(.limitExceeded, "range() longer than \(limits.maxSequenceLength) elements", line: line)
            }
            return .list(stride(from: start, to: stop, by: step).map(Value.int))
        case "namespace", "dict":
            var store = OrderedStore<Value>()
            for p in args.positional {
                guard case .dict(let d) = p else { throw fail("\(name)() positional argument must be a mapping") }
                for (k, v) in zip(d.keys, d.values) { store.set(k, v) }
            }
            for (k, v) in args.keywords {
                if name == "namespace" && k.hasPrefix("_") {
                    throw TemplateError(.security, "Chat templates cannot store underscore-prefixed attributes on a namespace, but got '\(k)'.", line: line)
                }
                store.set(k, v)
            }
            if name == "dict" { return .dict(store) }
            let ns = NamespaceBox()
            ns.attributes = store
            return .namespace(ns)
        default:
            throw fail("'\(name)' is not callable")
        }
    }

    func strftimeNow(_ format: String) -> String {
        var t = time(nil)
        var tmValue = tm()
        localtime_r(&t, &tmValue)
        var buffer = [Int8](repeating: 0, count: 512)
        let n = strftime(&buffer, buffer.count, format, &tmValue)
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func stringArg(_ args: CallArguments, _ i: Int, _ name: String, method: String) throws -> String? {
        guard let v = args.get(i, name), !v.isNone else { return nil }
        guard case .string(let s) = v else { throw fail("\(method)() argument must be str or None, not \(v.typeName)") }
        return s
    }

    func callMethod(_ receiver: Value, _ name: String, _ args: CallArguments) throws -> Value {
        if name == "__unsafe__" {
            throw TemplateError(.security, receiver.pythonString, line: line)
        }
        switch receiver {
        case .string(let s): return try stringMethod(s, name, args)
        case .dict(let d):
            switch name {
            case "items": return .list(zip(d.keys, d.values).map { .tuple([.string($0), $1]) })
            case "keys": return .list(d.keys.map(Value.string))
            case "values": return .list(d.values)
            case "copy": return receiver
            case "get":
                guard let key = args.get(0, "key") else { throw fail("get expected at least 1 argument, got 0") }
                if case .string(let k) = key, let v = d[k] { return v }
                return args.get(1, "default") ?? .none
            default: break
            }
        case .list(let a), .tuple(let a):
            switch name {
            case "copy": return receiver
            case "count":
                let x = args.get(0, "value") ?? .none
                return .int(a.filter { valuesEqual($0, x) }.count)
            case "index":
                let x = args.get(0, "value") ?? .none
                guard let i = a.firstIndex(where: { valuesEqual($0, x) }) else { throw fail("\(x.pythonRepr) is not in list") }
                return .int(i)
            default: break
            }
        default: break
        }
        throw fail("'\(receiver.typeName)' object has no method '\(name)'")
    }

    func stringMethod(_ s: String, _ name: String, _ args: CallArguments) throws -> Value {
        switch name {
        case "strip", "lstrip", "rstrip":
            let chars = try stringArg(args, 0, "chars", method: name)
            return .string(pythonStrip(s, chars: chars, leading: name != "rstrip", trailing: name != "lstrip"))
        case "upper": return .string(s.uppercased())
        case "lower", "casefold": return .string(s.lowercased())
        case "title": return .string(pythonTitle(s))
        case "capitalize": return .string(pythonCapitalize(s))
        case "swapcase":
            return .string(String(s.unicodeScalars.map { c -> String in
                c.properties.isUppercase ? String(c).lowercased() : c.properties.isLowercase ? String(c).uppercased() : String(c)
            }.joined()))
        case "startswith", "endswith":
            guard let arg = args.get(0, "prefix") else { throw fail("\(name)() takes at least 1 argument") }
            let candidates: [Value]
            switch arg {
            case .tuple(let a), .list(let a): candidates = a
            default: candidates = [arg]
            }
            let a = s.scalars
            for c in candidates {
                guard case .string(let p) = c else { throw fail("\(name) first arg must be str or a tuple of str, not \(c.typeName)") }
                let b = p.scalars
                if name == "startswith" ? a.starts(with: b) : a.reversed().starts(with: b.reversed()) { return .bool(true) }
            }
            return .bool(false)
        case "split", "rsplit":
            let sep = try stringArg(args, 0, "sep", method: name)
            if sep == "" { throw fail("empty separator") }
            let maxSplit = args.get(1, "maxsplit").flatMap(intIndex) ?? -1
            if name == "rsplit" && maxSplit >= 0 {
                // Split from the right: reverse, split, reverse back.
                let reversed = String(scalars: s.unicodeScalars.reversed())
                let reversedSep = sep.map { String(scalars: $0.unicodeScalars.reversed()) }
                let parts = pythonSplit(reversed, separator: reversedSep, maxSplit: maxSplit)
                return .list(parts.reversed().map { Value.string(String(scalars: $0.unicodeScalars.reversed())) })
            }
            return .list(pythonSplit(s, separator: sep, maxSplit: maxSplit).map(Value.string))
        case "splitlines":
            var lines = pythonSplit(s, separator: "\n", maxSplit: -1)
            if lines.last == "" { lines.removeLast() }
            return .list(lines.map { .string($0.hasSuffix("\r") ? String($0.dropLast()) : $0) })
        case "replace":
            guard case .string(let old)? = args.get(0, "old"), case .string(let new)? = args.get(1, "new") else {
                throw fail("replace() arguments must be str")
            }
            let count = args.get(2, "count").flatMap(intIndex) ?? -1
            return try checkedString(pythonReplace(s, old, new, count: count))
        case "join":
            guard let v = args.get(0, "iterable") else { throw fail("join() takes exactly one argument") }
            let parts = try iterate(v).map { item -> String in
                guard case .string(let p) = item else { throw fail("sequence item: expected str instance, \(item.typeName) found") }
                return p
            }
            return try checkedString(parts.joined(separator: s))
        case "find", "rfind", "index", "count":
            guard case .string(let sub)? = args.get(0, "sub") else { throw fail("\(name)() argument must be str") }
            let a = s.scalars, b = sub.scalars
            if name == "count" {
                if b.isEmpty { return .int(a.count + 1) }
                var n = 0, i = 0
                while let j = scalarIndex(of: b, in: a, from: i) { n += 1; i = j + b.count }
                return .int(n)
            }
            var found: Int? = nil
            if name == "rfind" {
                var i = 0
                while let j = scalarIndex(of: b, in: a, from: i) { found = j; i = j + 1 }
            } else {
                found = scalarIndex(of: b, in: a)
            }
            if found == nil && name == "index" { throw fail("substring not found") }
            return .int(found ?? -1)
        case "isdigit": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.numericType == .decimal || $0.properties.numericType == .digit })
        case "isalpha": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic })
        case "isalnum": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil })
        case "isspace": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy(isPythonWhitespace))
        case "islower": return .bool(s.unicodeScalars.contains { $0.properties.isCased } && s.lowercased() == s)
        case "isupper": return .bool(s.unicodeScalars.contains { $0.properties.isCased } && s.uppercased() == s)
        case "zfill":
            let width = args.get(0, "width").flatMap(intIndex) ?? 0
            let a = s.scalars
            guard width > a.count else { return .string(s) }
            try checkLength(width)
            let pad = String(repeating: "0", count: width - a.count)
            if let f = a.first, f == "-" || f == "+" { return .string(String(f) + pad + String(scalars: a.dropFirst())) }
            return .string(pad + s)
        case "format":
            return .string(try pythonFormat(s, args))
        default:
            throw fail("'str' object has no method '\(name)'")
        }
    }

    /// `str.format` with `{}`, `{0}` and `{name}` fields (no format specs or conversions).
    func pythonFormat(_ s: String, _ args: CallArguments) throws -> String {
        var out = ""
        var auto = 0
        let a = s.scalars
        var i = 0
        while i < a.count {
            let c = a[i]
            if c == "{" {
                if i + 1 < a.count && a[i + 1] == "{" { out += "{"; i += 2; continue }
                guard let close = a[i...].firstIndex(of: "}") else { throw fail("Single '{' encountered in format string") }
                let field = String(scalars: a[(i + 1)..<close])
                if field.contains(":") || field.contains("!") { throw fail("format specs are not supported in format()") }
                let value: Value?
                if field.isEmpty {
                    value = auto < args.positional.count ? args.positional[auto] : nil
                    auto += 1
                } else if let n = Int(field) {
                    value = n < args.positional.count ? args.positional[n] : nil
                } else {
                    value = args.keywords.first { $0.0 == field }?.1
                }
                guard let value else { throw fail("Replacement index \(field.isEmpty ? String(auto - 1) : field) out of range for positional args tuple") }
                out += value.pythonString
                i = close + 1
            } else if c == "}" {
                guard i + 1 < a.count && a[i + 1] == "}" else { throw fail("Single '}' encountered in format string") }
                out += "}"
                i += 2
            } else {
                out.unicodeScalars.append(c)
                i += 1
            }
        }
        return out
    }
}
