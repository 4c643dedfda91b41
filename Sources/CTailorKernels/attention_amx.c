#include "CTailorKernels.h"
#include "cpu.h"
#if TAILOR_X86
#include <immintrin.h>
#include "vec16.h"
#include "amx_tiles.h"

// The bf16 attention backward's scores, 32 keys at a time: S = scale·Q·Kᵀ and dP = dO·Vᵀ for all
// of a tile's rows go from the AMX tiles to two [rows, 32] fp32 blocks that stay in L1, and the
// row pass turns them into bf16 P and dS at once, already packed for the dV and dK products.
// Written to [rows, seq] fp32 arrays, these two products (inner dimension only the head size) ran
// at half the speed they reach into L1: their stores, not their multiplies, were the limit.

// What the row pass needs of each stacked row r (head r / tq, query q0 + r % tq), worked out once
// per call rather than with an integer division per row in every 32-key block.
typedef struct { float lse, d; int first, last; } row_info;

// Row r's P and dS over one block of 32 keys from j0, lanes outside its keys zero: out[0..1] the
// two halves of P, out[2..3] of dS.
__attribute__((target("avx512f")))
static inline void row_block(const float *s, const float *dp, int r, int j0, const row_info *info, __m512 out[4]) {
    row_info w = info[r];
    int lo = w.first - j0, hi = w.last - j0;  // this block's columns 0..<32
    if (lo > 31 || hi < 0) {
        out[0] = out[1] = out[2] = out[3] = _mm512_setzero_ps();
        return;
    }
    __m512 l = _mm512_set1_ps(w.lse), d = _mm512_set1_ps(w.d);
    for (int h = 0; h < 2; h++) {  // P = e^(S − lse); dS = P ⊙ (dP − d)
        __mmask16 k = in_range(16 * h, lo, hi);
        __m512 e = _mm512_maskz_mov_ps(k, exp16_softmax(_mm512_load_ps(s + r * 32 + 16 * h), l));
        out[h] = e;
        out[2 + h] = _mm512_maskz_mul_ps(k, e, _mm512_sub_ps(_mm512_load_ps(dp + r * 32 + 16 * h), d));
    }
}

// The row pass over one 32-key block, two rows at a time: a pair's P and dS halves interleave into
// one 64-byte row of the B tiles (k pairs, VNNI) that dV and dK multiply by, so they are written
// packed directly; dS also as rows, for dQ (padding rows included).
__attribute__((target("avx512f,avx512bw,avx512bf16,avx512vl")))
static void row_pass(const float *s, const float *dp, int rows, int j0, int key0, const row_info *info, uint16_t *ds16,
                     long ldo, uint16_t *p_pack, uint16_t *ds_pack) {
    int kblocks = (rows + 31) / 32, nb = (j0 - key0) / 16;
    for (int r = 0; r < kblocks * 32; r += 2) {
        __m512 a[4], b[4];
        if (r < rows) row_block(s, dp, r, j0, info, a);
        else a[0] = a[1] = a[2] = a[3] = _mm512_setzero_ps();
        if (r + 1 < rows) row_block(s, dp, r + 1, j0, info, b);
        else b[0] = b[1] = b[2] = b[3] = _mm512_setzero_ps();
        for (int h = 0; h < 2; h++) {
            size_t tile = ((size_t)(nb + h) * kblocks + r / 32) * 512 + (size_t)(r % 32) / 2 * 32;
            _mm512_storeu_si512((void *)(p_pack + tile), interleave_halves((__m512i)_mm512_cvtne2ps_pbh(b[h], a[h])));
            _mm512_storeu_si512((void *)(ds_pack + tile), interleave_halves((__m512i)_mm512_cvtne2ps_pbh(b[2 + h], a[2 + h])));
        }
        uint16_t *row = ds16 + (long)r * ldo + (j0 - key0);  // rows past `rows` too: zeros, for dQ's padded A
        _mm512_storeu_si512((void *)row, (__m512i)_mm512_cvtne2ps_pbh(a[3], a[2]));
        _mm512_storeu_si512((void *)(row + ldo), (__m512i)_mm512_cvtne2ps_pbh(b[3], b[2]));
    }
}

__attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512bf16,avx512vl")))
void tailor_attention_backward_scores_bf16(const uint16_t *qs16, const uint16_t *dos16, int rows, int kpad,
                                           const uint16_t *kpack, const uint16_t *vpack, int packed_k, int key0, int key1,
                                           const int32_t *first_key, int q0, int tq, const float *lse, long lse_head,
                                           const float *drow, uint16_t *ds16, long ldo, uint16_t *p_pack, uint16_t *ds_pack,
                                           float *scratch) {
    amx_configure_tiles();
    int kblocks = kpad / 32, stride = ((packed_k + 31) & ~31) / 32, strips = (rows + 15) / 16;
    float *s = scratch, *dp = scratch + (long)(rows + 31) / 32 * 32 * 32;  // [pad32(rows), 32] each
    row_info *info = (row_info *)(dp + (long)(rows + 31) / 32 * 32 * 32);    // [rows]
    for (int r = 0; r < rows; r++) {
        int head = r / tq, i = r % tq;
        info[r] = (row_info){lse[head * lse_head + i], drow[r], first_key[i], q0 + i};
    }
    for (int j0 = key0; j0 < key1; j0 += 32) {
        const uint16_t *k0 = kpack + (size_t)(j0 / 16) * stride * 512, *k1 = k0 + (size_t)stride * 512;
        const uint16_t *v0 = vpack + (size_t)(j0 / 16) * stride * 512, *v1 = v0 + (size_t)stride * 512;
        for (int strip = 0; strip < strips; strip++) {
            const uint16_t *a = qs16 + (size_t)strip * 16 * kpad, *g = dos16 + (size_t)strip * 16 * kpad;
            _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
            for (int kb = 0; kb < kblocks; kb++) {
                _tile_loadd(4, a + kb * 32, kpad * 2);
                _tile_loadd(6, k0 + (size_t)kb * 512, 64);
                _tile_loadd(7, k1 + (size_t)kb * 512, 64);
                _tile_dpbf16ps(0, 4, 6);
                _tile_dpbf16ps(1, 4, 7);
                _tile_loadd(5, g + kb * 32, kpad * 2);
                _tile_loadd(6, v0 + (size_t)kb * 512, 64);
                _tile_loadd(7, v1 + (size_t)kb * 512, 64);
                _tile_dpbf16ps(2, 5, 6);
                _tile_dpbf16ps(3, 5, 7);
            }
            float *sr = s + strip * 16 * 32, *dr = dp + strip * 16 * 32;
            _tile_stored(0, sr, 128); _tile_stored(1, sr + 16, 128);
            _tile_stored(2, dr, 128); _tile_stored(3, dr + 16, 128);
        }
        row_pass(s, dp, rows, j0, key0, info, ds16, ldo, p_pack, ds_pack);
    }
    _tile_release();
}

#endif
