import Testing
import TailorTensor
import TailorTestSupport
import CTailorKernels

@Suite struct BF16MatMulTests {
    /// Round to nearest, ties to even, at the 16th bit.
    @Test func rounding() {
        #expect(BF16MatMul.roundedToBF16(1) == 1)
        #expect(BF16MatMul.roundedToBF16(Float(bitPattern: 0x3F80_8000)) == 1)  // tie → even (down)
        #expect(BF16MatMul.roundedToBF16(Float(bitPattern: 0x3F81_8000)) == Float(bitPattern: 0x3F82_0000))  // tie → even (up)
        #expect(BF16MatMul.roundedToBF16(Float(bitPattern: 0x3F80_8001)) == Float(bitPattern: 0x3F81_0000))
        #expect(BF16MatMul.roundedToBF16(-2.5) == -2.5)
    }

    /// Packing keeps every element as its bf16 rounding, both orientations.
    @Test func packing() {
        var rng = TestRandom(seed: 5)
        let b = rng.tensor([19, 40])
        let p = BF16MatMul.Packed(b.pointer, n: 19, k: 40, ldb: 40, transposed: false)
        let t = BF16MatMul.Packed(b.pointer, n: 40, k: 19, ldb: 40, transposed: true)
        for r in 0..<19 { for c in 0..<40 {
            #expect(p[r, c] == BF16MatMul.roundedToBF16(b[r * 40 + c]))
            #expect(t[c, r] == p[r, c])
        } }
    }

    /// The AVX-512 packing (taken when the CPU has AVX512_BF16) writes the same bits as the plain C
    /// loop, padding included, in both orientations and for sizes off the 16/32 grid.
    @Test(arguments: [(19, 40), (16, 32), (45, 70), (1, 1), (64, 33)])
    func fastPackingMatchesPlainLoop(n: Int, k: Int) {
        var rng = TestRandom(seed: UInt64(n * 100 + k))
        let ld = max(n, k) + 3
        let b = rng.tensor([max(n, k), ld], -300, 300)
        let count = tailor_bf16_packed_count(Int32(n), Int32(k))
        for transposed in [false, true] {
            var fast = [UInt16](repeating: 0xAAAA, count: count), plain = [UInt16](repeating: 0x5555, count: count)
            tailor_bf16_pack(b.pointer, Int32(n), Int32(k), Int32(ld), transposed ? 1 : 0, &fast)
            tailor_bf16_pack_reference(b.pointer, Int32(n), Int32(k), Int32(ld), transposed ? 1 : 0, &plain)
            #expect(fast == plain, "\(n)×\(k) transposed \(transposed)")
        }
    }

    /// The packing split across the workers by 32 rows of B (wide k, so each worker gets blocks, a
    /// ragged last one included) writes the same bits as one plain call, in both orientations.
    @Test(arguments: [false, true])
    func splitPackingMatchesPlainLoop(transposed: Bool) {
        var rng = TestRandom(seed: 9)
        let (n, k) = (100, 4100)
        let ld = transposed ? n + 3 : k + 3
        let b = rng.tensor([transposed ? k : n, ld])
        let count = tailor_bf16_packed_count(Int32(n), Int32(k))
        var split = [UInt16](repeating: 0xAAAA, count: count), plain = [UInt16](repeating: 0x5555, count: count)
        split.withUnsafeMutableBufferPointer { BF16MatMul.pack(b.pointer, n: n, k: k, ldb: ld, transposed: transposed, into: $0.baseAddress!) }
        tailor_bf16_pack_reference(b.pointer, Int32(n), Int32(k), Int32(ld), transposed ? 1 : 0, &plain)
        let wrong = zip(split, plain).filter { $0 != $1 }.count
        #expect(wrong == 0, "\(wrong) of \(count) packed elements differ")
    }

    /// Packing a range of k blocks from a pointer at its first k fills exactly those tiles of the
    /// whole packing (ragged last block, both orientations) and leaves the others as they were.
    @Test(arguments: [false, true])
    func kBlockPackingFillsItsTiles(transposed: Bool) {
        var rng = TestRandom(seed: 10)
        let (n, k) = (45, 100)  // k blocks 0..<4, the last holding 4 of 32
        let ld = transposed ? n + 2 : k + 2
        let b = rng.tensor([transposed ? k : n, ld])
        let count = tailor_bf16_packed_count(Int32(n), Int32(k))
        var whole = [UInt16](repeating: 0, count: count)
        tailor_bf16_pack(b.pointer, Int32(n), Int32(k), Int32(ld), transposed ? 1 : 0, &whole)
        for (lo, hi) in [(0, 1), (1, 3), (3, 4), (0, 4)] {
            var part = [UInt16](repeating: 0xAAAA, count: count)
            let start = transposed ? b.pointer + lo * 32 * ld : b.pointer + lo * 32
            tailor_bf16_pack_kblocks(start, Int32(n), Int32(k), Int32(ld), transposed ? 1 : 0, Int32(lo), Int32(hi), &part)
            var wrong = 0
            for i in 0..<count {
                let kb = (i / 512) % 4  // tiles are [n/16][4 k blocks][512]
                if part[i] != ((lo..<hi).contains(kb) ? whole[i] : 0xAAAA) { wrong += 1 }
            }
            #expect(wrong == 0, "k blocks \(lo)..<\(hi) transposed \(transposed): \(wrong) elements wrong")
        }
    }

    /// The product (AMX where available) against the plain path and against a double-precision
    /// sum of the rounded operands, on shapes that are not multiples of the 16/32 tiles, with and
    /// without accumulation and with strided operands.
    @Test(arguments: [(37, 45, 70), (64, 96, 576), (1, 33, 31), (70, 16, 130), (300, 40, 2048)])  // the last: 2 row blocks
    func productMatchesReference(m: Int, n: Int, k: Int) {
        var rng = TestRandom(seed: UInt64(m * 1000 + n))
        let lda = k + 3, ldc = n + 5
        let a = rng.tensor([m, lda]), b = rng.tensor([n, k]), start = rng.tensor([m, ldc])
        let packed = BF16MatMul.Packed(b.pointer, n: n, k: k, ldb: k, transposed: false)
        for accumulate in [false, true] {
            let fast = Tensor(shape: [m, ldc], values: start.array), slow = Tensor(shape: [m, ldc], values: start.array)
            BF16MatMul.multiply(a.pointer, m: m, lda: lda, packed, into: fast.pointer, ldc: ldc, accumulate: accumulate)
            BF16MatMul.reference(a.pointer, m: m, lda: lda, packed, into: slow.pointer, ldc: ldc, accumulate: accumulate)
            var exact = start.array
            for i in 0..<m { for j in 0..<n {
                var s: Double = 0
                for p in 0..<k { s += Double(BF16MatMul.roundedToBF16(a[i * lda + p])) * Double(packed[j, p]) }
                exact[i * ldc + j] = Float(s) + (accumulate ? start[i * ldc + j] : 0)
            } }
            // Columns past n in each row of C are untouched.
            for i in 0..<m { for j in n..<ldc { #expect(fast[i * ldc + j] == start[i * ldc + j]) } }
            let tol = 2e-6 * Float(k)
            expectClose(fast.array, exact, atol: tol, "\(m)×\(n)×\(k) accumulate \(accumulate) (AMX: \(BF16MatMul.usesAMX))")
            expectClose(slow.array, exact, atol: tol, "\(m)×\(n)×\(k) reference")
        }
    }
}

extension BF16MatMulTests {
    /// Slices of B — the fused cross-entropy's vocabulary slices, in both products — against the
    /// plain path: aligned starts (AMX) and unaligned ones (the fallback), ends inside a tile.
    @Test(arguments: [(32..<77, 0..<70), (0..<45, 64..<100), (5..<40, 3..<90), (64..<96, 32..<130)])
    func slicesMatchReference(outputs: Range<Int>, inputs: Range<Int>) {
        var rng = TestRandom(seed: 77)
        let m = 20, n = 96, k = 130
        let a = rng.tensor([m, inputs.count]), b = rng.tensor([n, k])
        let packed = BF16MatMul.Packed(b.pointer, n: n, k: k, ldb: k, transposed: false)
        let fast = Tensor(zeros: [m, outputs.count])
        BF16MatMul.multiply(a.pointer, m: m, lda: inputs.count, packed, outputs: outputs, inputs: inputs,
                            into: fast.pointer, ldc: outputs.count, accumulate: false)
        var exact = [Float](repeating: 0, count: m * outputs.count)
        for i in 0..<m { for (j, r) in outputs.enumerated() {
            var s: Double = 0
            for (p, c) in inputs.enumerated() { s += Double(BF16MatMul.roundedToBF16(a[i * inputs.count + p])) * Double(packed[r, c]) }
            exact[i * outputs.count + j] = Float(s)
        } }
        expectClose(fast.array, exact, atol: 2e-6 * Float(inputs.count), "outputs \(outputs) inputs \(inputs)")
    }
}
