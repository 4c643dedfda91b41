import Foundation

/// The folder `Tests/Fixtures` of this repository, found from this source file's path.
let fixturesRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures")
