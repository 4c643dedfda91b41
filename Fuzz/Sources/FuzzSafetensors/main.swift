import Foundation
import FuzzSupport
import Tailor

// The safetensors reader on arbitrary bytes: open (header and offsets checked against the file
// size), then read every tensor, as `tailor score`/`inspect` would.
let path = scratchFile("safetensors")

func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let data = Data(bytes: start, count: count)
    guard (try? data.write(to: path)) != nil else { return 0 }
    guard let file = try? SafetensorsFile(url: path) else { return 0 }
    for name in file.entries.keys.sorted() { _ = try? file.tensor(name) }
    return 0
}

runFuzzer { data, size in fuzz(data!, size) }
