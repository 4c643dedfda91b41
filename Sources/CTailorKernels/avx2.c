// The fp32 row kernels again in AVX2 + FMA, for CPUs without AVX-512 (most laptops and desktops):
// the same operations, 8 lanes wide, each a line-for-line port of its AVX-512 version (swiglu.c,
// rmsnorm.c, softmax.c). Swift compiles for baseline x86-64 (4-lane SSE, no FMA), where these
// passes ran 1.5–5× slower (`TAILOR_ISA=generic tailor-bench kernels`). LoRA's rank-sized
// products stay on sgemm here: ported to AVX2 (16 registers, not 32), they cost a training step
// the same cycles as OpenBLAS's Haswell sgemm.
#include "CTailorKernels.h"
#include "cpu.h"
#if TAILOR_X86
#include <math.h>
#include "vec8.h"
#include "causal_rows.h"

// Within a loop over j with `left` elements from j on: whole vectors by plain loads and stores,
// the last partial one masked.
#define LOAD(p) (left >= 8 ? _mm256_loadu_ps(p) : load8(tail8(left), p))
#define STORE(p, v) (left >= 8 ? _mm256_storeu_ps(p, v) : store8(p, tail8(left), v))

AVX2 static inline __m256 sigmoid8(__m256 g) {
    __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), g))));
}

AVX2 void tailor_avx2_swiglu_forward(const float *gate, const float *up, float *h, long n) {
    for (long i = 0; i < n; i += 8) {
        long left = n - i;
        __m256 g = LOAD(gate + i), u = LOAD(up + i);
        STORE(h + i, _mm256_mul_ps(_mm256_mul_ps(g, sigmoid8(g)), u));
    }
}

AVX2 void tailor_avx2_swiglu_backward(const float *dh, const float *gate, const float *up, float *dgate, float *dup, long n,
                                      int accumulate_gate, int accumulate_up) {
    __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    for (long i = 0; i < n; i += 8) {
        long left = n - i;
        __m256 g = LOAD(gate + i), u = LOAD(up + i), d = LOAD(dh + i);
        __m256 s = sigmoid8(g), gs = _mm256_mul_ps(g, s);
        // dUp (+)= d·g·σ;  dGate (+)= d·up·σ·(1 + g·(1 − σ)); a buffer that is written, not added to, is not read
        __m256 du = _mm256_fmadd_ps(d, gs, accumulate_up ? LOAD(dup + i) : zero);
        __m256 deriv = _mm256_mul_ps(s, _mm256_fmadd_ps(g, _mm256_sub_ps(one, s), one));
        __m256 dg = _mm256_fmadd_ps(_mm256_mul_ps(d, u), deriv, accumulate_gate ? LOAD(dgate + i) : zero);
        STORE(dup + i, du);
        STORE(dgate + i, dg);
    }
}

AVX2 void tailor_avx2_rmsnorm_forward(const float *x, const float *w, float *y, float *rstd, long r0, long r1, int dim, float eps) {
    for (long r = r0; r < r1; r++) {
        const float *xr = x + r * dim;
        float *yr = y + r * dim;
        __m256 ss = _mm256_setzero_ps();
        for (int j = 0; j < dim; j += 8) {
            long left = dim - j;
            __m256 v = LOAD(xr + j);
            ss = _mm256_fmadd_ps(v, v, ss);
        }
        float s = 1 / sqrtf(hsum8(ss) / (float)dim + eps);
        rstd[r] = s;
        __m256 sv = _mm256_set1_ps(s);
        for (int j = 0; j < dim; j += 8) {
            long left = dim - j;
            STORE(yr + j, _mm256_mul_ps(LOAD(w + j), _mm256_mul_ps(LOAD(xr + j), sv)));
        }
    }
}

AVX2 void tailor_avx2_rmsnorm_backward(const float *dy, const float *x, const float *w, const float *rstd, float *dx, long r0,
                                       long r1, int dim) {
    for (long r = r0; r < r1; r++) {
        const float *xr = x + r * dim, *dyr = dy + r * dim;
        float *dxr = dx + r * dim;
        float s = rstd[r];
        __m256 dot = _mm256_setzero_ps();  // Σ dy·w·x
        for (int j = 0; j < dim; j += 8) {
            long left = dim - j;
            dot = _mm256_fmadd_ps(_mm256_mul_ps(LOAD(dyr + j), LOAD(w + j)), LOAD(xr + j), dot);
        }
        float c = hsum8(dot) * s / (float)dim;  // mean(dn·n)
        __m256 sv = _mm256_set1_ps(s), scv = _mm256_set1_ps(s * c);
        for (int j = 0; j < dim; j += 8) {  // dx += s·(dy·w − x·s·c)
            long left = dim - j;
            __m256 t = _mm256_fnmadd_ps(LOAD(xr + j), scv, _mm256_mul_ps(LOAD(dyr + j), LOAD(w + j)));
            STORE(dxr + j, _mm256_fmadd_ps(sv, t, LOAD(dxr + j)));
        }
    }
}

AVX2 void tailor_avx2_rmsnorm_weight_gradient(const float *dy, const float *x, const float *rstd, float *dw, long rows, int dim,
                                              int c0, int c1) {
    for (long r = 0; r < rows; r++) {
        const float *dyr = dy + r * dim, *xr = x + r * dim;
        __m256 s = _mm256_set1_ps(rstd[r]);
        for (int j = c0; j < c1; j += 8) {
            long left = c1 - j;
            STORE(dw + j, _mm256_fmadd_ps(_mm256_mul_ps(LOAD(dyr + j), LOAD(xr + j)), s, LOAD(dw + j)));
        }
    }
}

// y = e^(x − shift) over n elements, returning Σ y (exp8, or exp8_softmax when `softmax`).
AVX2 static inline float exp_sum8(const float *x, float *y, long n, float shift, int softmax) {
    __m256 s = _mm256_setzero_ps(), sh = _mm256_set1_ps(shift);
    for (long j = 0; j < n; j += 8) {
        long left = n - j;
        __m256 v = LOAD(x + j);
        __m256 e = softmax ? exp8_softmax(v, sh) : exp8(_mm256_sub_ps(v, sh));
        if (left < 8) e = _mm256_and_ps(e, _mm256_castsi256_ps(tail8(left)));  // lanes past n add nothing
        STORE(y + j, e);
        s = _mm256_add_ps(s, e);
    }
    return hsum8(s);
}

AVX2 float tailor_avx2_exp_shifted(const float *x, float *y, long n, float shift) { return exp_sum8(x, y, n, shift, 0); }

AVX2 float tailor_avx2_softmax_exp(const float *x, float *y, long n, float shift) { return exp_sum8(x, y, n, shift, 1); }

AVX2 void tailor_avx2_exp_scaled(const float *x, float *y, long n, float shift, float scale) {
    __m256 sh = _mm256_set1_ps(shift), sc = _mm256_set1_ps(scale);
    for (long j = 0; j < n; j += 8) {
        long left = n - j;
        STORE(y + j, _mm256_mul_ps(exp8(_mm256_sub_ps(LOAD(x + j), sh)), sc));
    }
}

AVX2 void tailor_avx2_attention_softmax_rows(float *scores, int rows, int cols, const int32_t *first_key, int key_offset,
                                             int q0, float *lse) {
    for (int i = 0; i < rows; i++) {
        float *row = scores + (long)i * cols;
        int lo = first_key[i] - key_offset, hi = q0 + i - key_offset, n = hi - lo + 1;
        float *x = row + lo;
        __m256 mv = _mm256_set1_ps(-__builtin_inff());
        for (int j = 0; j < n; j += 8) {
            long left = n - j;
            __m256 v = LOAD(x + j);
            mv = left >= 8 ? _mm256_max_ps(mv, v) : _mm256_blendv_ps(mv, _mm256_max_ps(mv, v), _mm256_castsi256_ps(tail8(left)));
        }
        float m = hmax8(mv), sum = exp_sum8(x, x, n, m, 1);
        __m256 inv = _mm256_set1_ps(1 / sum);
        for (int j = 0; j < n; j += 8) {
            long left = n - j;
            STORE(x + j, _mm256_mul_ps(LOAD(x + j), inv));
        }
        zero_outside(row, lo, hi, cols);
        lse[i] = m + logf(sum);
    }
}

AVX2 void tailor_avx2_attention_softmax_backward_rows(float *p, float *ds, int rows, int cols, const int32_t *first_key,
                                                      int key_offset, int q0, const float *lse, const float *dout,
                                                      const float *out, long ld, int head_dim) {
    for (int i = 0; i < rows; i++) {
        float *pr = p + (long)i * cols, *dr = ds + (long)i * cols;
        int lo = first_key[i] - key_offset, hi = q0 + i - key_offset, n = hi - lo + 1;
        __m256 dacc = _mm256_setzero_ps();
        const float *a = dout + (long)i * ld, *b = out + (long)i * ld;
        for (int j = 0; j < head_dim; j += 8) {
            long left = head_dim - j;
            dacc = _mm256_fmadd_ps(LOAD(a + j), LOAD(b + j), dacc);
        }
        __m256 d = _mm256_set1_ps(hsum8(dacc)), l = _mm256_set1_ps(lse[i]);  // rowsum(dO ⊙ O)
        float *x = pr + lo, *y = dr + lo;
        for (int j = 0; j < n; j += 8) {  // P = e^(S − lse); dS = P ⊙ (dP − d)
            long left = n - j;
            __m256 e = exp8_softmax(LOAD(x + j), l);
            STORE(x + j, e);
            STORE(y + j, _mm256_mul_ps(e, _mm256_sub_ps(LOAD(y + j), d)));
        }
        zero_outside(pr, lo, hi, cols);
        zero_outside(dr, lo, hi, cols);
    }
}

#endif
