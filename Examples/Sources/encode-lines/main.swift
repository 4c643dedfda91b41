// Reads lines of text from stdin and prints, per line, Tailor's token ids as a JSON array
// (`addSpecialTokens: false`). Used by check_default_tokenizer.py to compare with Python `tokenizers`.
//
//   swift run -c release encode-lines ../Datasets/default-model/tokenizer.json < lines.txt
import Foundation
import Tailor

guard CommandLine.arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: encode-lines TOKENIZER_JSON < lines\n".utf8))
    exit(2)
}
let tokenizer = try Tokenizer(contentsOf: URL(fileURLWithPath: CommandLine.arguments[1]))
while let line = readLine(strippingNewline: true) {
    // Lines are JSON strings so that they can hold newlines and special tokens.
    let text = try JSONValue(parsing: line).stringValue ?? ""
    let ids = tokenizer.encode(text, addSpecialTokens: false)
    print("[" + ids.map(String.init).joined(separator: ",") + "]\t" + JSONValue.string(tokenizer.decode(ids)).serialized())
}
