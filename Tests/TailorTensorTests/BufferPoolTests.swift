import Testing
@testable import TailorTensor

/// The pool is process-wide and other suites allocate in parallel, so these tests check only what
/// holds whatever else runs: the mapped-bytes bound, and reuse of a size no other test asks for.
@Suite struct BufferPoolTests {
    /// A released buffer comes back for the next request of the same size, without a new mapping.
    /// Another suite's miss may evict it in between (and mmap may hand back the same address,
    /// zeroed): such attempts are retried, so only a pool that does not reuse fails.
    @Test func releasedBufferIsReused() {
        let bytes = (3 << 20) + 7 * 4096 + 12  // an odd size, unlike any tensor elsewhere in the suite
        for _ in 0..<20 {
            let evictions = BufferPool.evictions
            let first = BufferPool.acquire(bytes: bytes)
            first.storeBytes(of: 42, as: Int.self)
            BufferPool.release(first, bytes: bytes)
            let second = BufferPool.acquire(bytes: bytes)
            defer { BufferPool.release(second, bytes: bytes) }
            let reused = second == first && second.load(as: Int.self) == 42
            if reused || BufferPool.evictions == evictions {
                #expect(reused, "no eviction in between, yet the buffer was not reused")
                return
            }
        }
        Issue.record("evicted by other suites in 20 attempts in a row")
    }

    /// Changing shapes never leaves more mapped than the live high-water mark plus the slack: misses
    /// unmap idle buffers of other sizes first.
    @Test func mappedBytesStayUnderHighWaterPlusSlack() {
        for round in 0..<6 {
            // Each round frees ~40 MiB of one size class and then asks for a different one.
            let bytes = (5 << 20) + round * 8192
            let held = (0..<8).map { _ in BufferPool.acquire(bytes: bytes) }
            for p in held { p.storeBytes(of: UInt8(round), as: UInt8.self) }
            #expect(BufferPool.mappedBytes <= BufferPool.peakLiveBytes + BufferPool.slack)
            for p in held { BufferPool.release(p, bytes: bytes) }
            #expect(BufferPool.mappedBytes <= BufferPool.peakLiveBytes + BufferPool.slack)
        }
    }
}
