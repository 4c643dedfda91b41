// Products with one small dimension r (a LoRA rank): x·aᵀ, t·b and tᵀ·x for x [rows, k] and
// a, b [r, k]. sgemm packs both operands on every call, which for r ≈ 8 costs more than the
// arithmetic; these read the big operand once, straight from memory, and keep the small one in L1.
#include "CTailorKernels.h"
#include "cpu.h"
#if TAILOR_X86
#include <immintrin.h>
#include "vec16.h"

// Ranks are taken 8 at a time; a group with fewer points its missing rows at its first and
// does not store them.
#define GROUP 8

__attribute__((target("avx512f")))
void tailor_skinny_dots(const float *x, long ldx, int rows, int k, const float *a, int r, float alpha, float *t, int ldt) {
    for (int j0 = 0; j0 < r; j0 += GROUP) {
        int g = r - j0 < GROUP ? r - j0 : GROUP;
        const float *arow[GROUP];
        for (int j = 0; j < GROUP; j++) arow[j] = a + (long)(j0 + (j < g ? j : 0)) * k;
        int i = 0;
        for (; i + 1 < rows; i += 2) {  // two rows share each load of a
            const float *x0 = x + (long)i * ldx, *x1 = x0 + ldx;
            __m512 acc0[GROUP], acc1[GROUP];
            for (int j = 0; j < GROUP; j++) { acc0[j] = _mm512_setzero_ps(); acc1[j] = _mm512_setzero_ps(); }
            for (int c = 0; c < k; c += 16) {
                __mmask16 m = tail_mask(k - c);
                __m512 v0 = _mm512_maskz_loadu_ps(m, x0 + c), v1 = _mm512_maskz_loadu_ps(m, x1 + c);
                for (int j = 0; j < GROUP; j++) {
                    __m512 av = _mm512_maskz_loadu_ps(m, arow[j] + c);
                    acc0[j] = _mm512_fmadd_ps(v0, av, acc0[j]);
                    acc1[j] = _mm512_fmadd_ps(v1, av, acc1[j]);
                }
            }
            for (int j = 0; j < g; j++) {
                t[(long)i * ldt + j0 + j] = alpha * _mm512_reduce_add_ps(acc0[j]);
                t[(long)(i + 1) * ldt + j0 + j] = alpha * _mm512_reduce_add_ps(acc1[j]);
            }
        }
        if (i < rows) {
            const float *x0 = x + (long)i * ldx;
            __m512 acc0[GROUP];
            for (int j = 0; j < GROUP; j++) acc0[j] = _mm512_setzero_ps();
            for (int c = 0; c < k; c += 16) {
                __mmask16 m = tail_mask(k - c);
                __m512 v0 = _mm512_maskz_loadu_ps(m, x0 + c);
                for (int j = 0; j < GROUP; j++) acc0[j] = _mm512_fmadd_ps(v0, _mm512_maskz_loadu_ps(m, arow[j] + c), acc0[j]);
            }
            for (int j = 0; j < g; j++) t[(long)i * ldt + j0 + j] = alpha * _mm512_reduce_add_ps(acc0[j]);
        }
    }
}

// y[i, c] (+)= alpha·Σ_j t[i, j]·b[j, c]: four 16-column chunks of two rows at a time, so each
// load of b feeds two multiply-adds and each broadcast of t four.
__attribute__((target("avx512f")))
void tailor_skinny_rank_update(const float *t, int ldt, int rows, int r, const float *b, int n, float alpha, float *y,
                               long ldy, int accumulate) {
    for (int i = 0; i < rows; i += 2) {
        int pair = i + 1 < rows;
        const float *t0 = t + (long)i * ldt, *t1 = pair ? t0 + ldt : t0;
        float *y0 = y + (long)i * ldy, *y1 = y0 + ldy;
        for (int c0 = 0; c0 < n; c0 += 64) {
            __mmask16 m[4];
            __m512 acc0[4], acc1[4];
            for (int q = 0; q < 4; q++) {
                m[q] = tail_mask(n - c0 - 16 * q);
                acc0[q] = _mm512_setzero_ps(); acc1[q] = _mm512_setzero_ps();
            }
            for (int j = 0; j < r; j++) {
                __m512 s0 = _mm512_set1_ps(t0[j]), s1 = _mm512_set1_ps(t1[j]);
                const float *bj = b + (long)j * n + c0;
                for (int q = 0; q < 4; q++) {
                    __m512 bv = _mm512_maskz_loadu_ps(m[q], bj + 16 * q);
                    acc0[q] = _mm512_fmadd_ps(s0, bv, acc0[q]);
                    acc1[q] = _mm512_fmadd_ps(s1, bv, acc1[q]);
                }
            }
            __m512 al = _mm512_set1_ps(alpha);
            for (int q = 0; q < 4; q++) {
                if (!m[q]) break;
                int c = c0 + 16 * q;
                __m512 o0 = accumulate ? _mm512_maskz_loadu_ps(m[q], y0 + c) : _mm512_setzero_ps();
                _mm512_mask_storeu_ps(y0 + c, m[q], _mm512_fmadd_ps(al, acc0[q], o0));
                if (pair) {
                    __m512 o1 = accumulate ? _mm512_maskz_loadu_ps(m[q], y1 + c) : _mm512_setzero_ps();
                    _mm512_mask_storeu_ps(y1 + c, m[q], _mm512_fmadd_ps(al, acc1[q], o1));
                }
            }
        }
    }
}

// Rows per pass of tailor_skinny_outer. Streaming every row of x past each 32-column block touched
// 2 cache lines per row across thousands of pages (x rows of 1536 floats are 6 KiB apart): TLB
// misses and no prefetching. 32 rows at a time keep each block's reads to a few pages, and a
// chunk's rows in L2 for the next block and rank group. 8 × 1536 × 4096 on 2 threads: 1.3–1.8 →
// 0.6–1.0 ms; 16 rows measured the same, 64 and 128 slower.
#define OUTER_ROWS 32

// out[j, c] (+)= alpha·Σ_i t[i, j]·x[i, c] for columns [c_lo, c_hi): two 16-column chunks × 8 ranks
// in registers while OUTER_ROWS rows stream past; out gathers the chunks' partial sums.
__attribute__((target("avx512f")))
void tailor_skinny_outer(const float *t, int ldt, int rows, int r, const float *x, long ldx, int c_lo, int c_hi, float alpha,
                         float *out, int ldo, int accumulate) {
    __m512 al = _mm512_set1_ps(alpha);
    for (int i0 = 0; i0 < rows; i0 += OUTER_ROWS) {
        int i1 = rows - i0 < OUTER_ROWS ? rows : i0 + OUTER_ROWS, add = accumulate || i0 > 0;
        for (int j0 = 0; j0 < r; j0 += GROUP) {
            int g = r - j0 < GROUP ? r - j0 : GROUP;
            for (int c = c_lo; c < c_hi; c += 32) {
                __mmask16 m0 = tail_mask(c_hi - c), m1 = tail_mask(c_hi - c - 16);
                __m512 acc0[GROUP], acc1[GROUP];
                for (int j = 0; j < GROUP; j++) { acc0[j] = _mm512_setzero_ps(); acc1[j] = _mm512_setzero_ps(); }
                for (int i = i0; i < i1; i++) {
                    const float *xi = x + (long)i * ldx + c, *ti = t + (long)i * ldt + j0;
                    __m512 v0 = _mm512_maskz_loadu_ps(m0, xi), v1 = _mm512_maskz_loadu_ps(m1, xi + 16);
                    for (int j = 0; j < GROUP; j++) {
                        __m512 s = _mm512_set1_ps(ti[j < g ? j : 0]);
                        acc0[j] = _mm512_fmadd_ps(s, v0, acc0[j]);
                        acc1[j] = _mm512_fmadd_ps(s, v1, acc1[j]);
                    }
                }
                for (int j = 0; j < g; j++) {
                    float *o = out + (long)(j0 + j) * ldo + c;
                    __m512 o0 = add ? _mm512_maskz_loadu_ps(m0, o) : _mm512_setzero_ps();
                    __m512 o1 = add ? _mm512_maskz_loadu_ps(m1, o + 16) : _mm512_setzero_ps();
                    _mm512_mask_storeu_ps(o, m0, _mm512_fmadd_ps(al, acc0[j], o0));
                    _mm512_mask_storeu_ps(o + 16, m1, _mm512_fmadd_ps(al, acc1[j], o1));
                }
            }
        }
    }
}

#endif
