import Foundation

final class Scope {
    var vars: [String: Value] = [:]
    let parent: Scope?
    init(parent: Scope?) { self.parent = parent }

    func lookup(_ name: String) -> Value? {
        var s: Scope? = self
        while let scope = s {
            if let v = scope.vars[name] { return v }
            s = scope.parent
        }
        return nil
    }
}

enum ControlFlow { case normal, breakLoop, continueLoop }

/// Executes a parsed template against a context. One instance per render.
final class Interpreter {
    let limits: RenderLimits
    let globals: Scope
    var buffers: [String] = [""]
    var outputBytes = 0
    var steps = 0
    var callDepth = 0
    var line = 0
    /// (start, end) in UTF-8 bytes and Unicode scalars of the top-level output.
    var generationRanges: [(bytes: Range<Int>, scalars: Range<Int>)] = []
    var topLevelScalars = 0

    init(context: [String: Value], limits: RenderLimits) {
        self.limits = limits
        let builtins = Scope(parent: nil)
        for name in ["range", "namespace", "dict", "raise_exception", "strftime_now"] {
            builtins.vars[name] = .callable(.global(name))
        }
        globals = Scope(parent: builtins)
        globals.vars = context
    }

    func fail(_ message: String) -> TemplateError { TemplateError(.runtime, message, line: line) }

    func tick() throws {
        steps += 1
        if steps > limits.maxSteps {
            throw TemplateError(.limitExceeded, "template exceeded the step budget of \(limits.maxSteps)", line: line)
        }
    }

    func write(_ s: String) throws {
        if s.isEmpty { return }
        outputBytes += s.utf8.count
        if outputBytes > limits.maxOutputBytes {
            throw TemplateError(.limitExceeded, "template output exceeded \(limits.maxOutputBytes) bytes", line: line)
        }
        if buffers.count == 1 { topLevelScalars += s.unicodeScalars.count }
        buffers[buffers.count - 1] += s
    }

    /// Runs `body` into a fresh buffer and returns what it wrote (macros, block sets, filter blocks).
    func capture(_ body: () throws -> Void) throws -> String {
        buffers.append("")
        let before = outputBytes
        defer { outputBytes = before }  // counted again when the captured text is written
        do {
            try body()
        } catch {
            buffers.removeLast()
            throw error
        }
        return buffers.removeLast()
    }

    // MARK: Statements

    func run(_ body: [Statement]) throws -> String {
        _ = try execute(body, scope: globals)
        return buffers[0]
    }

    func execute(_ body: [Statement], scope: Scope) throws -> ControlFlow {
        for statement in body {
            let flow = try execute(statement, scope: scope)
            if flow != .normal { return flow }
        }
        return .normal
    }

    func execute(_ statement: Statement, scope: Scope) throws -> ControlFlow {
        try tick()
        switch statement {
        case .text(let s):
            try write(s)
        case .output(let e, let l):
            line = l
            try write(try eval(e, scope).pythonString)
        case .conditional(let branches, let elseBody, let l):
            line = l
            for branch in branches where try eval(branch.test, scope).truthy {
                return try execute(branch.body, scope: scope)
            }
            return try execute(elseBody, scope: scope)
        case .forLoop(let target, let iterable, let filter, let body, let elseBody, let l):
            line = l
            try executeFor(target: target, iterable: iterable, filter: filter, body: body, elseBody: elseBody, scope: scope)
        case .assign(let target, let e, let l):
            line = l
            try assign(target, try eval(e, scope), scope: scope)
        case .assignBlock(let target, let filters, let body, let l):
            line = l
            var value = Value.string(try capture { _ = try execute(body, scope: scope) })
            for f in filters { value = try applyFilter(f.name, value, f.args, scope) }
            try assign(target, value, scope: scope)
        case .macro(let def, _):
            scope.vars[def.name] = .callable(.macro(MacroBox(definition: def, scope: scope)))
        case .filterBlock(let filters, let body, let l):
            line = l
            var value = Value.string(try capture { _ = try execute(body, scope: scope) })
            for f in filters { value = try applyFilter(f.name, value, f.args, scope) }
            try write(value.pythonString)
        case .generation(let body, let l):
            line = l
            // Like transformers' AssistantTracker: the range starts at the length of the top-level output so far.
            let content = try capture { _ = try execute(body, scope: scope) }
            let startBytes = buffers[0].utf8.count, startScalars = topLevelScalars
            try write(content)
            generationRanges.append((startBytes..<startBytes + content.utf8.count,
                                     startScalars..<startScalars + content.unicodeScalars.count))
        case .breakLoop: return .breakLoop
        case .continueLoop: return .continueLoop
        }
        return .normal
    }

    func assign(_ target: Target, _ value: Value, scope: Scope) throws {
        switch target {
        case .name(let n):
            scope.vars[n] = value
        case .tuple(let targets):
            let items = try iterate(value)
            guard items.count == targets.count else {
                throw fail(items.count > targets.count ? "too many values to unpack (expected \(targets.count))"
                           : "not enough values to unpack (expected \(targets.count), got \(items.count))")
            }
            for (t, v) in zip(targets, items) { try assign(t, v, scope: scope) }
        case .attribute(let objectExpr, let attr):
            guard case .namespace(let ns) = try eval(objectExpr, scope) else {
                throw fail("cannot assign attribute on non-namespace object")
            }
            if attr.hasPrefix("_") {
                throw TemplateError(.security, "Chat templates cannot store underscore-prefixed attributes on a namespace, but got '\(attr)'.", line: line)
            }
            ns.attributes.set(attr, value)
        }
    }

    func executeFor(target: Target, iterable: Expr, filter: Expr?, body: [Statement], elseBody: [Statement], scope: Scope) throws {
        var items = try iterate(try eval(iterable, scope))
        let loopScope = Scope(parent: scope)
        if let filter {
            items = try items.filter { item in
                try assign(target, item, scope: loopScope)
                return try eval(filter, loopScope).truthy
            }
        }
        if items.isEmpty {
            _ = try execute(elseBody, scope: scope)
            return
        }
        let n = items.count
        for (i, item) in items.enumerated() {
            var loop = OrderedStore<Value>(minimumCapacity: 12)
            loop.set("index0", .int(i))
            loop.set("index", .int(i + 1))
            loop.set("revindex0", .int(n - i - 1))
            loop.set("revindex", .int(n - i))
            loop.set("first", .bool(i == 0))
            loop.set("last", .bool(i == n - 1))
            loop.set("length", .int(n))
            loop.set("depth", .int(1))
            loop.set("depth0", .int(0))
            loop.set("previtem", i > 0 ? items[i - 1] : .undefined("'loop.previtem' is undefined"))
            loop.set("nextitem", i + 1 < n ? items[i + 1] : .undefined("'loop.nextitem' is undefined"))
            loop.set("cycle", .callable(.cycle(index0: i)))
            loopScope.vars["loop"] = .dict(loop)
            try assign(target, item, scope: loopScope)
            if try execute(body, scope: loopScope) == .breakLoop { break }
        }
    }

    /// Python iteration: lists/tuples by element, dicts by key, strings by character; undefined is empty.
    func iterate(_ value: Value) throws -> [Value] {
        switch value {
        case .list(let a), .tuple(let a): return a
        case .dict(let d): return d.keys.map(Value.string)
        case .string(let s): return s.unicodeScalars.map { .string(String($0)) }
        case .undefined: return []
        case .namespace(let ns): return ns.attributes.keys.map(Value.string)
        default: throw fail("'\(value.typeName)' object is not iterable")
        }
    }

    // MARK: Macros

    func callMacro(_ box: MacroBox, _ args: [Value], _ kwargs: [(String, Value)]) throws -> Value {
        let def = box.definition
        callDepth += 1
        defer { callDepth -= 1 }
        if callDepth > limits.maxCallDepth {
            throw TemplateError(.limitExceeded, "macro recursion deeper than \(limits.maxCallDepth) calls", line: line)
        }
        guard args.count <= def.parameters.count else {
            throw fail("macro '\(def.name)' takes not more than \(def.parameters.count) argument(s)")
        }
        let scope = Scope(parent: box.scope)
        for (i, p) in def.parameters.enumerated() {
            if i < args.count {
                scope.vars[p.name] = args[i]
            } else if let kw = kwargs.first(where: { $0.0 == p.name }) {
                scope.vars[p.name] = kw.1
            } else if let d = p.default {
                scope.vars[p.name] = try eval(d, scope)
            } else {
                scope.vars[p.name] = .undefined("'\(p.name)' is undefined")
            }
        }
        if let bad = kwargs.first(where: { kw in !def.parameters.contains { $0.name == kw.0 } }) {
            throw fail("macro '\(def.name)' takes no keyword argument '\(bad.0)'")
        }
        let savedLine = line
        let text = try capture { _ = try execute(def.body, scope: scope) }
        line = savedLine
        return .string(text)
    }
}

/// Resource limits that keep a hostile template from hanging or exhausting memory.
public struct RenderLimits: Sendable, Equatable {
    /// Maximum UTF-8 size of the rendered text (and of any single string built while rendering).
    public var maxOutputBytes: Int
    /// Maximum number of executed statements, loop iterations and expression steps.
    public var maxSteps: Int
    /// Maximum nesting of macro calls.
    public var maxCallDepth: Int
    /// Maximum length of a list made by `range()` or `*`.
    public var maxSequenceLength: Int

    public init(maxOutputBytes: Int = 32 << 20, maxSteps: Int = 5_000_000, maxCallDepth: Int = 100,
                maxSequenceLength: Int = 1_000_000) {
        self.maxOutputBytes = maxOutputBytes
        self.maxSteps = maxSteps
        self.maxCallDepth = maxCallDepth
        self.maxSequenceLength = maxSequenceLength
    }
}
