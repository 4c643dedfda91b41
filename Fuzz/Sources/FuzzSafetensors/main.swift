import Foundation
import FuzzDriver
import Tailor

// The safetensors reader on arbitrary bytes: open (header and offsets checked against the file
// size), then read every tensor, as `tailor score`/`inspect` would.
let path = scratch("safetensors")

func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let data = Data(bytes: start, count: count)
    guard (try? data.write(to: path)) != nil else { return 0 }
    guard let file = try? SafetensorsFile(url: path) else { return 0 }
    for name in file.entries.keys.sorted() { _ = try? file.tensor(name) }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(data!, size) })

/// A per-process scratch file, in memory (/dev/shm) where there is one.
func scratch(_ ext: String) -> URL {
    let dir = FileManager.default.fileExists(atPath: "/dev/shm") ? URL(fileURLWithPath: "/dev/shm") : FileManager.default.temporaryDirectory
    return dir.appendingPathComponent("tailor-fuzz-\(getpid()).\(ext)")
}
