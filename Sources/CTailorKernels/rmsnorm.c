#include "CTailorKernels.h"
#include "cpu.h"
#if TAILOR_X86
#include <math.h>
#include <immintrin.h>
#include "vec16.h"

// RMSNorm's row passes in 16 lanes (Swift's baseline x86-64 build keeps its fp32 reductions
// scalar: about 10 GB/s on [1024, 576]).

__attribute__((target("avx512f")))
void tailor_rmsnorm_forward(const float *x, const float *w, float *y, float *rstd, long r0, long r1, int dim, float eps) {
    for (long r = r0; r < r1; r++) {
        const float *xr = x + r * dim;
        float *yr = y + r * dim;
        __m512 ss = _mm512_setzero_ps();
        for (int j = 0; j < dim; j += 16) {
            __m512 v = _mm512_maskz_loadu_ps(tail_mask(dim - j), xr + j);
            ss = _mm512_fmadd_ps(v, v, ss);
        }
        float s = 1 / sqrtf(_mm512_reduce_add_ps(ss) / (float)dim + eps);
        rstd[r] = s;
        __m512 sv = _mm512_set1_ps(s);
        for (int j = 0; j < dim; j += 16) {
            __mmask16 k = tail_mask(dim - j);
            __m512 n = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, xr + j), sv);
            _mm512_mask_storeu_ps(yr + j, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, w + j), n));
        }
    }
}

__attribute__((target("avx512f")))
void tailor_rmsnorm_backward(const float *dy, const float *x, const float *w, const float *rstd, float *dx, long r0, long r1,
                             int dim) {
    for (long r = r0; r < r1; r++) {
        const float *xr = x + r * dim, *dyr = dy + r * dim;
        float *dxr = dx + r * dim;
        float s = rstd[r];
        __m512 dot = _mm512_setzero_ps();  // Σ dy·w·x
        for (int j = 0; j < dim; j += 16) {
            __mmask16 k = tail_mask(dim - j);
            __m512 dn = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, dyr + j), _mm512_maskz_loadu_ps(k, w + j));
            dot = _mm512_fmadd_ps(dn, _mm512_maskz_loadu_ps(k, xr + j), dot);
        }
        float c = _mm512_reduce_add_ps(dot) * s / (float)dim;  // mean(dn·n)
        __m512 sv = _mm512_set1_ps(s), scv = _mm512_set1_ps(s * c);
        for (int j = 0; j < dim; j += 16) {  // dx += s·(dy·w − x·s·c)
            __mmask16 k = tail_mask(dim - j);
            __m512 dn = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, dyr + j), _mm512_maskz_loadu_ps(k, w + j));
            __m512 t = _mm512_fnmadd_ps(_mm512_maskz_loadu_ps(k, xr + j), scv, dn);
            _mm512_mask_storeu_ps(dxr + j, k, _mm512_fmadd_ps(sv, t, _mm512_maskz_loadu_ps(k, dxr + j)));
        }
    }
}

// Row by row (the rows stream from memory; dw[c0..<c1] stays in L1).
__attribute__((target("avx512f")))
void tailor_rmsnorm_weight_gradient(const float *dy, const float *x, const float *rstd, float *dw, long rows, int dim,
                                    int c0, int c1) {
    for (long r = 0; r < rows; r++) {
        const float *dyr = dy + r * dim, *xr = x + r * dim;
        __m512 s = _mm512_set1_ps(rstd[r]);
        for (int j = c0; j < c1; j += 16) {
            __mmask16 k = tail_mask(c1 - j);
            __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, dyr + j), _mm512_maskz_loadu_ps(k, xr + j));
            _mm512_mask_storeu_ps(dw + j, k, _mm512_fmadd_ps(v, s, _mm512_maskz_loadu_ps(k, dw + j)));
        }
    }
}

#endif
