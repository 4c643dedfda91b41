import Foundation
import Testing

@testable import TailorData

private func render(_ source: String, _ context: [String: JSONValue] = [:], limits: RenderLimits = RenderLimits()) throws -> String {
    try ChatTemplate(source: source).render(context: context, limits: limits).text
}

private func error(_ source: String, _ context: [String: JSONValue] = [:], limits: RenderLimits = RenderLimits()) -> TemplateError? {
    do {
        _ = try render(source, context, limits: limits)
        return nil
    } catch let e as TemplateError {
        return e
    } catch {
        return nil
    }
}

@Suite struct TemplateUnitTests {
    @Test func whitespaceControlAndBlockTrimming() throws {
        #expect(try render("{% if true %}\n  yes\n{% endif %}\n") == "  yes\n")
        #expect(try render("a  {%- if true -%}  b  {%- endif -%}  c") == "abc")
        #expect(try render("x\n    {% set y = 1 %}\nz") == "x\nz")
        #expect(try render("{{ 'a' }}\n{{ 'b' }}") == "a\nb")  // no trim after }}
        #expect(try render("x {# c #} y") == "x  y")
    }

    @Test func loopsMacrosNamespaces() throws {
        #expect(try render("{% for x in [1, 2, 3] %}{{ loop.revindex }}{% if not loop.last %},{% endif %}{% endfor %}") == "3,2,1")
        #expect(try render("{% macro m(a, b=2) %}{{ a * b }}{% endmacro %}{{ m(3) }}/{{ m(3, b=4) }}") == "6/12")
        #expect(try render("{% set ns = namespace(n=0) %}{% for i in range(4) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}") == "6")
        #expect(try render("{{ [1, 2, 3, 4][::-1][1:3] }}") == "[3, 2]")
    }

    @Test func raiseExceptionThrowsTheMessage() {
        let e = error("{{ raise_exception('Only user and assistant roles are supported!') }}")
        #expect(e?.kind == .raised)
        #expect(e?.description == "Only user and assistant roles are supported!")
    }

    @Test func strftimeNowFormatsToday() throws {
        let year = Calendar.current.component(.year, from: Date())
        #expect(try render("{{ strftime_now('%Y') }}") == String(year))
        #expect(try render("{{ strftime_now('%d %b %Y') }}").count == 11)
    }

    @Test func undefinedBehavesLikeJinja2() throws {
        #expect(try render("[{{ nope }}]{{ nope is defined }}{{ nope | default('d') }}") == "[]Falsed")
        #expect(error("{{ nope.attr }}")?.message == "'nope' is undefined")
        #expect(error("{{ d.a.b }}", ["d": [:]])?.message == "'dict object' has no attribute 'a'")
        #expect(try render("{{ d.a is defined }}", ["d": [:]]) == "False")
    }

    @Test func syntaxErrorsCarryLines() {
        let e = error("line one\n{% if x %}\nno end")
        #expect(e?.kind == .syntax)
        #expect(e?.message.contains("endif") == true)
        #expect(error("{{ 1 + }}")?.kind == .syntax)
        #expect(error("{% for %}")?.line == 1)
        #expect(error("{{ 'unterminated }}")?.kind == .syntax)
        #expect(error("{% unknowntag %}")?.message == "unknown statement 'unknowntag'")
    }

    @Test func noFileOrSystemAccess() throws {
        for source in ["{% include 'x.jinja' %}", "{% import 'm' as m %}", "{% extends 'base' %}", "{% from 'a' import b %}"] {
            #expect(error(source)?.kind == .security, "\(source)")
        }
        #expect(error("{% set l = [] %}{{ l.append(1) }}")?.kind == .security)
        #expect(error("{% set ns = namespace() %}{% set ns._x = 1 %}")?.kind == .security)
        #expect(try render("{{ ''.__class__ }}|{{ cycler }}|{{ self }}") == "||")
    }

    @Test func hostileTemplatesFailCleanly() {
        // Unbounded recursion.
        let recursion = error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}")
        #expect(recursion?.kind == .limitExceeded)
        // Huge output through loops.
        let limits = RenderLimits(maxOutputBytes: 1 << 20)
        #expect(error("{% for i in range(100000) %}{{ 'xxxxxxxxxxxxxxxxxxxxxxxx' }}{% endfor %}", limits: limits)?.kind == .limitExceeded)
        // Huge strings and lists in one step.
        #expect(error("{{ 'x' * 1000000000000 }}")?.kind == .limitExceeded)
        #expect(error("{{ ([1] * 100000000) | length }}")?.kind == .limitExceeded)
        #expect(error("{{ range(1000000000000) | length }}")?.kind == .limitExceeded)
        // Exponential string doubling.
        #expect(error("{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}")?.kind == .limitExceeded)
        // Long-running loops hit the step budget.
        #expect(error("{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(10) %}{% endfor %}{% endfor %}{% endfor %}",
                      limits: RenderLimits(maxSteps: 100_000))?.kind == .limitExceeded)
        // Deep nesting in the source is a compile error, not a stack overflow.
        #expect(error("{{ " + String(repeating: "(", count: 10_000) + "1" + String(repeating: ")", count: 10_000) + " }}")?.kind == .limitExceeded)
        #expect(error(String(repeating: "{% if true %}", count: 5000))?.kind == .limitExceeded)
        #expect(error("{{ " + String(repeating: "not ", count: 10_000) + "x }}")?.kind == .limitExceeded)
        #expect(error("{{ " + String(repeating: "-", count: 10_000) + "1 }}")?.kind == .limitExceeded)
    }

    @Test func renderAPIVariables() throws {
        let t = try ChatTemplate(source: "{{ bos_token }}{% for m in messages %}{{ m.role }}:{{ m.content }};{% endfor %}{{ tools | length if tools else 'none' }}{% if add_generation_prompt %}>{% endif %}{{ eos_token }}{{ extra_var }}")
        let r = try t.render(messages: [["role": "user", "content": "hi"]], tools: nil, addGenerationPrompt: true,
                             bosToken: "<s>", eosToken: "</s>", extra: ["extra_var": "!"])
        #expect(r.text == "<s>user:hi;none></s>!")
        #expect(r.generationByteRanges.isEmpty)
    }
}

@Suite struct ChatTemplateLoadingTests {
    func folder(_ files: [String: String]) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tailor-template-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for (name, text) in files { try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        return dir
    }

    @Test func prefersChatTemplateJinja() throws {
        let dir = try folder(["chat_template.jinja": "A", "tokenizer_config.json": #"{"chat_template": "B"}"#])
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try ChatTemplate.load(modelDirectory: dir)?.source == "A")
    }

    @Test func readsStringAndListForms() throws {
        let a = try folder(["tokenizer_config.json": #"{"chat_template": "B"}"#])
        let b = try folder(["tokenizer_config.json": #"{"chat_template": [{"name": "default", "template": "D"}, {"name": "tool_use", "template": "T"}]}"#])
        let c = try folder(["tokenizer_config.json": #"{"eos_token": "x"}"#])
        let d = try folder([:])
        defer { for u in [a, b, c, d] { try? FileManager.default.removeItem(at: u) } }
        #expect(try ChatTemplate.load(modelDirectory: a)?.source == "B")
        #expect(try ChatTemplate.load(modelDirectory: b)?.source == "D")
        #expect(try ChatTemplate.load(modelDirectory: b, name: "tool_use")?.source == "T")
        #expect(throws: ChatTemplate.LoadError.self) { try ChatTemplate.load(modelDirectory: b, name: "rag") }
        #expect(try ChatTemplate.load(modelDirectory: c) == nil)
        #expect(try ChatTemplate.load(modelDirectory: d) == nil)
    }

    @Test func malformedFilesNameTheFile() throws {
        let a = try folder(["tokenizer_config.json": #"{"chat_template": "B",}"#])
        let b = try folder(["chat_template.jinja": "{% if %}"])
        let c = try folder(["tokenizer_config.json": #"{"chat_template": 3}"#])
        defer { for u in [a, b, c] { try? FileManager.default.removeItem(at: u) } }
        for (dir, file) in [(a, "tokenizer_config.json"), (b, "chat_template.jinja"), (c, "tokenizer_config.json")] {
            do {
                _ = try ChatTemplate.load(modelDirectory: dir)
                Issue.record("expected an error for \(file)")
            } catch let e as ChatTemplate.LoadError {
                #expect(e.file.lastPathComponent == file)
                #expect(e.description.contains(file))
            }
        }
    }
}
