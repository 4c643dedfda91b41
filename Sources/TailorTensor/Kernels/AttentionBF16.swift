import CTailorKernels

/// Attention with bf16 operands and fp32 accumulation on AMX tiles: the same tiling, masks,
/// softmax passes (fp32) and saved state (output and log-sum-exp) as the fp32 kernel, with every
/// product's operands rounded to bf16 — as PyTorch's bf16 autocast runs attention. The forward
/// multiplies the unnormalised exponentials by V and divides the rows after, as flash attention
/// does, which saves a pass over the scores. The backward makes S and dP 32 keys at a time into
/// L1 and writes P and dS from there, already packed for the dV and dK products
/// (`tailor_attention_backward_scores_bf16`).
///
/// Per run of a (batch row, kv head) group's query tiles, K and V are packed into tiles once, in the
/// orientations the products need; per query tile only the stacked query rows, and in the backward
/// P and dS, are rounded. The scale is folded into Q before rounding (exact when `headDim` is a power of 4).
/// Without AMX these calls take the fp32 path.
extension Attention {
    /// Query rows per head in a bf16 tile: the stacked rows are a multiple of the 32-row AMX block,
    /// and the tile's scores and their bf16 copies stay in L2. At 2 × 2048 (9 heads, 3 kv heads) the
    /// backward took 36 ms with 32 rows per head, 44 with 21, 53 with 64, 51 with 80; with the
    /// fused score blocks, 27 ms with 32, 31 with 48, 29–33 with 64.
    static let bf16Tile = 32

    /// Whether ``forwardBF16(q:k:v:out:lse:shape:firstKey:)`` and its backward run on AMX here.
    public static var bf16UsesAMX: Bool { BF16MatMul.usesAMX }

    /// ``forward(q:k:v:out:lse:shape:firstKey:)`` with bf16 operands: `S = bf16(scale·Q)·bf16(K)ᵀ`,
    /// `O = bf16(e^(S − rowmax))·bf16(V) / rowsum(e^(S − rowmax))`.
    public static func forwardBF16(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>,
        shape s: AttentionShape, firstKey: UnsafeBufferPointer<Int32>
    ) {
        guard bf16UsesAMX else { return forward(q: q, k: k, v: v, out: out, lse: lse, shape: s, firstKey: firstKey) }
        precondition(firstKey.count == s.rows, "attention: firstKey has \(firstKey.count) rows, want \(s.rows)")
        let tile = bf16Tile, rep = s.heads / s.kvHeads, d = s.headDim
        let mMax = rep * min(tile, s.seq), sp = pad32(s.seq), dp = pad32(d), mp = pad32(mMax)
        forEachRun(s, tile: tile, firstKey: firstKey, floats: [mMax * s.seq, mMax * d, mMax],
                   halves: [sp * dp, dp * sp, mp * dp, mp * sp]) { run, scratch in
            let scores = scratch.floats[0], os = scratch.floats[1], invSum = scratch.floats[2]  // [m, nk], [m, D], [m]
            let kPack = scratch.halves[0], vtPack = scratch.halves[1]  // K [seq, D], Vᵀ [D, seq] in tiles
            let qs16 = scratch.halves[2], p16 = scratch.halves[3]      // [mp, dp], [mp, pad32(nk)]
            let b = run.b, kvh = run.kvh, kv = (b * s.seq) * s.kvWidth + kvh * d
            tailor_bf16_pack(k + kv, Int32(s.seq), Int32(d), Int32(s.kvWidth), 0, kPack)
            tailor_bf16_pack(v + kv, Int32(d), Int32(s.seq), Int32(s.kvWidth), 1, vtPack)
            for (q0, q1, kLo) in run.tiles {
                // Keys from the 32-aligned kBase: AMX tiles start on 32-key boundaries; the softmax
                // zeroes the columns before each row's first key.
                let tq = q1 - q0, m = rep * tq, kBase = kLo / 32 * 32, nk = q1 - kBase, h0 = kvh * rep
                let qOff = (b * s.seq + q0) * s.queryWidth + h0 * d
                tailor_bf16_stack_heads(q + qOff, s.queryWidth, Int32(tq), Int32(rep), Int32(d), scale(s), qs16, Int32(dp))
                // scores[m, nk] = bf16(scale·Qs) bf16(K)ᵀ over keys kBase..<q1
                tailor_amx_gemm(qs16, Int32(m), Int32(dp), kPack, Int32(q1), Int32(d), 0, scores - kBase, Int32(nk), 0,
                                Int32(kBase), Int32(pad32(q1)))
                // p16[m, kp] = bf16(e^(S − row max)), from the row pass itself; invSum[m] = 1 / row sums
                let kp = pad32(nk)
                for r in 0..<rep {
                    tailor_attention_softmax_rows_bf16(scores + r * tq * nk, Int32(tq), Int32(nk), firstKey.baseAddress! + b * s.seq + q0,
                                                       Int32(kBase), Int32(q0), lse + (b * s.heads + h0 + r) * s.seq + q0,
                                                       invSum + r * tq, p16 + r * tq * kp, Int32(kp))
                }
                (p16 + m * kp).update(repeating: 0, count: (pad32(m) - m) * kp)
                // os[m, D] = bf16(e^(S − max)) bf16(V); out = os / row sums
                tailor_amx_gemm(p16, Int32(m), Int32(kp), vtPack, Int32(d), Int32(s.seq), Int32(kBase / 32), os, Int32(d), 0,
                                0, Int32(dp))
                unstack(os, rows: tq, heads: rep, headDim: d, into: out + qOff, ld: s.queryWidth, rowScale: invSum)
            }
        }
    }

    /// ``backward(dOut:q:k:v:out:lse:dq:dk:dv:shape:firstKey:)`` with bf16 operands:
    /// `dP = bf16(dO)·bf16(V)ᵀ`, `dQ += scale·bf16(dS)·bf16(K)`, `dK += bf16(dS)ᵀ·bf16(scale·Q)`,
    /// `dV += bf16(P)ᵀ·bf16(dO)`; P recomputed as in the forward, softmax passes in fp32.
    public static func backwardBF16(
        dOut: UnsafePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        out: UnsafePointer<Float>, lse: UnsafePointer<Float>,
        dq: UnsafeMutablePointer<Float>?, dk: UnsafeMutablePointer<Float>?, dv: UnsafeMutablePointer<Float>?,
        shape s: AttentionShape, firstKey: UnsafeBufferPointer<Int32>
    ) {
        guard bf16UsesAMX else {
            return backward(dOut: dOut, q: q, k: k, v: v, out: out, lse: lse, dq: dq, dk: dk, dv: dv, shape: s, firstKey: firstKey)
        }
        if dq == nil && dk == nil && dv == nil { return }
        let tile = bf16Tile, rep = s.heads / s.kvHeads, d = s.headDim
        let mMax = rep * min(tile, s.seq), sp = pad32(s.seq), dp = pad32(d), mp = pad32(mMax)
        let floats = [2 * mp * 32 + 4 * mMax, mMax, mMax * d, d * s.seq, d * s.seq]
        let halves = [sp * dp, sp * dp, dp * sp, mp * dp, mp * dp, mp * sp, sp * mp, sp * mp, dp * mp]
        forEachRun(s, tile: tile, firstKey: firstKey, floats: floats, halves: halves) { run, scratch in
            let blocks = scratch.floats[0], rowDots = scratch.floats[1]                         // 2 × [pad32(m), 32] + 4 × [m], [m]
            let t = scratch.floats[2]                                                           // dQs [m, D]
            let dKt = scratch.floats[3], dVt = scratch.floats[4]                                // [D, seq]
            let kPack = scratch.halves[0], vPack = scratch.halves[1]                            // K, V [seq, D] in tiles
            let ktPack = scratch.halves[2]                                                      // Kᵀ [D, seq] in tiles
            let qs16 = scratch.halves[3], dos16 = scratch.halves[4]                             // [mp, dp]
            let ds16 = scratch.halves[5]                                                        // [mp, pad32(nk)]
            let pPack = scratch.halves[6], dsPack = scratch.halves[7]                           // P, dS as B[nk, m] in tiles
            let t16 = scratch.halves[8]                                                         // [dp, mp]
            let b = run.b, kvh = run.kvh, kv = (b * s.seq) * s.kvWidth + kvh * d
            tailor_bf16_pack(k + kv, Int32(s.seq), Int32(d), Int32(s.kvWidth), 0, kPack)
            tailor_bf16_pack(v + kv, Int32(s.seq), Int32(d), Int32(s.kvWidth), 0, vPack)
            if dq != nil { tailor_bf16_pack(k + kv, Int32(d), Int32(s.seq), Int32(s.kvWidth), 1, ktPack) }
            dKt.update(repeating: 0, count: d * s.seq); dVt.update(repeating: 0, count: d * s.seq)
            for (q0, q1, kLo) in run.tiles {
                let tq = q1 - q0, m = rep * tq, kBase = kLo / 32 * 32, nk = q1 - kBase, h0 = kvh * rep
                let qOff = (b * s.seq + q0) * s.queryWidth + h0 * d
                tailor_bf16_stack_heads(q + qOff, s.queryWidth, Int32(tq), Int32(rep), Int32(d), scale(s), qs16, Int32(dp))
                tailor_bf16_stack_heads(dOut + qOff, s.queryWidth, Int32(tq), Int32(rep), Int32(d), 1, dos16, Int32(dp))
                tailor_stacked_row_dots(dOut + qOff, out + qOff, s.queryWidth, Int32(tq), Int32(rep), Int32(d), rowDots)  // rowsum(dO ⊙ O)
                // bf16 P and dS, packed as B[nk, m], and dS as rows [m, kp]; S and dP made and used 32 keys at a time
                let kp = pad32(nk)
                tailor_attention_backward_scores_bf16(qs16, dos16, Int32(m), Int32(dp), kPack, vPack, Int32(d), Int32(kBase), Int32(q1),
                                                      firstKey.baseAddress! + b * s.seq + q0, Int32(q0), Int32(tq),
                                                      lse + (b * s.heads + h0) * s.seq + q0, s.seq, rowDots, ds16, kp, pPack, dsPack,
                                                      blocks)
                if let dq {
                    // t[m, D] = bf16(dS) bf16(K); dq += scale · t
                    tailor_amx_gemm(ds16, Int32(m), Int32(kp), ktPack, Int32(d), Int32(s.seq), Int32(kBase / 32), t,
                                    Int32(d), 0, 0, Int32(dp))
                    unstack(t, rows: tq, heads: rep, headDim: d, into: dq + qOff, ld: s.queryWidth, accumulate: true, scale: scale(s))
                }
                // acc[D, keys] += bf16(c·rows)ᵀ scores: dKt with (scale·Qs, dS), dVt with (dOs, P)
                func accumulate(_ rows: UnsafePointer<Float>, _ c: Float, _ scores: UnsafeMutablePointer<UInt16>,
                                into acc: UnsafeMutablePointer<Float>) {
                    tailor_bf16_stack_heads_transposed(rows + qOff, s.queryWidth, Int32(tq), Int32(rep), Int32(d), c, t16, Int32(pad32(m)))
                    tailor_amx_gemm(t16, Int32(d), Int32(pad32(m)), scores, Int32(nk), Int32(m), 0, acc + kBase, Int32(s.seq), 1,
                                    0, Int32(pad32(nk)))
                }
                if dk != nil { accumulate(q, scale(s), dsPack, into: dKt) }
                if dv != nil { accumulate(dOut, 1, pPack, into: dVt) }
            }
            run.add(dKt, into: dk, shape: s, transposed: true)
            run.add(dVt, into: dv, shape: s, transposed: true)
        }
    }

    private static func pad32(_ x: Int) -> Int { (x + 31) / 32 * 32 }
}
