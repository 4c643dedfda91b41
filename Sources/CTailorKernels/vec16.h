#ifndef TAILOR_VEC16_H
#define TAILOR_VEC16_H
#include <immintrin.h>
#include <stdint.h>
#include "exp_poly.h"

// Helpers shared by the AVX-512F kernels (16 float lanes).

// Lanes 0..<min(n, 16) set (none when n <= 0): the mask for the last, partial vector of a loop.
static inline __mmask16 tail_mask(long n) { return n >= 16 ? 0xFFFF : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }

// Lane t holds t·stride: the offsets of a 16-lane gather or scatter with a fixed stride.
__attribute__((target("avx512f")))
static inline __m512i lane_offsets(int stride) {
    return _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), _mm512_set1_epi32(stride));
}

// Σ a[j]·b[j] over n elements.
__attribute__((target("avx512f")))
static inline float dot_row(const float *a, const float *b, int n) {
    __m512 acc = _mm512_setzero_ps();
    for (int j = 0; j < n; j += 16) {
        __mmask16 k = tail_mask(n - j);
        acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, a + j), _mm512_maskz_loadu_ps(k, b + j), acc);
    }
    return _mm512_reduce_add_ps(acc);
}

// Lanes of the 16 columns from j whose index lies in lo...hi.
__attribute__((target("avx512f")))
static inline __mmask16 in_range(int j, int lo, int hi) {
    __m512i col = _mm512_add_epi32(_mm512_set1_epi32(j), _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0));
    return _mm512_cmp_epi32_mask(col, _mm512_set1_epi32(lo), _MM_CMPINT_NLT)
         & _mm512_cmp_epi32_mask(col, _mm512_set1_epi32(hi), _MM_CMPINT_LE);
}

// bf16 zeros over the 16-column blocks [from, to) of a row.
__attribute__((target("avx512f")))
static inline void zero_blocks(uint16_t *row, int from, int to) {
    for (int j = from; j < to; j += 16) _mm256_storeu_si256((__m256i *)(row + j), _mm256_setzero_si256());
}

// Interleaves the two 16-element halves of v (bf16 pairs of rows 2r and 2r + 1) into one row of an
// AMX B tile: element 2j from the low half, 2j + 1 from the high half.
__attribute__((target("avx512f,avx512bw")))
static inline __m512i interleave_halves(__m512i v) {
    const __m512i index = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                           23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    return _mm512_permutexvar_epi16(index, v);
}

// Transposes a 16 × 16 block of 32-bit elements held as 16 rows: afterwards r[i] holds column i
// (element j from row j). Four rounds of 16 shuffles: 32-bit and 64-bit interleaves within 128-bit
// lanes, then two rounds of 128-bit lane shuffles.
__attribute__((target("avx512f")))
static inline void transpose16_epi32(__m512i r[16]) {
    __m512i t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_i32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_i32x4(r[i], r[i + 4], 0xDD);
        t[i + 8] = _mm512_shuffle_i32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_i32x4(r[i + 8], r[i + 12], 0xDD);
    }
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0xDD);
    }
}

// Horner's rule over the 7 coefficients `c` (highest first) at x, in fused multiply-adds.
__attribute__((target("avx512f")))
static inline __m512 horner16(const float *c, __m512 x) {
    __m512 p = _mm512_set1_ps(c[0]);
    for (int i = 1; i < 7; i++) p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(c[i]));
    return p;
}

// e^x in 16 lanes: Cephes' expf range reduction and polynomial (as FastMath.exp), evaluated by
// Horner's rule in fused multiply-adds, so results may differ from it in the last bit. No clamp
// below: lanes under −87.34 are set to 0 (−∞ included); above 89, scalef overflows to ∞. NaN
// stays NaN (min returns its second operand for NaN). 14 operations, against 18 with both clamps
// and blends.
__attribute__((target("avx512f")))
static inline __m512 exp16(__m512 x) {
    __m512 xc = _mm512_min_ps(_mm512_set1_ps(89.0f), x);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), xc);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    // e^r = 1 + r(1 + r(½ + …))
    __m512 y = _mm512_scalef_ps(_mm512_fmadd_ps(horner16(tailor_exp_poly, r), r, _mm512_set1_ps(1.0f)), n);
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.33654f), _CMP_LT_OQ), y, _mm512_setzero_ps());
}

// e^(x − shift) for x ≤ shift (a softmax's shifted scores): 2^t, t = (x − shift)·log2e, by
// Cephes' exp2f polynomial on t's fraction — within 6e-8 of the true value absolutely (the range
// that matters when the results are summed to at most 1 or rounded to bf16), 12 operations. Below
// 2^−126 results stay at 2^−126 (no denormals; −∞ too); NaN stays NaN.
__attribute__((target("avx512f")))
static inline __m512 exp16_softmax(__m512 x, __m512 shift) {
    __m512 t = _mm512_mul_ps(_mm512_sub_ps(x, shift), _mm512_set1_ps(1.44269504088896341f));
    t = _mm512_max_ps(_mm512_set1_ps(-126.0f), t);
    __m512 n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(t, n);  // [−½, ½]
    return _mm512_scalef_ps(horner16(tailor_exp2_poly, f), n);
}

#endif
