#include "CTailorKernels.h"
#include "cpu.h"
#if TAILOR_X86
#include <immintrin.h>
#include "vec16.h"

// The bf16 attention's operand copies: the query heads that share a kv head stacked into one
// block and rounded to bf16, as rows or transposed (by gathers: the sources are a tile's few rows,
// which stay in L1), and the transposed dK/dV blocks added back. In Swift these were scalar loops,
// fp32 copies and separate rounding passes.

// Where stacked row s starts in the source: row s mod rows of head s / rows.
static inline long stacked_row(int s, int rows, long ld, int d) { return (long)(s % rows) * ld + (long)(s / rows) * d; }

// The offsets of stacked rows s0 ..< s0 + 16, for a gather.
__attribute__((target("avx512f")))
static inline __m512i stacked_offsets(int s0, int rows, long ld, int d) {
    int32_t o[16] __attribute__((aligned(64)));
    for (int t = 0; t < 16; t++) o[t] = (int32_t)stacked_row(s0 + t, rows, ld, d);
    return _mm512_load_si512(o);
}

__attribute__((target("avx512f,avx512bf16,avx512vl")))
void tailor_bf16_stack_heads(const float *src, long ld, int rows, int heads, int d, float scale, uint16_t *out, int kpad) {
    int m = rows * heads, mpad = (m + 31) & ~31;
    __m512 sc = _mm512_set1_ps(scale);
    for (int s = 0; s < mpad; s++) {
        uint16_t *dst = out + (long)s * kpad;
        if (s >= m) { zero_blocks(dst, 0, kpad); continue; }
        const float *row = src + stacked_row(s, rows, ld, d);
        for (int c = 0; c < kpad; c += 32) {
            __mmask16 k0 = tail_mask(d - c), k1 = tail_mask(d - c - 16);
            __m512 lo = _mm512_mul_ps(_mm512_maskz_loadu_ps(k0, row + c), sc), hi = _mm512_mul_ps(_mm512_maskz_loadu_ps(k1, row + c + 16), sc);
            _mm512_storeu_si512((void *)(dst + c), (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
        }
    }
}

__attribute__((target("avx512f,avx512bf16,avx512vl")))
void tailor_bf16_stack_heads_transposed(const float *src, long ld, int rows, int heads, int d, float scale, uint16_t *out,
                                        int ldo) {
    int m = rows * heads, dpad = (d + 31) & ~31;
    __m512 sc = _mm512_set1_ps(scale);
    for (int s0 = 0; s0 < ldo; s0 += 32) {
        __m512i lo_at = stacked_offsets(s0, rows, ld, d), hi_at = stacked_offsets(s0 + 16, rows, ld, d);
        __mmask16 k0 = tail_mask(m - s0), k1 = tail_mask(m - s0 - 16);
        for (int c = 0; c < dpad; c++) {
            __m512 lo = _mm512_setzero_ps(), hi = lo;
            if (c < d) {
                if (k0) lo = _mm512_mul_ps(_mm512_mask_i32gather_ps(lo, k0, lo_at, src + c, 4), sc);
                if (k1) hi = _mm512_mul_ps(_mm512_mask_i32gather_ps(hi, k1, hi_at, src + c, 4), sc);
            }
            _mm512_storeu_si512((void *)(out + (long)c * ldo + s0), (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
        }
    }
}

__attribute__((target("avx512f")))
void tailor_stacked_row_dots(const float *a, const float *b, long ld, int rows, int heads, int d, float *out) {
    for (int s = 0; s < rows * heads; s++) {
        long at = stacked_row(s, rows, ld, d);
        out[s] = dot_row(a + at, b + at, d);
    }
}

__attribute__((target("avx512f")))
void tailor_add_transposed(const float *part, int ldp, int d, int k0, int k1, float *grad, long ldg) {
    __m512i down = lane_offsets(ldp);
    for (int key = k0; key < k1; key++) {
        float *row = grad + (long)(key - k0) * ldg;
        for (int j = 0; j < d; j += 16) {
            __mmask16 k = tail_mask(d - j);
            __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, down, part + (long)j * ldp + key, 4);
            _mm512_mask_storeu_ps(row + j, k, _mm512_add_ps(_mm512_maskz_loadu_ps(k, row + j), v));
        }
    }
}

#endif
