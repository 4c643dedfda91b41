/// The syntax tree of a compiled template.
enum Constant: Sendable, Equatable {
    case none, bool(Bool), int(Int), double(Double), string(String)
}

struct Argument: Sendable {
    let name: String?  // nil for positional
    let value: Expr
}

indirect enum Expr: Sendable {
    case constant(Constant)
    case name(String)
    case list([Expr])
    case tuple([Expr])
    case dict([(key: Expr, value: Expr)])
    case attribute(Expr, String)
    case item(Expr, Expr)
    case slice(Expr, start: Expr?, stop: Expr?, step: Expr?)
    case call(Expr, [Argument])
    case filter(Expr, name: String, [Argument])
    case test(Expr, name: String, [Argument], negated: Bool)
    case not(Expr)
    case negate(Expr)
    case plus(Expr)
    case binary(String, Expr, Expr)
    case and(Expr, Expr)
    case or(Expr, Expr)
    case compare(Expr, [(op: String, rhs: Expr)])
    case conditional(test: Expr, then: Expr, else: Expr?)
}

/// An assignment target: `x`, `a, b` or `ns.attr`.
indirect enum Target: Sendable {
    case name(String)
    case tuple([Target])
    case attribute(Expr, String)
}

struct MacroDefinition: Sendable {
    let name: String
    let parameters: [(name: String, default: Expr?)]
    let body: [Statement]
}

indirect enum Statement: Sendable {
    case text(String)
    case output(Expr, line: Int)
    case conditional([(test: Expr, body: [Statement])], else: [Statement], line: Int)
    case forLoop(target: Target, iterable: Expr, filter: Expr?, body: [Statement], else: [Statement], line: Int)
    case assign(Target, Expr, line: Int)
    case assignBlock(Target, filters: [(name: String, args: [Argument])], body: [Statement], line: Int)
    case macro(MacroDefinition, line: Int)
    case filterBlock(filters: [(name: String, args: [Argument])], body: [Statement], line: Int)
    case generation([Statement], line: Int)
    case breakLoop(line: Int)
    case continueLoop(line: Int)
}
