import Foundation
import FuzzDriver

/// Hands every input libFuzzer makes to `callback` (libFuzzer's own argument parsing, corpus and
/// options) and exits with its status.
public func runFuzzer(_ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, callback))
}

/// A per-process scratch file, in memory (/dev/shm) where there is one.
public func scratchFile(_ ext: String) -> URL {
    let dir = FileManager.default.fileExists(atPath: "/dev/shm") ? URL(fileURLWithPath: "/dev/shm") : FileManager.default.temporaryDirectory
    return dir.appendingPathComponent("tailor-fuzz-\(getpid()).\(ext)")
}
