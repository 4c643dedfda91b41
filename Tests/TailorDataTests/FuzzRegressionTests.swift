import Foundation
import Testing

@testable import TailorData

/// One test per finding of the hostile-input work (Fuzz/ and hand-written probes beside it):
/// each input used to crash, hang or over-allocate and must now fail cleanly.
@Suite struct FuzzRegressionTests {
    static func renderError(_ source: String) -> TemplateError? {
        do {
            _ = try ChatTemplate(source: source).render(messages: [["role": "user", "content": "a\nb\nc"]])
            return nil
        } catch let e as TemplateError {
            return e
        } catch {
            return nil
        }
    }

    /// `str.zfill(width)` allocated `width` bytes before any limit check (4 GB from a 30-byte template).
    @Test func zfillWidthIsBounded() throws {
        #expect(Self.renderError("{{ 'x'.zfill(4000000000) }}")?.kind == .limitExceeded)
        #expect(Self.renderError("{{ '-5'.zfill(1099511627776) }}")?.kind == .limitExceeded)
        #expect(try ChatTemplate(source: "{{ '-5'.zfill(4) }}").render(messages: []).text == "-005")
    }

    /// `indent(width)` built the indentation string (and one copy per line) before any limit check.
    @Test func indentWidthIsBounded() throws {
        #expect(Self.renderError("{{ 'a\\nb' | indent(4000000000) }}")?.kind == .limitExceeded)
        // Each piece under the limit, their product over it: 3 lines × 20 MiB > 32 MiB.
        #expect(Self.renderError("{{ messages[0].content | indent(20000000, true) }}")?.kind == .limitExceeded)
        #expect(try ChatTemplate(source: "{{ 'a\\nb' | indent(2) }}").render(messages: []).text == "a\n  b")
    }
}
