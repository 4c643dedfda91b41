import COpenBLAS
import CTailorKernels
import Dispatch
import Foundation

/// The one place that calls BLAS. Matrices are row-major; `lda`/`ldb`/`ldc` are row strides,
/// so sub-matrices (one attention head inside a `[tokens, heads·dim]` buffer) need no copy.
public enum BLAS {
    /// `C[m, n] = alpha · op(A) · op(B) + beta · C`, with `op(X) = Xᵀ` when the flag is set.
    ///
    /// `A` is `[m, k]` (or `[k, m]` when `transA`), `B` is `[k, n]` (or `[n, k]` when `transB`).
    @inlinable
    public static func gemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            // BLAS leaves C untouched-but-scaled; make that explicit for beta = 0.
            if beta == 0 { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
            return
        }
        // OpenBLAS always runs single-threaded (see ``threads``); tall products are split by rows
        // and wide ones by columns across our own workers, one call each. In A/B runs of whole
        // training steps, splitting tall products ourselves was 5–10 % faster than OpenBLAS's own
        // threading, and its idle threads no longer spin in sched_yield on our two cores.
        pinOpenBLAS
        let parts = Parallel.insideChunk ? 1 : Parallel.workers
        if parts > 1, m >= splitMinimum {
            Parallel.forEachChunk(m, minChunk: (m + parts - 1) / parts) { r in
                call(transA, transB, r.count, n, k, alpha, transA ? a + r.lowerBound : a + r.lowerBound * lda, lda,
                     b, ldb, beta, c + r.lowerBound * ldc, ldc)
            }
        } else if parts > 1, n >= splitMinimum, m * n * k >= 1 << 20 {
            // Column chunks on 16-float boundaries keep each call's B panel aligned.
            let per = ((n + parts - 1) / parts + 15) & ~15
            Parallel.forEachChunk((n + per - 1) / per) { chunks in
                for chunk in chunks {
                    let lo = chunk * per, hi = min(n, lo + per)
                    call(transA, transB, m, hi - lo, k, alpha, a, lda, transB ? b + lo * ldb : b + lo, ldb,
                         beta, c + lo, ldc)
                }
            }
        } else {
            call(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        }
    }

    /// Rows (or, for short products, columns) of C from which
    /// ``gemm(transA:transB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)`` splits the product across
    /// ``Parallel/workers``.
    public static let splitMinimum = 256

    /// Sets OpenBLAS to one thread, once: all parallelism is ours.
    @usableFromInline
    static let pinOpenBLAS: Void = openblas_set_num_threads(1)

    @usableFromInline
    static func call(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                     _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                     _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// `y += alpha · x` over `n` contiguous elements.
    @inlinable
    public static func axpy(_ n: Int, alpha: Float, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
        pinOpenBLAS
        cblas_saxpy(Int32(n), alpha, x, 1, y, 1)
    }

    /// `x · y` over `n` contiguous elements.
    @inlinable
    public static func dot(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>) -> Float {
        pinOpenBLAS
        return cblas_sdot(Int32(n), x, 1, y, 1)
    }

    /// Threads for products: ``Parallel/workers``. OpenBLAS itself always runs one thread per call.
    public static var threads: Int {
        get { Parallel.workers }
        set { Parallel.workers = max(1, newValue) }
    }

    /// Plain triple-loop `gemm` with the same contract, for tests of the fast path.
    public static func gemmReference(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var s: Double = 0
                for p in 0..<k {
                    let av = transA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                    s += Double(av) * Double(bv)
                }
                let old = beta == 0 ? 0 : beta * c[i * ldc + j]
                c[i * ldc + j] = alpha * Float(s) + old
            }
        }
    }
}

/// Data-parallel loops over index ranges, one closure call per chunk (never per element).
public enum Parallel {
    /// The number of worker threads our own loops use (the machine's active cores).
    public nonisolated(unsafe) static var workers: Int = ProcessInfo.processInfo.activeProcessorCount

    /// Calls `body(range)` on disjoint chunks covering `0..<count`, in parallel when worth it.
    ///
    /// `minChunk` keeps tiny loops on one thread, where a thread hop costs more than the work.
    /// Products called inside a chunk run on its thread (``insideChunk``): the loop already
    /// keeps every core busy.
    public static func forEachChunk(
        _ count: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void
    ) {
        if count <= 0 { return }
        let chunks = min(workers, max(1, count / max(1, minChunk)))
        if chunks <= 1 { body(0..<count); return }
        let per = (count + chunks - 1) / chunks
        // Chunks touch disjoint memory by contract; the box only silences the Sendable check
        // on the raw pointers the body captures.
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let lo = c * per, hi = min(count, lo + per)
                guard lo < hi else { return }
                let outer = tailor_in_parallel_chunk()
                tailor_set_in_parallel_chunk(1)
                box.value(lo..<hi)
                tailor_set_in_parallel_chunk(outer)
            }
        }
    }

    /// Whether the calling thread is running a chunk of ``forEachChunk(_:minChunk:_:)`` (per thread, so
    /// loops running at the same time on other threads, a second model's included, do not affect it).
    @usableFromInline static var insideChunk: Bool { tailor_in_parallel_chunk() != 0 }
}


/// Wraps a value that is shared across threads under a contract the compiler cannot check.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
