#include "CTailorKernels.h"
#include "cpu.h"
#if TAILOR_X86
#include <immintrin.h>
#include "vec16.h"

__attribute__((target("avx512f")))
static inline __m512 sigmoid16(__m512 g) {
    __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(one, _mm512_add_ps(one, exp16(_mm512_sub_ps(_mm512_setzero_ps(), g))));
}

__attribute__((target("avx512f")))
void tailor_swiglu_forward(const float *gate, const float *up, float *h, long n) {
    long i = 0;
    for (; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        __m512 g = _mm512_maskz_loadu_ps(m, gate + i), u = _mm512_maskz_loadu_ps(m, up + i);
        _mm512_mask_storeu_ps(h + i, m, _mm512_mul_ps(_mm512_mul_ps(g, sigmoid16(g)), u));
    }
}

__attribute__((target("avx512f")))
void tailor_swiglu_backward(const float *dh, const float *gate, const float *up, float *dgate, float *dup, long n,
                            int accumulate_gate, int accumulate_up) {
    __m512 one = _mm512_set1_ps(1.0f);
    for (long i = 0; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i), mg = accumulate_gate ? m : 0, mu = accumulate_up ? m : 0;
        __m512 g = _mm512_maskz_loadu_ps(m, gate + i), u = _mm512_maskz_loadu_ps(m, up + i), d = _mm512_maskz_loadu_ps(m, dh + i);
        __m512 s = sigmoid16(g);
        __m512 gs = _mm512_mul_ps(g, s);
        // dUp (+)= d·g·σ;  dGate (+)= d·up·σ·(1 + g·(1 − σ)); a buffer that is written, not added to, is not read
        __m512 du = _mm512_fmadd_ps(d, gs, _mm512_maskz_loadu_ps(mu, dup + i));
        __m512 deriv = _mm512_mul_ps(s, _mm512_fmadd_ps(g, _mm512_sub_ps(one, s), one));
        __m512 dg = _mm512_fmadd_ps(_mm512_mul_ps(d, u), deriv, _mm512_maskz_loadu_ps(mg, dgate + i));
        _mm512_mask_storeu_ps(dup + i, m, du);
        _mm512_mask_storeu_ps(dgate + i, m, dg);
    }
}

#endif
