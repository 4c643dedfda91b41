#include "CTailorKernels.h"
#include <immintrin.h>
#include "vec16.h"

// Transposing copies of the bf16 attention backward, by gathers: the sources are small ([rows, 64]
// per tile) or their lines are reused by the next 15 gathers, so they stay in L1. In Swift these
// were scalar loops, about 15 % of that backward's time outside the products.

__attribute__((target("avx512f")))
static inline __m512i strided(int stride) {
    return _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), _mm512_set1_epi32(stride));
}

__attribute__((target("avx512f,avx512bf16,avx512vl")))
void tailor_bf16_round_transposed(const float *a, int rows, int cols, int lda, uint16_t *out, int ldo) {
    __m512i down = strided(lda);
    int cpad = (cols + 31) & ~31;
    for (int c = 0; c < cpad; c++) {
        uint16_t *dst = out + (long)c * ldo;
        for (int r = 0; r < ldo; r += 32) {
            __m512 lo = _mm512_setzero_ps(), hi = lo;
            if (c < cols) {
                __mmask16 k0 = tail_mask(rows - r), k1 = tail_mask(rows - r - 16);
                if (k0) lo = _mm512_mask_i32gather_ps(lo, k0, down, a + (long)r * lda + c, 4);
                if (k1) hi = _mm512_mask_i32gather_ps(hi, k1, down, a + (long)(r + 16) * lda + c, 4);
            }
            _mm512_storeu_si512((void *)(dst + r), (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
        }
    }
}

__attribute__((target("avx512f")))
void tailor_add_transposed(const float *part, int ldp, int d, int k0, int k1, float *grad, long ldg) {
    __m512i down = strided(ldp);
    for (int key = k0; key < k1; key++) {
        float *row = grad + (long)(key - k0) * ldg;
        for (int j = 0; j < d; j += 16) {
            __mmask16 k = tail_mask(d - j);
            __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, down, part + (long)j * ldp + key, 4);
            _mm512_mask_storeu_ps(row + j, k, _mm512_add_ps(_mm512_maskz_loadu_ps(k, row + j), v));
        }
    }
}
