#ifndef TAILOR_VEC8_H
#define TAILOR_VEC8_H
#include <immintrin.h>
#include <stdint.h>
#include "exp_poly.h"

// Helpers for the AVX2 + FMA kernels (8 float lanes), the tier for CPUs without AVX-512. Main
// loops use plain loads and stores; only a loop's last, partial vector goes through the masked
// ones (vmaskmovps stores are microcoded on some AMD cores).

#define AVX2 __attribute__((target("avx2,fma")))

// Lanes 0..<min(n, 8) set (none when n <= 0), as a vmaskmovps mask.
AVX2 static inline __m256i tail8(long n) {
    static const int32_t ones_then_zeros[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    long c = n >= 8 ? 8 : n <= 0 ? 0 : n;
    return _mm256_loadu_si256((const __m256i *)(ones_then_zeros + 8 - c));
}

// Lanes outside the mask read as 0 and are not written.
AVX2 static inline __m256 load8(__m256i m, const float *p) { return _mm256_maskload_ps(p, m); }
AVX2 static inline void store8(float *p, __m256i m, __m256 v) { _mm256_maskstore_ps(p, m, v); }

AVX2 static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

AVX2 static inline float hmax8(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)));
}

// 2^n for integral n in [−126, 127], from the exponent bits.
AVX2 static inline __m256 pow2i8(__m256 n) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
}

// Horner's rule over the 7 coefficients `c` (highest first) at x, in fused multiply-adds.
AVX2 static inline __m256 horner8(const float *c, __m256 x) {
    __m256 p = _mm256_set1_ps(c[0]);
    for (int i = 1; i < 7; i++) p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(c[i]));
    return p;
}

// e^x in 8 lanes: exp16's range reduction and polynomial (Cephes' expf, as FastMath.exp) in fused
// multiply-adds. Without scalef, 2^n is built in two halves (n reaches 128 just below the top).
// 0 below −87.34 (−∞ included), +∞ above 88.72; NaN stays NaN (min and max return their second
// operand, x, for NaN).
AVX2 static inline __m256 exp8(__m256 x) {
    const __m256 hi = _mm256_set1_ps(88.72283f), lo = _mm256_set1_ps(-87.33654f);
    __m256 xc = _mm256_max_ps(lo, _mm256_min_ps(hi, x));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 e = _mm256_fmadd_ps(horner8(tailor_exp_poly, r), r, _mm256_set1_ps(1.0f));
    __m256 half = _mm256_floor_ps(_mm256_mul_ps(n, _mm256_set1_ps(0.5f)));  // n = half + (n − half), both in range
    __m256 y = _mm256_mul_ps(_mm256_mul_ps(e, pow2i8(half)), pow2i8(_mm256_sub_ps(n, half)));
    y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x, lo, _CMP_LT_OQ));
    return _mm256_blendv_ps(y, _mm256_set1_ps(__builtin_inff()), _mm256_cmp_ps(x, hi, _CMP_GT_OQ));
}

// e^(x − shift) for x ≤ shift: exp16_softmax's 2^t by Cephes' exp2f polynomial on t's fraction.
// Below 2^−126 results stay at 2^−126; NaN stays NaN.
AVX2 static inline __m256 exp8_softmax(__m256 x, __m256 shift) {
    __m256 t = _mm256_mul_ps(_mm256_sub_ps(x, shift), _mm256_set1_ps(1.44269504088896341f));
    t = _mm256_min_ps(_mm256_set1_ps(127.0f), _mm256_max_ps(_mm256_set1_ps(-126.0f), t));
    __m256 n = _mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 f = _mm256_sub_ps(t, n);  // [−½, ½]
    return _mm256_mul_ps(horner8(tailor_exp2_poly, f), pow2i8(n));
}

#endif
