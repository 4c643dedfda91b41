/// A recursive-descent parser with jinja2's grammar and operator precedence
/// (`parse_condexpr` → `or` → `and` → `not` → compare → `+ -` → `~` → `* / // %` → `**` → unary → postfix/filters).
struct TemplateParser {
    static let maxNesting = 200

    let tokens: [Token]
    var index = 0
    var depth = 0

    init(tokens: [Token]) { self.tokens = tokens }

    var current: Token { tokens[index] }
    var line: Int { current.line }

    func fail(_ message: String) -> TemplateError { TemplateError(.syntax, message, line: line) }

    mutating func next() -> Token {
        let t = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return t
    }

    func isOp(_ op: String) -> Bool { current.kind == .op(op) }
    func isName(_ name: String) -> Bool { current.kind == .name(name) }

    mutating func skipOp(_ op: String) -> Bool {
        if isOp(op) { _ = next(); return true }
        return false
    }

    mutating func skipName(_ name: String) -> Bool {
        if isName(name) { _ = next(); return true }
        return false
    }

    mutating func expectOp(_ op: String) throws {
        guard skipOp(op) else { throw fail("expected '\(op)', found \(describe(current.kind))") }
    }

    mutating func expectName() throws -> String {
        guard case .name(let n) = current.kind else { throw fail("expected a name, found \(describe(current.kind))") }
        _ = next()
        return n
    }

    mutating func expectBlockEnd() throws {
        guard current.kind == .blockEnd else { throw fail("expected end of statement '%}', found \(describe(current.kind))") }
        _ = next()
    }

    func describe(_ k: TokenKind) -> String {
        switch k {
        case .text: return "template text"
        case .variableBegin: return "'{{'"
        case .variableEnd: return "'}}'"
        case .blockBegin: return "'{%'"
        case .blockEnd: return "'%}'"
        case .name(let n): return "'\(n)'"
        case .string(let s): return "string '\(s.prefix(20))'"
        case .integer(let i): return "'\(i)'"
        case .float(let d): return "'\(d)'"
        case .op(let o): return "'\(o)'"
        case .eof: return "end of template"
        }
    }

    mutating func nest() throws {
        depth += 1
        if depth > Self.maxNesting { throw TemplateError(.limitExceeded, "template nesting deeper than \(Self.maxNesting) levels", line: line) }
    }

    // MARK: Statements

    mutating func parseTemplate() throws -> [Statement] {
        let (body, end) = try parseBody(until: [])
        if let end { throw fail("unexpected '\(end)'") }
        return body
    }

    /// Parses statements until a block tag whose keyword is in `enders`; returns that keyword (consumed, with
    /// the block-begin), leaving the parser after the keyword.
    mutating func parseBody(until enders: Set<String>) throws -> ([Statement], String?) {
        try nest()
        defer { depth -= 1 }
        var body: [Statement] = []
        while true {
            let tok = next()
            switch tok.kind {
            case .eof:
                if !enders.isEmpty {
                    throw TemplateError(.syntax, "unexpected end of template; expected one of: \(enders.sorted().joined(separator: ", "))", line: tok.line)
                }
                return (body, nil)
            case .text(let s):
                body.append(.text(s))
            case .variableBegin:
                let e = try parseTupleExpression()
                guard current.kind == .variableEnd else { throw fail("expected '}}', found \(describe(current.kind))") }
                _ = next()
                body.append(.output(e, line: tok.line))
            case .blockBegin:
                guard case .name(let keyword) = current.kind else { throw fail("expected a statement name, found \(describe(current.kind))") }
                if enders.contains(keyword) {
                    _ = next()
                    return (body, keyword)
                }
                body.append(try parseStatement())
            default:
                throw TemplateError(.syntax, "unexpected \(describe(tok.kind))", line: tok.line)
            }
        }
    }

    mutating func parseStatement() throws -> Statement {
        let line = self.line
        let keyword = try expectName()
        switch keyword {
        case "if": return try parseIf(line: line)
        case "for": return try parseFor(line: line)
        case "set": return try parseSet(line: line)
        case "macro": return try parseMacro(line: line)
        case "filter":
            let filters = try parseFilterChain()
            try expectBlockEnd()
            let (body, _) = try parseBody(until: ["endfilter"])
            try expectBlockEnd()
            return .filterBlock(filters: filters, body: body, line: line)
        case "generation":
            try expectBlockEnd()
            let (body, _) = try parseBody(until: ["endgeneration"])
            try expectBlockEnd()
            return .generation(body, line: line)
        case "break":
            try expectBlockEnd()
            return .breakLoop(line: line)
        case "continue":
            try expectBlockEnd()
            return .continueLoop(line: line)
        case "include", "import", "from", "extends":
            throw TemplateError(.security, "'\(keyword)' is not supported: chat templates cannot load other templates", line: line)
        case "block", "call", "with", "autoescape", "do":
            throw TemplateError(.syntax, "the '\(keyword)' statement is not supported", line: line)
        default:
            throw TemplateError(.syntax, "unknown statement '\(keyword)'", line: line)
        }
    }

    mutating func parseIf(line: Int) throws -> Statement {
        var branches: [(test: Expr, body: [Statement])] = []
        var test = try parseTupleExpression()
        while true {
            try expectBlockEnd()
            let (body, end) = try parseBody(until: ["elif", "else", "endif"])
            branches.append((test, body))
            if end == "elif" {
                test = try parseTupleExpression()
                continue
            }
            if end == "else" {
                try expectBlockEnd()
                let (elseBody, _) = try parseBody(until: ["endif"])
                try expectBlockEnd()
                return .conditional(branches, else: elseBody, line: line)
            }
            try expectBlockEnd()
            return .conditional(branches, else: [], line: line)
        }
    }

    mutating func parseFor(line: Int) throws -> Statement {
        let target = try parseAssignTarget(allowAttribute: false)
        guard skipName("in") else { throw fail("expected 'in' in for loop, found \(describe(current.kind))") }
        let iterable = try parseTupleExpression(withCondition: false)
        var filter: Expr? = nil
        if skipName("if") { filter = try parseExpression() }
        if isName("recursive") { throw fail("recursive loops are not supported") }
        try expectBlockEnd()
        let (body, end) = try parseBody(until: ["else", "endfor"])
        var elseBody: [Statement] = []
        if end == "else" {
            try expectBlockEnd()
            (elseBody, _) = try parseBody(until: ["endfor"])
        }
        try expectBlockEnd()
        return .forLoop(target: target, iterable: iterable, filter: filter, body: body, else: elseBody, line: line)
    }

    mutating func parseSet(line: Int) throws -> Statement {
        let target = try parseAssignTarget(allowAttribute: true)
        if skipOp("=") {
            let value = try parseTupleExpression()
            try expectBlockEnd()
            return .assign(target, value, line: line)
        }
        let filters = try parseFilterChain()
        try expectBlockEnd()
        let (body, _) = try parseBody(until: ["endset"])
        try expectBlockEnd()
        return .assignBlock(target, filters: filters, body: body, line: line)
    }

    mutating func parseFilterChain() throws -> [(name: String, args: [Argument])] {
        var filters: [(name: String, args: [Argument])] = []
        if current.kind == .blockEnd { return filters }
        if !isOp("|") {
            // `{% filter upper %}` has no leading bar.
            let name = try expectName()
            filters.append((name, isOp("(") ? try parseCallArguments() : []))
        }
        while skipOp("|") {
            let name = try expectName()
            filters.append((name, isOp("(") ? try parseCallArguments() : []))
        }
        return filters
    }

    mutating func parseMacro(line: Int) throws -> Statement {
        let name = try expectName()
        try expectOp("(")
        var params: [(name: String, default: Expr?)] = []
        while !isOp(")") {
            if !params.isEmpty { try expectOp(",") }
            if isOp(")") { break }
            let p = try expectName()
            var def: Expr? = nil
            if skipOp("=") { def = try parseExpression() }
            params.append((p, def))
        }
        try expectOp(")")
        try expectBlockEnd()
        let (body, _) = try parseBody(until: ["endmacro"])
        if case .name = current.kind { _ = next() }  // `{% endmacro name %}`
        try expectBlockEnd()
        return .macro(MacroDefinition(name: name, parameters: params, body: body), line: line)
    }

    mutating func parseAssignTarget(allowAttribute: Bool) throws -> Target {
        func one(_ p: inout TemplateParser) throws -> Target {
            if p.skipOp("(") {
                let t = try p.parseAssignTarget(allowAttribute: false)
                try p.expectOp(")")
                return t
            }
            let name = try p.expectName()
            if allowAttribute && p.skipOp(".") {
                let attr = try p.expectName()
                return .attribute(.name(name), attr)
            }
            return .name(name)
        }
        let first = try one(&self)
        guard isOp(",") else { return first }
        var items = [first]
        while skipOp(",") {
            if isName("in") || isOp("=") { break }
            items.append(try one(&self))
        }
        return .tuple(items)
    }

    // MARK: Expressions

    /// An expression that may be an implicit tuple (`a, b`).
    mutating func parseTupleExpression(withCondition: Bool = true) throws -> Expr {
        let first = withCondition ? try parseExpression() : try parseOr()
        guard isOp(",") else { return first }
        var items = [first]
        while skipOp(",") {
            if current.kind == .blockEnd || current.kind == .variableEnd || isOp(")") { break }
            items.append(withCondition ? try parseExpression() : try parseOr())
        }
        return .tuple(items)
    }

    mutating func parseExpression() throws -> Expr {
        try nest()
        defer { depth -= 1 }
        var expr = try parseOr()
        while skipName("if") {
            let test = try parseOr()
            var elseExpr: Expr? = nil
            if skipName("else") { elseExpr = try parseExpression() }
            expr = .conditional(test: test, then: expr, else: elseExpr)
        }
        return expr
    }

    mutating func parseOr() throws -> Expr {
        var lhs = try parseAnd()
        while skipName("or") { lhs = .or(lhs, try parseAnd()) }
        return lhs
    }

    mutating func parseAnd() throws -> Expr {
        var lhs = try parseNot()
        while skipName("and") { lhs = .and(lhs, try parseNot()) }
        return lhs
    }

    mutating func parseNot() throws -> Expr {
        if skipName("not") {
            try nest()
            defer { depth -= 1 }
            return .not(try parseNot())
        }
        return try parseCompare()
    }

    mutating func parseCompare() throws -> Expr {
        let lhs = try parseMath1()
        var ops: [(op: String, rhs: Expr)] = []
        while true {
            if case .op(let o) = current.kind, ["==", "!=", "<", "<=", ">", ">="].contains(o) {
                _ = next()
                ops.append((o, try parseMath1()))
            } else if skipName("in") {
                ops.append(("in", try parseMath1()))
            } else if isName("not"), index + 1 < tokens.count, tokens[index + 1].kind == .name("in") {
                _ = next()
                _ = next()
                ops.append(("notin", try parseMath1()))
            } else {
                break
            }
        }
        return ops.isEmpty ? lhs : .compare(lhs, ops)
    }

    mutating func parseMath1() throws -> Expr {
        var lhs = try parseConcat()
        while case .op(let o) = current.kind, o == "+" || o == "-" {
            _ = next()
            lhs = .binary(o, lhs, try parseConcat())
        }
        return lhs
    }

    mutating func parseConcat() throws -> Expr {
        var lhs = try parseMath2()
        while skipOp("~") { lhs = .binary("~", lhs, try parseMath2()) }
        return lhs
    }

    mutating func parseMath2() throws -> Expr {
        var lhs = try parsePow()
        while case .op(let o) = current.kind, ["*", "/", "//", "%"].contains(o) {
            _ = next()
            lhs = .binary(o, lhs, try parsePow())
        }
        return lhs
    }

    mutating func parsePow() throws -> Expr {
        var lhs = try parseUnary()
        while skipOp("**") { lhs = .binary("**", lhs, try parseUnary()) }
        return lhs
    }

    mutating func parseUnary(withFilter: Bool = true) throws -> Expr {
        try nest()
        defer { depth -= 1 }
        var node: Expr
        if skipOp("-") {
            node = .negate(try parseUnary(withFilter: false))
        } else if skipOp("+") {
            node = .plus(try parseUnary(withFilter: false))
        } else {
            node = try parsePostfix(try parsePrimary())
        }
        if withFilter { node = try parseFilterExpression(node) }
        return node
    }

    mutating func parsePrimary() throws -> Expr {
        let tok = next()
        switch tok.kind {
        case .name(let n):
            switch n {
            case "true", "True": return .constant(.bool(true))
            case "false", "False": return .constant(.bool(false))
            case "none", "None": return .constant(.none)
            default: return .name(n)
            }
        case .string(var s):
            while case .string(let more) = current.kind {
                s += more
                _ = next()
            }
            return .constant(.string(s))
        case .integer(let i): return .constant(.int(i))
        case .float(let d): return .constant(.double(d))
        case .op("("):
            if skipOp(")") { return .tuple([]) }
            let first = try parseExpression()
            if skipOp(")") { return first }
            var items = [first]
            while skipOp(",") {
                if isOp(")") { break }
                items.append(try parseExpression())
            }
            try expectOp(")")
            return .tuple(items)
        case .op("["):
            var items: [Expr] = []
            while !isOp("]") {
                if !items.isEmpty { try expectOp(",") }
                if isOp("]") { break }
                items.append(try parseExpression())
            }
            try expectOp("]")
            return .list(items)
        case .op("{"):
            var items: [(key: Expr, value: Expr)] = []
            while !isOp("}") {
                if !items.isEmpty { try expectOp(",") }
                if isOp("}") { break }
                let k = try parseExpression()
                try expectOp(":")
                items.append((k, try parseExpression()))
            }
            try expectOp("}")
            return .dict(items)
        default:
            throw TemplateError(.syntax, "unexpected \(describe(tok.kind))", line: tok.line)
        }
    }

    mutating func parsePostfix(_ base: Expr) throws -> Expr {
        var node = base
        while true {
            if skipOp(".") {
                let tok = next()
                switch tok.kind {
                case .name(let n): node = .attribute(node, n)
                case .integer(let i): node = .item(node, .constant(.int(i)))
                default: throw TemplateError(.syntax, "expected an attribute name after '.'", line: tok.line)
                }
            } else if skipOp("[") {
                node = try parseSubscript(node)
            } else if isOp("(") {
                node = .call(node, try parseCallArguments())
            } else {
                return node
            }
        }
    }

    mutating func parseSubscript(_ base: Expr) throws -> Expr {
        var parts: [Expr?] = []
        var isSlice = false
        var currentPart: Expr? = nil
        while !isOp("]") {
            if skipOp(":") {
                isSlice = true
                parts.append(currentPart)
                currentPart = nil
                continue
            }
            if currentPart != nil { throw fail("expected ':' or ']' in subscript") }
            currentPart = try parseExpression()
            if isOp(",") { throw fail("tuple subscripts are not supported") }
        }
        try expectOp("]")
        parts.append(currentPart)
        if !isSlice {
            guard let only = parts[0] else { throw fail("empty subscript") }
            return .item(base, only)
        }
        guard parts.count <= 3 else { throw fail("too many ':' in slice") }
        while parts.count < 3 { parts.append(nil) }
        return .slice(base, start: parts[0], stop: parts[1], step: parts[2])
    }

    mutating func parseCallArguments() throws -> [Argument] {
        try expectOp("(")
        var args: [Argument] = []
        while !isOp(")") {
            if !args.isEmpty { try expectOp(",") }
            if isOp(")") { break }
            if isOp("*") || isOp("**") { throw fail("*args and **kwargs in calls are not supported") }
            if case .name(let n) = current.kind, index + 1 < tokens.count, tokens[index + 1].kind == .op("=") {
                _ = next()
                _ = next()
                args.append(Argument(name: n, value: try parseExpression()))
            } else {
                if args.contains(where: { $0.name != nil }) { throw fail("positional argument follows keyword argument") }
                args.append(Argument(name: nil, value: try parseExpression()))
            }
        }
        try expectOp(")")
        return args
    }

    mutating func parseFilterExpression(_ base: Expr) throws -> Expr {
        var node = base
        while true {
            if skipOp("|") {
                var name = try expectName()
                while skipOp(".") { name += "." + (try expectName()) }
                let args = isOp("(") ? try parseCallArguments() : []
                node = .filter(node, name: name, args)
            } else if skipName("is") {
                let negated = skipName("not")
                var name = try expectName()
                while skipOp(".") { name += "." + (try expectName()) }
                var args: [Argument] = []
                if isOp("(") {
                    args = try parseCallArguments()
                } else if startsPrimary() {
                    args = [Argument(name: nil, value: try parsePostfix(try parsePrimary()))]
                }
                node = .test(node, name: name, args, negated: negated)
            } else {
                return node
            }
        }
    }

    func startsPrimary() -> Bool {
        switch current.kind {
        case .name(let n): return !["else", "or", "and", "is", "if", "in", "not"].contains(n)
        case .string, .integer, .float: return true
        case .op(let o): return o == "[" || o == "{"
        default: return false
        }
    }
}
