import Foundation
import Testing

@testable import TailorData

/// Loads a fixture with Tailor's own parser (key order matters for `tojson`).
func loadTemplateFixture(_ name: String) throws -> JSONValue {
    let url = fixturesRoot.appendingPathComponent("templates").appendingPathComponent(name)
    return try JSONValue(parsing: Data(contentsOf: url))
}

struct RenderCase: CustomTestStringConvertible, Sendable {
    let template: String
    let source: String
    let bos: String?
    let eos: String?
    let extra: [String: JSONValue]
    let fixture: JSONValue
    var testDescription: String { "\(template): \(fixture["name"]?.stringValue ?? "?")" }

    static func all() throws -> [RenderCase] {
        let root = try loadTemplateFixture("expected_renders.json")
        var cases: [RenderCase] = []
        for (file, spec) in root["templates"]!.objectValue! {
            let source = try String(contentsOf: fixturesRoot.appendingPathComponent("templates/\(file)"), encoding: .utf8)
            var extra: [String: JSONValue] = [:]
            for (k, v) in spec["extra"]?.objectValue ?? [:] { extra[k] = v }
            for c in spec["cases"]!.arrayValue! {
                cases.append(RenderCase(template: file, source: source, bos: spec["bos_token"]?.stringValue,
                                        eos: spec["eos_token"]?.stringValue, extra: extra, fixture: c))
            }
        }
        return cases
    }
}

@Suite struct TemplateFixtureTests {
    @Test func fixturesCoverEveryTemplate() throws {
        let cases = try RenderCase.all()
        #expect(Set(cases.map(\.template)).count == 8)
        #expect(cases.count > 90)
    }

    @Test(arguments: try RenderCase.all())
    func rendersByteIdenticalToTransformers(_ c: RenderCase) throws {
        let template = try ChatTemplate(source: c.source)
        let f = c.fixture
        let render = {
            try template.render(messages: f["messages"]!.arrayValue!, tools: f["tools"]?.arrayValue,
                                addGenerationPrompt: f["add_generation_prompt"]!.boolValue!,
                                bosToken: c.bos, eosToken: c.eos, extra: c.extra)
        }
        if let expected = f["expected"]?.stringValue {
            let rendered = try render()
            #expect(rendered.text == expected)
            #expect(Array(rendered.text.utf8) == Array(expected.utf8))
        } else {
            let message = f["error"]!.stringValue!
            let error = #expect(throws: TemplateError.self) { try render() }
            #expect(error?.kind == .raised)
            #expect(error?.message == message)
            #expect(error?.description == message)
        }
    }

    @Test func generationRangesMatchTransformers() throws {
        let root = try loadTemplateFixture("expected_generation.json")
        var checked = 0
        for (_, spec) in root["templates"]!.objectValue! {
            let template = try ChatTemplate(source: spec["source"]!.stringValue!)
            for c in spec["cases"]!.arrayValue! {
                let rendered = try template.render(messages: c["messages"]!.arrayValue!,
                                                   addGenerationPrompt: c["add_generation_prompt"]!.boolValue!,
                                                   bosToken: spec["bos_token"]?.stringValue, eosToken: spec["eos_token"]?.stringValue)
                #expect(rendered.text == c["expected"]!.stringValue!)
                let expected = c["generation_ranges"]!.arrayValue!.map { $0[0]!.intValue!..<$0[1]!.intValue! }
                #expect(rendered.generationScalarRanges == expected)
                // Byte ranges and String.Index ranges select the same text as the scalar ranges.
                let scalars = Array(rendered.text.unicodeScalars)
                for (i, r) in rendered.generationRanges.enumerated() {
                    let viaIndex = String(rendered.text[r])
                    let viaScalars = String(String.UnicodeScalarView(scalars[expected[i]]))
                    let viaBytes = String(decoding: Array(rendered.text.utf8)[rendered.generationByteRanges[i]], as: UTF8.self)
                    #expect(viaIndex == viaScalars && viaBytes == viaScalars)
                }
                checked += 1
            }
        }
        #expect(checked == 8)
    }
}

struct FeatureCase: CustomTestStringConvertible, Sendable {
    let fixture: JSONValue
    var testDescription: String { String(fixture["source"]!.stringValue!.prefix(60)) }

    static func all() throws -> [FeatureCase] {
        try loadTemplateFixture("expected_features.json")["cases"]!.arrayValue!.map(FeatureCase.init)
    }
}

@Suite struct TemplateFeatureFixtureTests {
    @Test(arguments: try FeatureCase.all())
    func matchesJinja2(_ c: FeatureCase) throws {
        let source = c.fixture["source"]!.stringValue!
        var context: [String: JSONValue] = [:]
        for (k, v) in c.fixture["context"]!.objectValue! { context[k] = v }
        if let expected = c.fixture["expected"]?.stringValue {
            let rendered = try ChatTemplate(source: source).render(context: context)
            #expect(rendered.text == expected)
        } else {
            let message = c.fixture["error"]!.stringValue!
            do {
                _ = try ChatTemplate(source: source).render(context: context)
                Issue.record("expected an error: \(message)")
            } catch let e as TemplateError {
                #expect(e.message == message)
            }
        }
    }
}

@Suite struct TemplatePerformanceTests {
    @Test func rendersManyConversationsQuickly() throws {
        let source = try String(contentsOf: fixturesRoot.appendingPathComponent("templates/qwen2.5-instruct.jinja"), encoding: .utf8)
        let template = try ChatTemplate(source: source)
        let messages: [JSONValue] = [["role": "system", "content": "Be brief."], ["role": "user", "content": "Hi there, how are you?"],
                                     ["role": "assistant", "content": "Fine, thanks."], ["role": "user", "content": "Bye"]]
        let n = 2000
        let clock = ContinuousClock()
        var bytes = 0
        let elapsed = try clock.measure {
            for _ in 0..<n { bytes += try template.render(messages: messages, addGenerationPrompt: true).text.utf8.count }
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        print("Qwen2.5 template: \(Int(Double(n) / seconds)) renders/s")
        #expect(bytes > 0)
    }
}
