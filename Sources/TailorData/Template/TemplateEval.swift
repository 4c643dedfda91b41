import Foundation

/// Expression evaluation with Python/jinja2 semantics.
extension Interpreter {
    func eval(_ expr: Expr, _ scope: Scope) throws -> Value {
        try tick()
        switch expr {
        case .constant(let c):
            switch c {
            case .none: return .none
            case .bool(let b): return .bool(b)
            case .int(let i): return .int(i)
            case .double(let d): return .double(d)
            case .string(let s): return .string(s)
            }
        case .name(let n):
            return scope.lookup(n) ?? .undefined("'\(n)' is undefined")
        case .list(let items):
            return .list(try items.map { try eval($0, scope) })
        case .tuple(let items):
            return .tuple(try items.map { try eval($0, scope) })
        case .dict(let pairs):
            var d = OrderedStore<Value>()
            for p in pairs {
                let k = try eval(p.key, scope)
                guard case .string(let key) = k else { throw fail("only string keys are supported in dict literals, got \(k.typeName)") }
                d.set(key, try eval(p.value, scope))
            }
            return .dict(d)
        case .attribute(let base, let name):
            return try getAttribute(try eval(base, scope), name)
        case .item(let base, let index):
            return try getItem(try eval(base, scope), try eval(index, scope))
        case .slice(let base, let start, let stop, let step):
            return try slice(try eval(base, scope), start.map { try eval($0, scope) }, stop.map { try eval($0, scope) },
                             step.map { try eval($0, scope) })
        case .call(let callee, let args):
            let f = try eval(callee, scope)
            let (positional, keywords) = try evalArguments(args, scope)
            return try call(f, positional, keywords)
        case .filter(let base, let name, let args):
            return try applyFilter(name, try eval(base, scope), args, scope)
        case .test(let base, let name, let args, let negated):
            let (positional, _) = try evalArguments(args, scope)
            let result = try applyTest(name, try eval(base, scope), positional)
            return .bool(negated ? !result : result)
        case .not(let e):
            return .bool(!(try eval(e, scope).truthy))
        case .negate(let e):
            switch try eval(e, scope) {
            case .int(let i):
                guard i != Int.min else { throw fail("integer overflow") }
                return .int(-i)
            case .double(let d): return .double(-d)
            case .bool(let b): return .int(b ? -1 : 0)
            case let v: throw undefinedOr(v, "bad operand type for unary -: '\(v.typeName)'")
            }
        case .plus(let e):
            let v = try eval(e, scope)
            switch v {
            case .int, .double: return v
            case .bool(let b): return .int(b ? 1 : 0)
            default: throw undefinedOr(v, "bad operand type for unary +: '\(v.typeName)'")
            }
        case .and(let l, let r):
            let lv = try eval(l, scope)
            return lv.truthy ? try eval(r, scope) : lv
        case .or(let l, let r):
            let lv = try eval(l, scope)
            return lv.truthy ? lv : try eval(r, scope)
        case .binary(let op, let l, let r):
            return try binary(op, try eval(l, scope), try eval(r, scope))
        case .compare(let first, let ops):
            var lhs = try eval(first, scope)
            for (op, rhsExpr) in ops {
                let rhs = try eval(rhsExpr, scope)
                if !(try compare(op, lhs, rhs)) { return .bool(false) }
                lhs = rhs
            }
            return .bool(true)
        case .conditional(let test, let then, let elseExpr):
            if try eval(test, scope).truthy { return try eval(then, scope) }
            guard let elseExpr else { return .undefined("the inline if-expression evaluated to false and no else section was defined") }
            return try eval(elseExpr, scope)
        }
    }

    func evalArguments(_ args: [Argument], _ scope: Scope) throws -> ([Value], [(String, Value)]) {
        var positional: [Value] = []
        var keywords: [(String, Value)] = []
        for a in args {
            let v = try eval(a.value, scope)
            if let n = a.name { keywords.append((n, v)) } else { positional.append(v) }
        }
        return (positional, keywords)
    }

    /// The error for using an undefined value where jinja2 raises `UndefinedError`, or a type error otherwise.
    func undefinedOr(_ v: Value, _ message: String) -> TemplateError {
        if case .undefined(let hint) = v { return fail(hint) }
        return fail(message)
    }

    // MARK: Attribute and item access

    static let stringMethods: Set<String> = ["strip", "lstrip", "rstrip", "startswith", "endswith", "split", "rsplit",
        "title", "upper", "lower", "replace", "capitalize", "format", "join", "find", "rfind", "count", "splitlines",
        "isdigit", "isalpha", "isalnum", "isspace", "islower", "isupper", "index", "zfill", "casefold", "swapcase"]
    static let dictMethods: Set<String> = ["items", "keys", "values", "get", "copy"]
    static let listMethods: Set<String> = ["index", "count", "copy"]
    static let unsafeMethods: Set<String> = ["append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse",
        "update", "setdefault", "popitem", "add", "discard"]

    func getAttribute(_ base: Value, _ name: String) throws -> Value {
        switch base {
        case .undefined(let hint):
            throw fail(hint)
        case .dict(let d):
            if Self.dictMethods.contains(name) { return .callable(.method(base, name)) }
            if Self.unsafeMethods.contains(name) { return unsafe(base, name) }
            return d[name] ?? .undefined("'dict object' has no attribute '\(name)'")
        case .namespace(let ns):
            return ns.attributes[name] ?? .undefined("'Namespace object' has no attribute '\(name)'")
        case .string:
            if Self.stringMethods.contains(name) { return .callable(.method(base, name)) }
        case .list, .tuple:
            if Self.listMethods.contains(name) { return .callable(.method(base, name)) }
            if Self.unsafeMethods.contains(name) { return unsafe(base, name) }
        default:
            break
        }
        return .undefined("'\(base.pythonTypeDescription)' has no attribute '\(name)'")
    }

    func unsafe(_ base: Value, _ name: String) -> Value {
        .callable(.method(.string("access to attribute '\(name)' of '\(base.typeName)' object is unsafe."), "__unsafe__"))
    }

    func getItem(_ base: Value, _ index: Value) throws -> Value {
        switch (base, index) {
        case (.undefined(let hint), _):
            throw fail(hint)
        case (.dict(let d), .string(let k)):
            if let v = d[k] { return v }
            if Self.dictMethods.contains(k) { return .callable(.method(base, k)) }
            return .undefined("'dict object' has no attribute '\(k)'")
        case (.namespace, .string(let k)):
            return try getAttribute(base, k)
        case (.list(let a), _), (.tuple(let a), _):
            guard let i = intIndex(index) else {
                if case .string(let k) = index { return try getAttribute(base, k) }
                throw fail("\(base.typeName) indices must be integers, not \(index.typeName)")
            }
            let j = i < 0 ? i + a.count : i
            return a.indices.contains(j) ? a[j] : .undefined("'\(base.typeName) object' has no element \(i)")
        case (.string(let s), _):
            guard let i = intIndex(index) else {
                if case .string(let k) = index { return try getAttribute(base, k) }
                throw fail("string indices must be integers, not \(index.typeName)")
            }
            let a = s.scalars
            let j = i < 0 ? i + a.count : i
            return a.indices.contains(j) ? .string(String(a[j])) : .undefined("'str object' has no element \(i)")
        case (_, .string(let k)):
            return try getAttribute(base, k)
        default:
            return .undefined("'\(base.pythonTypeDescription)' has no element \(index.pythonRepr)")
        }
    }

    func intIndex(_ v: Value) -> Int? {
        switch v {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    func slice(_ base: Value, _ start: Value?, _ stop: Value?, _ step: Value?) throws -> Value {
        func bound(_ v: Value?) throws -> Int? {
            guard let v, !(v.isNone) else { return nil }
            guard let i = intIndex(v) else { throw fail("slice indices must be integers or None") }
            return i
        }
        let st = try bound(step) ?? 1
        guard st != 0 else { throw fail("slice step cannot be zero") }
        func indices(_ n: Int) throws -> [Int] {
            var lo = try bound(start), hi = try bound(stop)
            if st > 0 {
                var a = lo ?? 0, b = hi ?? n
                if a < 0 { a = max(a + n, 0) } else { a = min(a, n) }
                if b < 0 { b = max(b + n, 0) } else { b = min(b, n) }
                lo = a; hi = b
                return a < b ? Array(stride(from: a, to: b, by: st)) : []
            } else {
                var a = lo ?? n - 1, b = hi ?? -n - 1
                if a < 0 { a = max(a + n, -1) } else { a = min(a, n - 1) }
                if let h = hi { b = h < 0 ? max(h + n, -1) : min(h, n - 1) } else { b = -1 }
                return a > b ? Array(stride(from: a, to: b, by: st)) : []
            }
        }
        switch base {
        case .list(let a): return .list(try indices(a.count).map { a[$0] })
        case .tuple(let a): return .tuple(try indices(a.count).map { a[$0] })
        case .string(let s):
            let a = s.scalars
            return .string(String(scalars: try indices(a.count).map { a[$0] }))
        case .undefined(let hint): throw fail(hint)
        default: throw fail("'\(base.typeName)' object is not subscriptable")
        }
    }

    // MARK: Operators

    func binary(_ op: String, _ l: Value, _ r: Value) throws -> Value {
        if op == "~" {
            return try checkedString(l.pythonString + r.pythonString)
        }
        if case .undefined(let hint) = l { throw fail(hint) }
        if case .undefined(let hint) = r { throw fail(hint) }
        let unsupported = fail("unsupported operand type(s) for \(op): '\(l.typeName)' and '\(r.typeName)'")
        switch op {
        case "+":
            switch (l, r) {
            case (.string(let a), .string(let b)): return try checkedString(a + b)
            case (.list(let a), .list(let b)): return .list(a + b)
            case (.tuple(let a), .tuple(let b)): return .tuple(a + b)
            case (.string, _): throw fail("can only concatenate str (not \"\(r.typeName)\") to str")
            case (.list, _): throw fail("can only concatenate list (not \"\(r.typeName)\") to list")
            default: return try arithmetic(op, l, r) ?? { throw unsupported }()
            }
        case "*":
            switch (l, r) {
            case (.string(let s), _) where intIndex(r) != nil: return try repeatString(s, intIndex(r)!)
            case (_, .string(let s)) where intIndex(l) != nil: return try repeatString(s, intIndex(l)!)
            case (.list(let a), _) where intIndex(r) != nil: return .list(try repeatList(a, intIndex(r)!))
            case (_, .list(let a)) where intIndex(l) != nil: return .list(try repeatList(a, intIndex(l)!))
            default: return try arithmetic(op, l, r) ?? { throw unsupported }()
            }
        case "%":
            if case .string = l { throw fail("printf-style string formatting ('%') is not supported; use format()") }
            return try arithmetic(op, l, r) ?? { throw unsupported }()
        default:
            return try arithmetic(op, l, r) ?? { throw unsupported }()
        }
    }

    /// Throws ``TemplateError/Kind/limitExceeded`` unless a string of `bytes` UTF-8 bytes fits
    /// ``RenderLimits/maxOutputBytes``; called before building padded or repeated strings.
    func checkLength(_ bytes: Int) throws {
        if bytes > limits.maxOutputBytes {
            throw TemplateError(.limitExceeded, "string longer than \(limits.maxOutputBytes) bytes", line: line)
        }
    }

    func checkedString(_ s: String) throws -> Value {
        if s.utf8.count > limits.maxOutputBytes {
            throw TemplateError(.limitExceeded, "string longer than \(limits.maxOutputBytes) bytes", line: line)
        }
        return .string(s)
    }

    func repeatString(_ s: String, _ n: Int) throws -> Value {
        guard n > 0, !s.isEmpty else { return .string("") }
        let (total, overflow) = s.utf8.count.multipliedReportingOverflow(by: n)
        if overflow || total > limits.maxOutputBytes {
            throw TemplateError(.limitExceeded, "string longer than \(limits.maxOutputBytes) bytes", line: line)
        }
        return .string(String(repeating: s, count: n))
    }

    func repeatList(_ a: [Value], _ n: Int) throws -> [Value] {
        guard n > 0, !a.isEmpty else { return [] }
        let (total, overflow) = a.count.multipliedReportingOverflow(by: n)
        if overflow || total > limits.maxSequenceLength {
            throw TemplateError(.limitExceeded, "list longer than \(limits.maxSequenceLength) elements", line: line)
        }
        return Array([[Value]](repeating: a, count: n).joined())
    }

    func numeric(_ v: Value) -> (Int?, Double?) {
        switch v {
        case .int(let i): return (i, Double(i))
        case .bool(let b): return (b ? 1 : 0, b ? 1 : 0)
        case .double(let d): return (nil, d)
        default: return (nil, nil)
        }
    }

    /// Numeric operators with Python semantics (floor division and modulo follow the divisor's sign).
    func arithmetic(_ op: String, _ l: Value, _ r: Value) throws -> Value? {
        let (li, ld) = numeric(l), (ri, rd) = numeric(r)
        guard let a = ld, let b = rd else { return nil }
        if let x = li, let y = ri {
            let overflow = fail("integer overflow in \(op)")
            switch op {
            case "+": let (v, o) = x.addingReportingOverflow(y); if o { throw overflow }; return .int(v)
            case "-": let (v, o) = x.subtractingReportingOverflow(y); if o { throw overflow }; return .int(v)
            case "*": let (v, o) = x.multipliedReportingOverflow(by: y); if o { throw overflow }; return .int(v)
            case "/":
                guard y != 0 else { throw fail("division by zero") }
                return .double(Double(x) / Double(y))
            case "//", "%":
                guard y != 0 else { throw fail("integer division or modulo by zero") }
                var q = x / y, m = x % y
                if m != 0 && ((m < 0) != (y < 0)) { q -= 1; m += y }
                return .int(op == "//" ? q : m)
            case "**":
                guard y >= 0 else { return .double(pow(a, b)) }
                var result = 1, base = x, e = y
                while e > 0 {
                    if e & 1 == 1 { let (v, o) = result.multipliedReportingOverflow(by: base); if o { throw overflow }; result = v }
                    e >>= 1
                    if e > 0 { let (v, o) = base.multipliedReportingOverflow(by: base); if o { throw overflow }; base = v }
                }
                return .int(result)
            default: return nil
            }
        }
        switch op {
        case "+": return .double(a + b)
        case "-": return .double(a - b)
        case "*": return .double(a * b)
        case "/":
            guard b != 0 else { throw fail("float division by zero") }
            return .double(a / b)
        case "//":
            guard b != 0 else { throw fail("float floor division by zero") }
            return .double((a / b).rounded(.down))
        case "%":
            guard b != 0 else { throw fail("float modulo") }
            var m = fmod(a, b)
            if m != 0 && ((m < 0) != (b < 0)) { m += b }
            return .double(m)
        case "**": return .double(pow(a, b))
        default: return nil
        }
    }

    func compare(_ op: String, _ l: Value, _ r: Value) throws -> Bool {
        switch op {
        case "==": return valuesEqual(l, r)
        case "!=": return !valuesEqual(l, r)
        case "in": return try contains(r, l)
        case "notin": return !(try contains(r, l))
        default:
            let order = try ordering(l, r, op)
            switch op {
            case "<": return order < 0
            case "<=": return order <= 0
            case ">": return order > 0
            default: return order >= 0
            }
        }
    }

    func valuesEqual(_ l: Value, _ r: Value) -> Bool {
        switch (l, r) {
        case (.undefined, .undefined), (.none, .none): return true
        case (.string(let a), .string(let b)): return a.pythonEquals(b)
        case (.list(let a), .list(let b)), (.tuple(let a), .tuple(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { valuesEqual($0, $1) }
        case (.dict(let a), .dict(let b)):
            return a.count == b.count && zip(a.keys, a.values).allSatisfy { k, v in b[k].map { valuesEqual(v, $0) } ?? false }
        case (.namespace(let a), .namespace(let b)): return a === b
        default:
            let (li, ld) = numeric(l), (ri, rd) = numeric(r)
            if let x = li, let y = ri { return x == y }
            if let a = ld, let b = rd { return a == b }
            return false
        }
    }

    func ordering(_ l: Value, _ r: Value, _ op: String) throws -> Int {
        if case .undefined(let hint) = l { throw fail(hint) }
        if case .undefined(let hint) = r { throw fail(hint) }
        switch (l, r) {
        case (.string(let a), .string(let b)):
            if a.pythonEquals(b) { return 0 }
            return a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) { $0.value < $1.value } ? -1 : 1
        case (.list(let a), .list(let b)), (.tuple(let a), .tuple(let b)):
            for (x, y) in zip(a, b) where !valuesEqual(x, y) { return try ordering(x, y, op) }
            return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
        default:
            let (li, ld) = numeric(l), (ri, rd) = numeric(r)
            if let x = li, let y = ri { return x == y ? 0 : (x < y ? -1 : 1) }
            if let a = ld, let b = rd { return a == b ? 0 : (a < b ? -1 : 1) }
            throw fail("'\(op)' not supported between instances of '\(l.typeName)' and '\(r.typeName)'")
        }
    }

    func contains(_ container: Value, _ item: Value) throws -> Bool {
        switch container {
        case .string(let s):
            guard case .string(let sub) = item else {
                throw fail("'in <string>' requires string as left operand, not \(item.typeName)")
            }
            return scalarIndex(of: sub.scalars, in: s.scalars) != nil
        case .list(let a), .tuple(let a): return a.contains { valuesEqual($0, item) }
        case .dict(let d):
            guard case .string(let k) = item else { return false }
            return d[k] != nil
        case .namespace(let ns):
            guard case .string(let k) = item else { return false }
            return ns.attributes[k] != nil
        case .undefined: return false
        default: throw fail("argument of type '\(container.typeName)' is not iterable")
        }
    }
}

extension Value {
    var isNone: Bool {
        if case .none = self { return true }
        return false
    }

    /// How jinja2 names an object in "has no attribute" messages, e.g. `dict object`, `str object`, `None`.
    var pythonTypeDescription: String {
        switch self {
        case .none: return "None"
        default: return "\(typeName) object"
        }
    }
}
