import Foundation
import Testing

@testable import TailorData

private func parse(_ s: String) throws -> JSONValue { try JSONValue(parsing: s) }

private func parseError(_ s: String) -> JSONParseError? {
    do {
        _ = try JSONValue(parsing: s)
        return nil
    } catch let e as JSONParseError {
        return e
    } catch {
        return nil
    }
}

private func parseError(bytes: [UInt8]) -> JSONParseError? {
    do {
        _ = try JSONValue(parsing: Data(bytes))
        return nil
    } catch let e as JSONParseError {
        return e
    } catch {
        return nil
    }
}

@Suite struct JSONParserTests {
    @Test func parsesScalarsAndContainers() throws {
        #expect(try parse("null") == .null)
        #expect(try parse(" true ") == .bool(true))
        #expect(try parse("-0") == .int(0))
        #expect(try parse("-0.0") == .double(-0.0))
        #expect(try parse("12") == .int(12))
        #expect(try parse("1e2") == .double(100))
        #expect(try parse("9223372036854775807") == .int(Int.max))
        #expect(try parse("-9223372036854775808") == .int(Int.min))
        #expect(try parse("9223372036854775808") == .double(9223372036854775808.0))
        #expect(try parse("1e400") == .double(.infinity))
        #expect(try parse(#"[1, "a", {"b": null}]"#) == [1, "a", ["b": nil]])
        #expect(try parse("[]") == .array([]))
        #expect(try parse("{}") == .object([:]))
    }

    @Test func objectsKeepInsertionOrderAndLastDuplicateWins() throws {
        let v = try parse(#"{"z": 1, "a": 2, "m": 3, "a": 4}"#)
        #expect(v.objectValue?.keys == ["z", "a", "m"])
        #expect(v["a"] == .int(4))
        #expect(v.serialized() == #"{"z": 1, "a": 4, "m": 3}"#)
        // Large objects switch to an index; order must survive.
        let keys = (0..<40).map { "k\(39 - $0)" }
        let text = "{" + keys.map { "\"\($0)\": 1" }.joined(separator: ", ") + "}"
        #expect(try parse(text).objectValue?.keys == keys)
    }

    @Test func decodesEscapesAndSurrogates() throws {
        #expect(try parse(#""a\"b\\c\/d\b\f\n\r\t""#) == .string("a\"b\\c/d\u{8}\u{c}\n\r\t"))
        #expect(try parse(#""\u00e9\u65e5""#) == .string("é日"))
        #expect(try parse(#""\ud83e\udd17""#) == .string("🤗"))
        #expect(try parse(#""\ud800x""#) == .string("\u{FFFD}x"))
        #expect(try parse(#""\udc00""#) == .string("\u{FFFD}"))
        #expect(try parse(#""\ud800\u0041""#) == .string("\u{FFFD}A"))
        #expect(try parse("\"café 🤗\"") == .string("café 🤗"))
    }

    @Test func reportsPreciseErrorPositions() {
        let e = parseError(#"{"a": 1 "b": 2}"#)
        #expect(e?.message == "expected ',' or '}', found '\"'")
        #expect(e?.line == 1 && e?.column == 9)
        #expect(e?.description == "expected ',' or '}', found '\"' at line 1, column 9")
        let e2 = parseError("[1,\n 2,\n  x]")
        #expect(e2?.line == 3 && e2?.column == 3)
        #expect(e2?.message == "expected a value, found 'x'")
        let e3 = parseError("{\"é\": 1,}")
        #expect(e3?.message == "expected '\"' to start a key, found '}'")
        #expect(e3?.column == 9)  // counted in characters, not bytes
        #expect(parseError("[1, 2")?.message == "expected ',' or ']' but reached the end of the input")
        #expect(parseError("")?.message == "expected a value but reached the end of the input")
        #expect(parseError("{\"a\" 1}")?.message == "expected ':' after an object key, found '1'")
    }

    @Test func rejectsInvalidDocuments() {
        let bad = ["01", "1.", ".5", "-", "1e", "+1", "[1,]", "{\"a\":1,}", "tru", "nul", "NaN", "Infinity",
                   "[1] x", "\"abc", "\"\\x\"", "\"\\u12G4\"", "\"a\nb\"", "\"\t\"", "{a: 1}", "'a'", "[1 2]"]
        for text in bad {
            #expect(parseError(text) != nil, "should reject \(text)")
        }
        #expect(parseError("[1] x")?.message == "unexpected trailing characters after the JSON value")
        #expect(parseError("\"a\nb\"")?.message == "invalid control character U+000A in string")
    }

    @Test func rejectsInvalidUTF8AndNUL() {
        #expect(parseError(bytes: [0x22, 0xC3, 0x28, 0x22])?.message == "invalid UTF-8 byte 0xC3")
        #expect(parseError(bytes: [0x22, 0xED, 0xA0, 0x80, 0x22]) != nil)  // encoded surrogate
        #expect(parseError(bytes: [0x22, 0xC0, 0xAF, 0x22]) != nil)  // overlong
        #expect(parseError(bytes: [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22]) != nil)  // > U+10FFFF
        #expect(parseError(bytes: [0x22, 0x5C, 0x6E, 0xFF, 0x22]) != nil)  // after an escape
        #expect(parseError(bytes: [0x31, 0x00]) != nil)
        #expect(parseError(bytes: [0x22, 0x00, 0x22]) != nil)
        #expect(parseError(bytes: [0xEF, 0xBB, 0xBF, 0x31])?.message == "unexpected UTF-8 byte order mark")
    }

    @Test func limitsNestingDepth() {
        let deep = String(repeating: "[", count: 100_000)
        #expect(parseError(deep)?.message.hasPrefix("nesting deeper than") == true)
        let ok = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect(parseError(ok) == nil)
    }

    @Test func accessors() throws {
        let v = try parse(#"{"s": "x", "i": 3, "d": 2.0, "b": false, "a": [1], "n": null}"#)
        #expect(v["s"]?.stringValue == "x")
        #expect(v["i"]?.intValue == 3)
        #expect(v["d"]?.intValue == 2)
        #expect(v["d"]?.doubleValue == 2.0)
        #expect(v["b"]?.boolValue == false)
        #expect(v["a"]?[0] == .int(1))
        #expect(v["a"]?[5] == nil)
        #expect(v["n"]?.isNull == true)
        #expect(v["missing"] == nil)
        #expect(JSONValue.object(["a": 1, "b": 2]) == JSONValue.object(["b": 2, "a": 1]))
        #expect(Set([JSONValue.object(["a": 1, "b": 2]), JSONValue.object(["b": 2, "a": 1])]).count == 1)
    }
}

@Suite struct JSONSerializerTests {
    struct Fixture: Decodable {
        struct Case: Decodable {
            let input, `default`, no_ascii, indent2, indent0_sorted, compact: String
        }
        let cases: [Case]
        let float_reprs: [String]
    }

    static func fixture() throws -> Fixture {
        let url = fixturesRoot.appendingPathComponent("templates/json_serialization.json")
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    @Test func matchesPythonJSONDumps() throws {
        let fixture = try Self.fixture()
        #expect(fixture.cases.count > 10)
        for c in fixture.cases {
            let v = try parse(c.input)
            #expect(v.serialized() == c.default)
            #expect(v.serialized(options: .init(ensureASCII: false)) == c.no_ascii)
            #expect(v.serialized(options: .init(ensureASCII: false, indent: 2)) == c.indent2)
            #expect(v.serialized(options: .init(indent: 0, sortKeys: true)) == c.indent0_sorted)
            #expect(v.serialized(options: .init(separators: (",", ":"))) == c.compact)
        }
    }

    @Test func floatsMatchPythonRepr() throws {
        let fixture = try Self.fixture()
        #expect(fixture.float_reprs.count > 200)
        for r in fixture.float_reprs {
            #expect(try parse(r).serialized() == r, "\(r)")
        }
        #expect(JSONValue.double(1.0).serialized() == "1.0")
        #expect(JSONValue.double(1e-5).serialized() == "1e-05")
        #expect(JSONValue.double(.nan).serialized() == "NaN")
        #expect(JSONValue.double(-.infinity).serialized() == "-Infinity")
    }

    @Test func escapes() {
        #expect(JSONValue.string("\u{7f}é\u{1F917}").serialized() == #""\u007f\u00e9\ud83e\udd17""#)
        #expect(JSONValue.string("\u{7f}é\u{1F917}").serialized(options: .init(ensureASCII: false)) == "\"\u{7f}é\u{1F917}\"")
        #expect(JSONValue.string("\u{0}\u{1f}").serialized(options: .init(ensureASCII: false)) == #""\u0000\u001f""#)
    }
}

@Suite struct JSONPerformanceTests {
    /// A JSONL-like workload: many small chat records, parsed line by line.
    @Test func parsesChatRecordsQuickly() throws {
        let line = #"{"messages": [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "What is the capital of France? Answer in one word, please \u00e9\u00e8."}, {"role": "assistant", "content": "Paris. \"Quoted\" text with a newline\nand unicode café 日本語 🤗", "score": 0.125, "id": 1234567}]}"#
        let bytes = Array(line.utf8)
        let iterations = 20_000
        let clock = ContinuousClock()
        var count = 0
        let elapsed = try clock.measure {
            try bytes.withUnsafeBytes { raw in
                for _ in 0..<iterations {
                    let v = try JSONValue(parsing: raw)
                    count += v["messages"]?.arrayValue?.count ?? 0
                }
            }
        }
        #expect(count == iterations * 3)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        let mbPerSecond = Double(bytes.count * iterations) / seconds / 1e6
        print("JSON parse throughput: \(String(format: "%.1f", mbPerSecond)) MB/s")
        // Debug builds are slow; only a sanity floor here.
        #expect(mbPerSecond > 1)
    }
}
