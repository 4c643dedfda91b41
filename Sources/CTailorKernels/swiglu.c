#include "CTailorKernels.h"
#include <cpuid.h>
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>
#include "vec16.h"

int tailor_isa_cap(void) {
    const char *s = getenv("TAILOR_ISA");
    if (!s || !*s || !strcmp(s, "native")) return 3;
    if (!strcmp(s, "generic")) return 0;
    if (!strcmp(s, "avx2")) return 1;
    if (!strcmp(s, "avx512")) return 2;
    return -1;
}

int tailor_isa_allows(int level) {
    int cap = tailor_isa_cap();
    return cap < 0 || cap >= level;  // an invalid value (which the command line refuses) counts as native
}

static int avx512_state = -1;

int tailor_avx512_available(void) {
    if (avx512_state >= 0) return avx512_state;
    unsigned a, b, c, d;
    int ok = 0;
    if (tailor_isa_allows(2) && __get_cpuid_count(7, 0, &a, &b, &c, &d) && ((b >> 16) & 1)) {  // AVX512F
        // The OS must save the AVX-512 state: XCR0 bits 1, 2, 5, 6, 7.
        unsigned a1, b1, c1, d1;
        if (__get_cpuid(1, &a1, &b1, &c1, &d1) && ((c1 >> 27) & 1)) {  // OSXSAVE
            unsigned lo, hi;
            __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
            ok = (lo & 0xE6) == 0xE6;
        }
    }
    avx512_state = ok;
    return ok;
}

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
