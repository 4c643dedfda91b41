// ggml Q4_0 dequantization in AVX-512 (the plain Swift loop unpacks nibbles one at a time; Q8_0's
// loop already runs at store bandwidth, measured), and every block format Tailor dequantizes
// (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K, NF4) straight to bf16 AMX tiles: the same bits
// as TailorQuant.Dequantize's loops and NF4.dequantize (and ggml's dequantize_row_*), which stay
// the reference.
#include "CTailorKernels.h"
#include "cpu.h"
#if TAILOR_X86
#include <immintrin.h>
#include <string.h>
#include "vec16.h"

__attribute__((target("avx512f,f16c")))
static inline __m512 block_scale(const uint8_t *block) {
    uint16_t h;
    memcpy(&h, block, 2);
    return _mm512_set1_ps(_cvtsh_ss(h));
}

// `get_scale_min_k4`: the 6-bit scale and min of K-quant sub-block j from the 12 packed bytes s.
static inline void scale_min_k4(const uint8_t *s, int j, int *sc, int *m) {
    *sc = j < 4 ? s[j] & 63 : (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
    *m = j < 4 ? s[j + 4] & 63 : (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
}

// Q4_K (high_bits NULL) or Q5_K sub-block j (32 elements) of a super-block: (d·sc)·q − dmin·m,
// two roundings, as ggml's dequantize_row_q4_K / _q5_K and the Swift loops. The nibbles of
// sub-blocks 2c and 2c + 1 share 32 bytes at qs + 32c; Q5_K's fifth bit of lane l is bit j of
// high_bits[l].
__attribute__((target("avx512f,f16c")))
static inline void k_quant_floats(const uint8_t *x, const uint8_t *qs, const uint8_t *high_bits, int j, __m512 *lo, __m512 *hi) {
    uint16_t hd, hm;
    memcpy(&hd, x, 2);
    memcpy(&hm, x + 2, 2);
    int sc, m;
    scale_min_k4(x + 4, j, &sc, &m);
    __m512 dv = _mm512_set1_ps(_cvtsh_ss(hd) * (float)sc), mv = _mm512_set1_ps(_cvtsh_ss(hm) * (float)m);
    const __m512i nib = _mm512_set1_epi32(0x0F), one = _mm512_set1_epi32(1);
    __m512 out[2];
    for (int h = 0; h < 2; h++) {
        __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(qs + 32 * (j / 2) + 16 * h)));
        q = j & 1 ? _mm512_srli_epi32(q, 4) : _mm512_and_si512(q, nib);
        if (high_bits) {
            __m512i b = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(high_bits + 16 * h)));
            q = _mm512_or_si512(q, _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(b, j), one), 4));
        }
        out[h] = _mm512_sub_ps(_mm512_mul_ps(dv, _mm512_cvtepi32_ps(q)), mv);
    }
    *lo = out[0];
    *hi = out[1];
}

// Bytes in one block of a 32-element format.
static inline size_t block32_bytes(int type) {
    switch (type) {
    case 2: return 18;
    case 3: return 20;
    case 6: return 22;
    case 7: return 24;
    default: return 34;  // Q8_0
    }
}

// A 32-element block of Q4_0 (type 2), Q4_1 (3), Q5_0 (6), Q5_1 (7) or Q8_0 (8): q·d, plus m for
// the _1 formats (two roundings), as the Swift loops. Nibble formats hold elements l and l + 16
// in byte l; Q5's fifth bit of element e is bit e of the 32-bit qh.
__attribute__((target("avx512f,f16c")))
static inline void block32_floats(const uint8_t *block, int type, __m512 *lo, __m512 *hi) {
    __m512 d = block_scale(block);
    if (type == 8) {
        __m256i q = _mm256_loadu_si256((const __m256i *)(block + 2));
        *lo = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(q))), d);
        *hi = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(q, 1))), d);
        return;
    }
    int with_min = type == 3 || type == 7, five = type == 6 || type == 7;
    const uint8_t *qs = block + 2 + 2 * with_min + 4 * five;
    const __m512i nib = _mm512_set1_epi32(0x0F), one = _mm512_set1_epi32(1);
    __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)qs));
    __m512i a = _mm512_and_si512(q, nib), b = _mm512_srli_epi32(q, 4);
    if (five) {
        uint32_t qh;
        memcpy(&qh, block + 2 + 2 * with_min, 4);
        const __m512i lanes = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
        __m512i h = _mm512_set1_epi32((int)qh);
        a = _mm512_or_si512(a, _mm512_slli_epi32(_mm512_and_si512(_mm512_srlv_epi32(h, lanes), one), 4));
        b = _mm512_or_si512(b, _mm512_slli_epi32(_mm512_and_si512(_mm512_srlv_epi32(h, _mm512_add_epi32(lanes, _mm512_set1_epi32(16))), one), 4));
    }
    if (with_min) {
        __m512 m = block_scale(block + 2);
        *lo = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(a), d), m);
        *hi = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(b), d), m);
        return;
    }
    const __m512i bias = _mm512_set1_epi32(five ? 16 : 8);
    *lo = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(a, bias)), d);
    *hi = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(b, bias)), d);
}

__attribute__((target("avx512f,f16c")))
void tailor_dequant_q4_0(const uint8_t *src, long blocks, float *dst) {
    for (long b = 0; b < blocks; b++, src += 18, dst += 32) {
        __m512 lo, hi;
        block32_floats(src, 2, &lo, &hi);
        _mm512_storeu_ps(dst, lo);
        _mm512_storeu_ps(dst + 16, hi);
    }
}

// Q6_K sub-block j (32 elements) of a 210-byte super-block: (d·scale)·q, two roundings, as ggml's
// dequantize_row_q6_K and the Swift loop. Half n = j / 4 of the block; part p = j % 4 takes the low
// (p < 2) or high nibbles of ql[32·(p & 1) + l] with bits 2p, 2p + 1 of qh[l] above them, minus 32;
// lanes l < 16 and l ≥ 16 have their own int8 scale.
__attribute__((target("avx512f,f16c")))
static inline void q6_k_floats(const uint8_t *x, int j, __m512 *lo, __m512 *hi) {
    int n = j / 4, p = j % 4;
    const uint8_t *ql = x + 64 * n + 32 * (p & 1), *qh = x + 128 + 32 * n;
    const int8_t *sc = (const int8_t *)(x + 192 + 8 * n);
    uint16_t hd;
    memcpy(&hd, x + 208, 2);
    float d = _cvtsh_ss(hd), d0 = d * (float)sc[2 * p], d1 = d * (float)sc[2 * p + 1];
    const __m512i nib = _mm512_set1_epi32(0x0F), three = _mm512_set1_epi32(3), bias = _mm512_set1_epi32(32);
    __m512 out[2];
    for (int h = 0; h < 2; h++) {
        __m512i a = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(ql + 16 * h)));
        __m512i b = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(qh + 16 * h)));
        a = p < 2 ? _mm512_and_si512(a, nib) : _mm512_srli_epi32(a, 4);
        b = _mm512_and_si512(_mm512_srli_epi32(b, 2 * p), three);
        __m512i q = _mm512_sub_epi32(_mm512_or_si512(a, _mm512_slli_epi32(b, 4)), bias);
        out[h] = _mm512_mul_ps(_mm512_set1_ps(h ? d1 : d0), _mm512_cvtepi32_ps(q));
    }
    *lo = out[0];
    *hi = out[1];
}

// Half j of an NF4 block (64 codes in 32 bytes, the high nibble first): code[c] × absmax, one
// rounding, as NF4.dequantize.
__attribute__((target("avx512f")))
static inline void nf4_floats(const uint8_t *codes, int j, float absmax, __m512 table, __m512 *lo, __m512 *hi) {
    __m512i b = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(codes + 16 * j)));  // 16 bytes: 32 codes
    const __m512i first = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
    const __m512i second = _mm512_set_epi32(15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10, 9, 9, 8, 8);
    const __m512i shifts = _mm512_set_epi32(0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4), nib = _mm512_set1_epi32(15);
    __m512 a = _mm512_set1_ps(absmax);
    __m512i c0 = _mm512_and_si512(_mm512_srlv_epi32(_mm512_permutexvar_epi32(first, b), shifts), nib);
    __m512i c1 = _mm512_and_si512(_mm512_srlv_epi32(_mm512_permutexvar_epi32(second, b), shifts), nib);
    *lo = _mm512_mul_ps(_mm512_permutexvar_ps(c0, table), a);
    *hi = _mm512_mul_ps(_mm512_permutexvar_ps(c1, table), a);
}

// k-block kb (32 elements) of a row in a 32-element block format (block32_floats), Q4_K (type 12,
// 144-byte super-blocks of 8 k-blocks), Q5_K (13, 176 bytes), Q6_K (14, 210 bytes), NF4
// (TAILOR_NF4: 32-byte blocks of 64, `absmax` the row's block scales), F16 (1) or BF16 (30) as
// floats, elements 0..15 in lo — the bits of the Swift dequantization loops.
__attribute__((target("avx512f,f16c")))
static inline void block_floats(const uint8_t *row, const float *absmax, __m512 table, int kb, int type, __m512 *lo, __m512 *hi) {
    const uint8_t *x;
    switch (type) {
    case TAILOR_NF4: nf4_floats(row + (size_t)(kb / 2) * 32, kb % 2, absmax[kb / 2], table, lo, hi); return;
    case 12: x = row + (size_t)(kb / 8) * 144; k_quant_floats(x, x + 16, NULL, kb % 8, lo, hi); return;
    case 13: x = row + (size_t)(kb / 8) * 176; k_quant_floats(x, x + 48, x + 16, kb % 8, lo, hi); return;
    case 14: q6_k_floats(row + (size_t)(kb / 8) * 210, kb % 8, lo, hi); return;
    case 1:
        x = row + (size_t)kb * 64;
        *lo = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)x));
        *hi = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + 32)));
        return;
    case 30:
        x = row + (size_t)kb * 64;
        *lo = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)x)), 16));
        *hi = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(x + 32))), 16));
        return;
    default: block32_floats(row + (size_t)kb * block32_bytes(type), type, lo, hi);
    }
}

__attribute__((target("avx512f,avx512bw,avx512bf16,f16c")))
void tailor_block_pack_bf16(int type, const uint8_t *const *rows, const float *const *absmax, const float *nf4_code, int count,
                            int k, int transposed, int tile_rows, int strip, uint16_t *packed) {
    int blocks = k / 32;
    __m512 table = nf4_code ? _mm512_loadu_ps(nf4_code) : _mm512_setzero_ps();
    if (!transposed) {  // rows are B's columns n (two 16-column blocks); one block is one 32-k tile
        for (int g = 0; g < 2; g++) {
            for (int kb = 0; kb < blocks; kb++) {
                __m512i v[16];
                for (int j = 0; j < 16; j++) {
                    int i = g * 16 + j;
                    v[j] = _mm512_setzero_si512();
                    if (i < count) {
                        __m512 lo, hi;
                        block_floats(rows[i], absmax ? absmax[i] : 0, table, kb, type, &lo, &hi);
                        v[j] = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
                    }
                }
                transpose16_epi32(v);  // pair r of column j → tile row r, slot j
                uint16_t *tile = packed + ((size_t)g * blocks + kb) * 512;
                for (int r = 0; r < 16; r++) _mm512_storeu_si512((void *)(tile + r * 32), v[r]);
            }
        }
        return;
    }
    // Transposed: the strip is k block `strip` of B = Wᵀ; tile row t pairs W rows 2t and 2t + 1,
    // and each block covers two 16-column blocks of B, written whole one after the other.
    int kblocks = (tile_rows + 31) / 32;
    for (int blk = 0; blk < blocks; blk++) {
        uint16_t *t0 = packed + ((size_t)(2 * blk) * kblocks + strip) * 512, *t1 = t0 + (size_t)kblocks * 512;
        for (int t = 0; t < 16; t++) {
            __m512 alo = _mm512_setzero_ps(), ahi = alo, blo = alo, bhi = alo;
            if (2 * t < count) block_floats(rows[2 * t], absmax ? absmax[2 * t] : 0, table, blk, type, &alo, &ahi);
            if (2 * t + 1 < count) block_floats(rows[2 * t + 1], absmax ? absmax[2 * t + 1] : 0, table, blk, type, &blo, &bhi);
            _mm512_storeu_si512((void *)(t0 + t * 32), interleave_halves((__m512i)_mm512_cvtne2ps_pbh(blo, alo)));
            _mm512_storeu_si512((void *)(t1 + t * 32), interleave_halves((__m512i)_mm512_cvtne2ps_pbh(bhi, ahi)));
        }
    }
}

// Σ_c x[r·k + c]·row[c] for r < R into out[r]: R is a constant where this is inlined, so the eight
// accumulators (two per row of x) stay in registers; two chains per row, as one would wait on FMA latency.
__attribute__((target("avx512f,f16c"), always_inline))
static inline void block_row_dots(int type, const uint8_t *row, int blocks, int k, const float *x, const int R, float *out) {
    __m512 a0[4], a1[4];
    for (int r = 0; r < R; r++) { a0[r] = _mm512_setzero_ps(); a1[r] = _mm512_setzero_ps(); }
    for (int kb = 0; kb < blocks; kb++) {
        __m512 lo, hi;
        block_floats(row, NULL, _mm512_setzero_ps(), kb, type, &lo, &hi);
        for (int r = 0; r < R; r++) {
            const float *xr = x + (long)r * k + 32 * kb;
            a0[r] = _mm512_fmadd_ps(lo, _mm512_loadu_ps(xr), a0[r]);
            a1[r] = _mm512_fmadd_ps(hi, _mm512_loadu_ps(xr + 16), a1[r]);
        }
    }
    for (int r = 0; r < R; r++) out[r] = _mm512_reduce_add_ps(_mm512_add_ps(a0[r], a1[r]));
}

// y[r·ldy + (o − o0)] = Σ_c x[r·k + c]·W[o][c] for r < rows (at most 4: a decoding step) and o0 ≤ o < o1,
// row o of W at base + (order ? order[o] : o)·row_bytes in a block_floats format: the blocks are read
// once and decoded in registers (the same values as the Swift loops), where the tiled product would
// decode each matrix into fp32 tiles first.
__attribute__((target("avx512f,f16c")))
void tailor_block_rows_dot(int type, const uint8_t *base, long row_bytes, const int32_t *order, int o0, int o1, int k,
                           const float *x, int rows, float *y, long ldy) {
    int blocks = k / 32;
    for (int o = o0; o < o1; o++) {
        const uint8_t *row = base + (long)(order ? order[o] : o) * row_bytes;
        float out[4];
        switch (rows) {
        case 1: block_row_dots(type, row, blocks, k, x, 1, out); break;
        case 2: block_row_dots(type, row, blocks, k, x, 2, out); break;
        case 3: block_row_dots(type, row, blocks, k, x, 3, out); break;
        default: block_row_dots(type, row, blocks, k, x, 4, out); break;
        }
        for (int r = 0; r < rows; r++) y[(long)r * ldy + (o - o0)] = out[r];
    }
}

#endif
