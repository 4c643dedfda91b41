#include "CTailorKernels.h"
#include "cpu.h"
#if TAILOR_X86
#include <math.h>
#include <immintrin.h>
#include "vec16.h"
#include "causal_rows.h"

// The row passes of tiled causal attention, in 16 lanes. Swift compiles for baseline x86-64
// (4-lane SSE), where these passes took about a third of attention's time at seq 2048.

// x[0..<n] = e^(x − max x) in place; returns their sum and sets *max.
__attribute__((target("avx512f")))
static inline float exp_row(float *x, int n, float *max) {
    __m512 mv = _mm512_set1_ps(-__builtin_inff());
    for (int j = 0; j < n; j += 16) {
        __mmask16 k = tail_mask(n - j);
        mv = _mm512_mask_max_ps(mv, k, mv, _mm512_maskz_loadu_ps(k, x + j));
    }
    *max = _mm512_reduce_max_ps(mv);
    return tailor_softmax_exp(x, x, n, *max);
}

__attribute__((target("avx512f")))
void tailor_attention_softmax_rows(float *scores, int rows, int cols, const int32_t *first_key, int key_offset,
                                   int q0, float *lse) {
    for (int i = 0; i < rows; i++) {
        float *row = scores + (long)i * cols;
        int lo = first_key[i] - key_offset, hi = q0 + i - key_offset, n = hi - lo + 1;
        float *x = row + lo, m;
        float sum = exp_row(x, n, &m);
        __m512 inv = _mm512_set1_ps(1 / sum);
        for (int j = 0; j < n; j += 16) {
            __mmask16 k = tail_mask(n - j);
            _mm512_mask_storeu_ps(x + j, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + j), inv));
        }
        zero_outside(row, lo, hi, cols);
        lse[i] = m + logf(sum);
    }
}

__attribute__((target("avx512f")))
void tailor_attention_softmax_backward_rows(float *p, float *ds, int rows, int cols, const int32_t *first_key,
                                            int key_offset, int q0, const float *lse, const float *dout,
                                            const float *out, long ld, int head_dim) {
    for (int i = 0; i < rows; i++) {
        float *pr = p + (long)i * cols, *dr = ds + (long)i * cols;
        int lo = first_key[i] - key_offset, hi = q0 + i - key_offset, n = hi - lo + 1;
        __m512 d = _mm512_set1_ps(dot_row(dout + (long)i * ld, out + (long)i * ld, head_dim));  // rowsum(dO ⊙ O)
        __m512 l = _mm512_set1_ps(lse[i]);
        float *x = pr + lo, *y = dr + lo;
        for (int j = 0; j < n; j += 16) {  // P = e^(S − lse); dS = P ⊙ (dP − d)
            __mmask16 k = tail_mask(n - j);
            __m512 e = exp16_softmax(_mm512_maskz_loadu_ps(k, x + j), l);
            _mm512_mask_storeu_ps(x + j, k, e);
            _mm512_mask_storeu_ps(y + j, k, _mm512_mul_ps(e, _mm512_sub_ps(_mm512_maskz_loadu_ps(k, y + j), d)));
        }
        zero_outside(pr, lo, hi, cols);
        zero_outside(dr, lo, hi, cols);
    }
}

// y = e^(x − shift) over n elements, returning Σ y: by exp16, or by exp16_softmax when `softmax`
// (a constant at each call, so each caller gets its own loop).
__attribute__((target("avx512f")))
static inline float exp_sum(const float *x, float *y, long n, float shift, int softmax) {
    __m512 s = _mm512_setzero_ps(), sh = _mm512_set1_ps(shift);
    for (long j = 0; j < n; j += 16) {
        __mmask16 k = tail_mask(n - j);
        __m512 v = _mm512_maskz_loadu_ps(k, x + j);
        __m512 e = _mm512_maskz_mov_ps(k, softmax ? exp16_softmax(v, sh) : exp16(_mm512_sub_ps(v, sh)));
        _mm512_mask_storeu_ps(y + j, k, e);
        s = _mm512_add_ps(s, e);
    }
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx512f")))
float tailor_exp_shifted(const float *x, float *y, long n, float shift) { return exp_sum(x, y, n, shift, 0); }

__attribute__((target("avx512f")))
float tailor_softmax_exp(const float *x, float *y, long n, float shift) { return exp_sum(x, y, n, shift, 1); }

__attribute__((target("avx512f")))
void tailor_exp_scaled(const float *x, float *y, long n, float shift, float scale) {
    __m512 sh = _mm512_set1_ps(shift), sc = _mm512_set1_ps(scale);
    for (long j = 0; j < n; j += 16) {
        __mmask16 k = tail_mask(n - j);
        __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + j), sh));
        _mm512_mask_storeu_ps(y + j, k, _mm512_mul_ps(e, sc));
    }
}

// The bf16 forward row pass walks a row in 32-column blocks (one 64-byte bf16 store each): blocks
// wholly before lo or after hi are zeros (no exponentials), and only the first and the last block
// can straddle lo or hi and need lane masks (in_range on every block cost about a third of the pass).
// The rows stay unnormalised, e^(s − max), so the fp32 scores are only read (the caller scales the
// product P·V by inv_sum).
__attribute__((target("avx512f,avx512bf16,avx512vl")))
void tailor_attention_softmax_rows_bf16(const float *scores, int rows, int cols, const int32_t *first_key, int key_offset,
                                        int q0, float *lse, float *inv_sum, uint16_t *p16, int kpad) {
    for (int i = 0; i < rows; i++) {
        const float *row = scores + (long)i * cols;
        int lo = first_key[i] - key_offset, hi = q0 + i - key_offset, a = lo & ~31, b = (hi + 32) & ~31;
        __m512 m0 = _mm512_set1_ps(-__builtin_inff()), m1 = m0;
        int j = lo;
        for (; j + 32 <= hi + 1; j += 32) {
            m0 = _mm512_max_ps(m0, _mm512_loadu_ps(row + j));
            m1 = _mm512_max_ps(m1, _mm512_loadu_ps(row + j + 16));
        }
        for (; j <= hi; j += 16) {
            __mmask16 k = tail_mask(hi + 1 - j);
            m0 = _mm512_mask_max_ps(m0, k, m0, _mm512_maskz_loadu_ps(k, row + j));
        }
        __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(_mm512_max_ps(m0, m1))), sum = _mm512_setzero_ps();
        uint16_t *out = p16 + (long)i * kpad;
        zero_blocks(out, 0, a);
        zero_blocks(out, b, kpad);
        for (j = a; j < b; j += 32) {
            __m512 e0, e1;
            if (j >= lo && j + 31 <= hi) {
                e0 = exp16_softmax(_mm512_loadu_ps(row + j), m);
                e1 = exp16_softmax(_mm512_loadu_ps(row + j + 16), m);
            } else {
                __mmask16 k0 = in_range(j, lo, hi), k1 = in_range(j + 16, lo, hi);
                e0 = _mm512_maskz_mov_ps(k0, exp16_softmax(_mm512_maskz_loadu_ps(k0, row + j), m));
                e1 = _mm512_maskz_mov_ps(k1, exp16_softmax(_mm512_maskz_loadu_ps(k1, row + j + 16), m));
            }
            sum = _mm512_add_ps(sum, _mm512_add_ps(e0, e1));
            _mm512_storeu_si512((void *)(out + j), (__m512i)_mm512_cvtne2ps_pbh(e1, e0));
        }
        float total = _mm512_reduce_add_ps(sum);
        lse[i] = _mm512_cvtss_f32(m) + logf(total);
        inv_sum[i] = 1 / total;
    }
}

#endif
