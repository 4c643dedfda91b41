import Foundation
import FuzzSupport
import Tailor

// The GGUF reader on arbitrary bytes: header and tensor infos (checked against the size), every
// tensor dequantized, then what `tailor` does with a GGUF model: configuration, tokenizer, chat
// template and the model itself.
func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    guard let file = try? GGUFFile(bytes: Array(UnsafeBufferPointer(start: start, count: count)), source: "fuzz.gguf") else { return 0 }
    for info in file.tensors { _ = try? file.floats(info.name) }
    _ = try? GGUFModel.configuration(file)
    if let tokenizer = try? GGUFModel.tokenizer(file) { _ = tokenizer.decode(tokenizer.encode("ab a c")) }
    _ = try? GGUFModel.chatTemplate(file)?.render(messages: [["role": "user", "content": "hi"]])
    _ = try? GGUFModel.load(file)
    return 0
}

runFuzzer { data, size in fuzz(data!, size) }
