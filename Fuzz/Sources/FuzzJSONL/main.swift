import Foundation
import FuzzSupport
import Tailor

// The JSONL dataset loader on arbitrary file contents, with a small real tokenizer and chat
// template (Tests/Fixtures/datasets/tiny), in every format and with skipping on and off.
let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../Tests/Fixtures/datasets/tiny").standardized
let encoder = try! DatasetEncoder(modelDirectory: fixture)
let path = scratchFile("jsonl")

func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    guard count > 0 else { return 0 }
    // The first byte picks the options; the rest is the file.
    let selector = start[0]
    let data = Data(bytes: start + 1, count: count - 1)
    guard (try? data.write(to: path)) != nil else { return 0 }
    var options = DatasetOptions()
    options.skipBad = selector & 1 != 0
    options.maxLength = selector & 2 != 0 ? 16 : nil
    let formats: [DatasetFormat?] = [nil] + DatasetFormat.allCases
    options.format = formats[Int(selector >> 2) % formats.count]
    _ = try? encoder.load(path, options: options)
    return 0
}

runFuzzer { data, size in fuzz(data!, size) }
