#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where tensor buffers come from.
///
/// Small buffers use `posix_memalign`. Large ones (activations, gradients) are mapped pages kept
/// on per-size free lists when released, so the next step's tensors of the same shape reuse them
/// without page faults (a training step without checkpointing saves ~1 GiB of activations; mapping
/// them afresh every step cost ~250k page faults per step). Memory never fragments the malloc heap:
/// with glibc's default dynamic mmap threshold, freed multi-megabyte tensors stayed in the heap and
/// peak RSS grew step by step (1.82 → 2.14 GiB over four steps of the SmolLM-135M benchmark).
///
/// The pool never holds more mapped bytes (live + idle) than the most bytes that were ever live at
/// once plus ``slack``: a request that misses the free lists first unmaps idle buffers of other
/// sizes until the new one fits under that mark. Pooling therefore raises peak RSS by at most
/// ``slack`` over what the same tensors cost without it. ``trim()`` returns the idle pages, e.g.
/// when training ends.
public enum BufferPool {
    /// Buffers of at least this many bytes are pooled pages.
    public static let threshold = 1 << 17
    /// Idle bytes allowed above the live high-water mark. Without it, phases that need different
    /// sizes (a checkpointed segment's recompute, then its gradients) evict each other's buffers
    /// every step: ~50 remaps (150 MiB) per checkpointed step of the SmolLM-135M benchmark with no
    /// slack, 10 with 16 MiB, none with 32 MiB.
    public static let slack = 32 << 20

    nonisolated(unsafe) private static var lists: [Int: [UnsafeMutableRawPointer]] = [:]
    nonisolated(unsafe) private static var idle = 0
    nonisolated(unsafe) private static var live = 0
    nonisolated(unsafe) private static var highWater = 0
    nonisolated(unsafe) private static var evictionCount = 0
    nonisolated(unsafe) private static let mutex: UnsafeMutablePointer<pthread_mutex_t> = {
        let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(m, nil)
        return m
    }()

    /// Bytes currently idle on the free lists.
    public static var idleBytes: Int {
        pthread_mutex_lock(mutex); defer { pthread_mutex_unlock(mutex) }
        return idle
    }

    /// The most pooled bytes that were live at once since the process started.
    public static var peakLiveBytes: Int {
        pthread_mutex_lock(mutex); defer { pthread_mutex_unlock(mutex) }
        return highWater
    }

    /// Pooled bytes currently mapped: live buffers plus idle ones.
    public static var mappedBytes: Int {
        pthread_mutex_lock(mutex); defer { pthread_mutex_unlock(mutex) }
        return live + idle
    }

    /// Idle buffers unmapped so far to make room for a miss (tests tell a reuse failure from a
    /// buffer another thread's miss evicted in between).
    static var evictions: Int {
        pthread_mutex_lock(mutex); defer { pthread_mutex_unlock(mutex) }
        return evictionCount
    }

    @inline(__always)
    private static func rounded(_ bytes: Int) -> Int { (bytes + 4095) & ~4095 }

    /// A 64-byte aligned buffer of at least `bytes` bytes, uninitialised.
    static func acquire(bytes: Int) -> UnsafeMutableRawPointer {
        if bytes < threshold {
            var raw: UnsafeMutableRawPointer?
            guard posix_memalign(&raw, 64, bytes) == 0, let raw else { fatalError("Tensor: cannot allocate \(bytes) bytes") }
            return raw
        }
        let size = rounded(bytes)
        pthread_mutex_lock(mutex)
        live += size
        highWater = max(highWater, live)
        if let p = lists[size]?.popLast() {
            idle -= size
            pthread_mutex_unlock(mutex)
            return p
        }
        // Miss: make room under the high-water mark by unmapping idle buffers of other sizes.
        var evicted: [(UnsafeMutableRawPointer, Int)] = []
        while live + idle > highWater + slack, let (other, ps) = lists.first(where: { !$0.value.isEmpty }) {
            evicted.append((ps[ps.count - 1], other))
            lists[other]!.removeLast()
            if lists[other]!.isEmpty { lists[other] = nil }
            idle -= other
            evictionCount += 1
        }
        pthread_mutex_unlock(mutex)
        for (p, other) in evicted { munmap(p, other) }
        guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else {
            fatalError("Tensor: cannot map \(size) bytes")
        }
        return p
    }

    /// Returns a buffer from ``acquire(bytes:)`` with the same `bytes`.
    static func release(_ p: UnsafeMutableRawPointer, bytes: Int) {
        if bytes < threshold { free(p); return }
        let size = rounded(bytes)
        pthread_mutex_lock(mutex)
        live -= size
        lists[size, default: []].append(p)
        idle += size
        pthread_mutex_unlock(mutex)
    }

    /// Runs `body` with a scratch buffer of `count` elements from the pool: a kernel's per-call
    /// temporary (a few MiB) then costs no page faults after the first step.
    public static func withScratch<T, R>(_ count: Int, of type: T.Type, _ body: (UnsafeMutablePointer<T>) throws -> R) rethrows -> R {
        let bytes = max(1, count * MemoryLayout<T>.stride)
        let raw = acquire(bytes: bytes)
        defer { release(raw, bytes: bytes) }
        return try body(raw.bindMemory(to: T.self, capacity: count))
    }

    /// Unmaps every idle buffer.
    public static func trim() {
        pthread_mutex_lock(mutex)
        let all = lists
        lists = [:]
        idle = 0
        pthread_mutex_unlock(mutex)
        for (size, ps) in all { for p in ps { munmap(p, size) } }
    }
}
