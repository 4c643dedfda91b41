// Off x86-64 the AVX2, AVX-512 and AMX kernels do not exist: these stand in for their entry points
// so that the Swift code, which has no architecture conditions, links everywhere. Every caller
// checks tailor_avx2_available, tailor_avx512_available or tailor_amx_enable first, which answer 0
// here, so reaching one is a bug in Tailor; it says which kernel and stops.
#include "CTailorKernels.h"
#include "cpu.h"
#if !TAILOR_X86
#include <stdio.h>
#include <stdlib.h>

__attribute__((noreturn)) static void unsupported(const char *kernel) {
    fprintf(stderr, "tailor: internal error: %s is an x86-64 kernel and this CPU is not x86-64\n", kernel);
    abort();
}

void tailor_bf16_round_rows(const float *a, int m0, int m1, int k, int lda, uint16_t *out, int kpad) {
    unsupported(__func__);
}
void tailor_bf16_stack_heads(const float *src, long ld, int rows, int heads, int d, float scale, uint16_t *out,
                             int kpad) {
    unsupported(__func__);
}
void tailor_bf16_stack_heads_transposed(const float *src, long ld, int rows, int heads, int d, float scale,
                                        uint16_t *out, int ldo) {
    unsupported(__func__);
}
void tailor_stacked_row_dots(const float *a, const float *b, long ld, int rows, int heads, int d, float *out) {
    unsupported(__func__);
}
void tailor_add_transposed(const float *part, int ldp, int d, int k0, int k1, float *grad, long ldg) {
    unsupported(__func__);
}
void tailor_amx_gemm(const uint16_t *a16, int m, int kpad, const uint16_t *packed, int n, int packed_k, int kb0,
                     float *c, int ldc, int accumulate, int n0, int n1) {
    unsupported(__func__);
}
void tailor_dequant_q4_0(const uint8_t *src, long blocks, float *dst) { unsupported(__func__); }
void tailor_block_pack_bf16(int type, const uint8_t *const *rows, const float *const *absmax, const float *nf4_code,
                            int count, int k, int transposed, int tile_rows, int strip, uint16_t *packed) {
    unsupported(__func__);
}
void tailor_block_rows_dot(int type, const uint8_t *base, long row_bytes, const int32_t *order, int o0, int o1, int k,
                           const float *x, int rows, float *y, long ldy) {
    unsupported(__func__);
}
void tailor_skinny_dots(const float *x, long ldx, int rows, int k, const float *a, int r, float alpha, float *t,
                        int ldt) {
    unsupported(__func__);
}
void tailor_skinny_rank_update(const float *t, int ldt, int rows, int r, const float *b, int n, float alpha, float *y,
                               long ldy, int accumulate) {
    unsupported(__func__);
}
void tailor_skinny_outer(const float *t, int ldt, int rows, int r, const float *x, long ldx, int c_lo, int c_hi,
                         float alpha, float *out, int ldo, int accumulate) {
    unsupported(__func__);
}
void tailor_swiglu_forward(const float *gate, const float *up, float *h, long n) { unsupported(__func__); }
void tailor_swiglu_backward(const float *dh, const float *gate, const float *up, float *dgate, float *dup, long n,
                            int accumulate_gate, int accumulate_up) {
    unsupported(__func__);
}
void tailor_attention_softmax_rows(float *scores, int rows, int cols, const int32_t *first_key, int key_offset, int q0,
                                   float *lse) {
    unsupported(__func__);
}
void tailor_attention_softmax_backward_rows(float *p, float *ds, int rows, int cols, const int32_t *first_key,
                                            int key_offset, int q0, const float *lse, const float *dout,
                                            const float *out, long ld, int head_dim) {
    unsupported(__func__);
}
void tailor_attention_softmax_rows_bf16(const float *scores, int rows, int cols, const int32_t *first_key,
                                        int key_offset, int q0, float *lse, float *inv_sum, uint16_t *p16, int kpad) {
    unsupported(__func__);
}
void tailor_attention_backward_scores_bf16(const uint16_t *qs16, const uint16_t *dos16, int rows, int kpad,
                                           const uint16_t *kpack, const uint16_t *vpack, int packed_k, int key0,
                                           int key1, const int32_t *first_key, int q0, int tq, const float *lse,
                                           long lse_head, const float *drow, uint16_t *ds16, long ldo, uint16_t *p_pack,
                                           uint16_t *ds_pack, float *scratch) {
    unsupported(__func__);
}
void tailor_rmsnorm_forward(const float *x, const float *w, float *y, float *rstd, long r0, long r1, int dim,
                            float eps) {
    unsupported(__func__);
}
void tailor_rmsnorm_backward(const float *dy, const float *x, const float *w, const float *rstd, float *dx, long r0,
                             long r1, int dim) {
    unsupported(__func__);
}
void tailor_rmsnorm_weight_gradient(const float *dy, const float *x, const float *rstd, float *dw, long rows, int dim,
                                    int c0, int c1) {
    unsupported(__func__);
}
float tailor_exp_shifted(const float *x, float *y, long n, float shift) { unsupported(__func__); }
float tailor_softmax_exp(const float *x, float *y, long n, float shift) { unsupported(__func__); }
void tailor_exp_scaled(const float *x, float *y, long n, float shift, float scale) { unsupported(__func__); }
void tailor_avx2_swiglu_forward(const float *gate, const float *up, float *h, long n) { unsupported(__func__); }
void tailor_avx2_swiglu_backward(const float *dh, const float *gate, const float *up, float *dgate, float *dup, long n,
                                 int accumulate_gate, int accumulate_up) {
    unsupported(__func__);
}
void tailor_avx2_rmsnorm_forward(const float *x, const float *w, float *y, float *rstd, long r0, long r1, int dim,
                                 float eps) {
    unsupported(__func__);
}
void tailor_avx2_rmsnorm_backward(const float *dy, const float *x, const float *w, const float *rstd, float *dx,
                                  long r0, long r1, int dim) {
    unsupported(__func__);
}
void tailor_avx2_rmsnorm_weight_gradient(const float *dy, const float *x, const float *rstd, float *dw, long rows,
                                         int dim, int c0, int c1) {
    unsupported(__func__);
}
float tailor_avx2_exp_shifted(const float *x, float *y, long n, float shift) { unsupported(__func__); }
float tailor_avx2_softmax_exp(const float *x, float *y, long n, float shift) { unsupported(__func__); }
void tailor_avx2_exp_scaled(const float *x, float *y, long n, float shift, float scale) { unsupported(__func__); }
void tailor_avx2_attention_softmax_rows(float *scores, int rows, int cols, const int32_t *first_key, int key_offset,
                                        int q0, float *lse) {
    unsupported(__func__);
}
void tailor_avx2_attention_softmax_backward_rows(float *p, float *ds, int rows, int cols, const int32_t *first_key,
                                                 int key_offset, int q0, const float *lse, const float *dout,
                                                 const float *out, long ld, int head_dim) {
    unsupported(__func__);
}

#endif
