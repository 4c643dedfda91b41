import Foundation
import FuzzSupport
import Tailor

// `tokenizer.json` on arbitrary bytes; a tokenizer that loads then encodes and decodes a fixed text.
func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let data = Data(bytes: start, count: count)
    guard let tokenizer = try? Tokenizer(data: data, source: "fuzz/tokenizer.json") else { return 0 }
    let ids = tokenizer.encode("Hello world! <s> 12 ünï 😀\n\tend", addSpecialTokens: true)
    _ = tokenizer.decode(ids, skipSpecialTokens: false)
    return 0
}

runFuzzer { data, size in fuzz(data!, size) }
