import Foundation
import Testing
@testable import TailorTensor

/// Products inside a parallel loop stay on their thread, and that is known per thread: a loop on one
/// thread (one model's attention, say) never makes another thread's products single-threaded.
@Suite struct ParallelTests {
    @Test(.enabled(if: Parallel.workers > 1, "one worker: loops run on the calling thread"))
    func chunksAreMarkedOnTheirOwnThreadsOnly() {
        #expect(!Parallel.insideChunk)
        let seen = UnsafeMutablePointer<Bool>.allocate(capacity: 4)  // [chunk inside, other thread inside] × 2
        defer { seen.deallocate() }
        seen.initialize(repeating: false, count: 4)
        Parallel.forEachChunk(2) { r in
            let i = r.lowerBound
            seen[2 * i] = Parallel.insideChunk
            let done = DispatchSemaphore(value: 0), flag = Flag()
            Thread { flag.value = Parallel.insideChunk; done.signal() }.start()
            done.wait()
            seen[2 * i + 1] = flag.value
        }
        #expect(Array(UnsafeBufferPointer(start: seen, count: 4)) == [true, false, true, false])
        #expect(!Parallel.insideChunk)  // restored on the calling thread, which may have run a chunk
    }
}

/// A Bool another thread sets before signalling.
private final class Flag: @unchecked Sendable { var value = false }
