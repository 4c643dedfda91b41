#ifndef CTAILORKERNELS_H
#define CTAILORKERNELS_H
#include <stddef.h>
#include <stdint.h>

/// Kernels in instructions Swift's baseline build does not emit (AVX2, AVX-512, Intel AMX tiles).
/// Each is compiled for its instruction set with a target attribute and only called after its
/// check (tailor_avx2_available, tailor_avx512_available, tailor_amx_enable) said yes, so the
/// package needs no -march flags. Off x86-64 every check says no and only the bf16 packing and
/// the checks themselves do work (see cpu.h).

/// The highest instruction set Tailor's own kernels may use, from the environment variable
/// TAILOR_ISA: 0 for "generic" (the Swift loops only), 1 for "avx2", 2 for "avx512" (no AMX), 3
/// when unset, empty or "native" (whatever the CPU has), -1 for any other value (callers report
/// it). Lets the paths other CPUs take run and be timed on this one.
int tailor_isa_cap(void);

/// 1 when TAILOR_ISA allows kernels of `level` (as tailor_isa_cap counts); an invalid value
/// allows all of them.
int tailor_isa_allows(int level);

/// 1 while the calling thread runs a chunk of one of Tailor's parallel loops (Parallel.forEachChunk
/// sets it), so products inside stay on that thread. Per thread: concurrent loops never see each
/// other's.
int tailor_in_parallel_chunk(void);

/// Sets the calling thread's flag read by tailor_in_parallel_chunk.
void tailor_set_in_parallel_chunk(int on);

/// 1 when this process may use AMX-BF16 tiles: the CPU has them, TAILOR_ISA allows them and Linux
/// granted the tile state (arch_prctl ARCH_REQ_XCOMP_PERM). Safe to call repeatedly.
int tailor_amx_enable(void);

/// uint16 elements of a matrix packed by tailor_bf16_pack: rows padded to 32, k to 32.
size_t tailor_bf16_packed_count(int n, int k);

/// Packs B[n, k] (fp32; element (r, c) at b[r*ldb + c], or at b[c*ldb + r] when `transposed`)
/// into bf16 tiles for C = A·Bᵀ: 16 columns × 32 k per 1 KiB tile, k pairs interleaved (VNNI),
/// zero padded. Rounds to nearest even.
void tailor_bf16_pack(const float *b, int n, int k, int ldb, int transposed, uint16_t *out);

/// tailor_bf16_pack for the tiles of k blocks [kb_lo, kb_hi) only (k from kb_lo·32 to kb_hi·32, and
/// below k); b points at k = kb_lo·32: element (r, c) at b[r*ldb + c − kb_lo·32], or at
/// b[(c − kb_lo·32)*ldb + r] when `transposed`. Other tiles of `out` are not touched.
void tailor_bf16_pack_kblocks(const float *b, int n, int k, int ldb, int transposed, int kb_lo, int kb_hi, uint16_t *out);

/// tailor_bf16_pack in plain C, one element at a time (the reference for the AVX-512 path, which
/// tailor_bf16_pack takes when the CPU has AVX512_BF16).
void tailor_bf16_pack_reference(const float *b, int n, int k, int ldb, int transposed, uint16_t *out);

/// Reads element (r, c) of a packed matrix back as fp32.
float tailor_bf16_packed_get(const uint16_t *packed, int n, int k, int r, int c);

/// Rows [r0, r1) × columns [c0, c1) of a packed matrix (k columns) as fp32, row-major.
void tailor_bf16_unpack(const uint16_t *packed, int k, int r0, int r1, int c0, int c1, float *out);

/// Rounds rows [m0, m1) of A[m, k] (fp32, row stride lda) to bf16 into out[m, kpad], zero
/// padding columns k..<kpad. Rows m..<mpad of out must be zeroed by the caller once.
void tailor_bf16_round_rows(const float *a, int m0, int m1, int k, int lda, uint16_t *out, int kpad);

/// Stacks `heads` adjacent heads of `rows` rows (row i of head r at src + i·ld + r·d, d floats)
/// into bf16 rows times scale: stacked row s = r·rows + i at out + s·kpad, columns d ..< kpad and
/// rows heads·rows ..< that rounded up to 32 zero (the left operand of tailor_amx_gemm; kpad a
/// multiple of 32). AVX512_BF16 only.
void tailor_bf16_stack_heads(const float *src, long ld, int rows, int heads, int d, float scale, uint16_t *out, int kpad);

/// The same stacked rows transposed: out[c·ldo + s] for c < d rounded up to 32 (rows past d zero)
/// and s < ldo (a multiple of 32, at least heads·rows; zeros past heads·rows). AVX512_BF16 only.
void tailor_bf16_stack_heads_transposed(const float *src, long ld, int rows, int heads, int d, float scale, uint16_t *out,
                                        int ldo);

/// out[r·rows + i] = Σ_j a[i·ld + r·d + j]·b[i·ld + r·d + j] over the stacked rows (AVX-512F).
void tailor_stacked_row_dots(const float *a, const float *b, long ld, int rows, int heads, int d, float *out);

/// grad[(key − k0)·ldg + j] += part[j·ldp + key] for k0 ≤ key < k1, j < d: adds the key columns of
/// a [d, ldp] block into d-wide rows (AVX-512F).
void tailor_add_transposed(const float *part, int ldp, int d, int k0, int k1, float *grad, long ldg);

/// C[m, n] = (or += when accumulate) A16[mpad, kpad] · B[:, kb0·32 ..< kb0·32 + kpad]ᵀ for output
/// columns [n0, n1) (multiples of 32, n1 may pass n), B packed by tailor_bf16_pack(n, packed_k).
/// mpad = m rounded up to 32; kpad is a multiple of 32 within B's padded k. Columns of C at
/// j are written at c[j] (callers offset c for a column slice). fp32 accumulation in AMX tiles.
void tailor_amx_gemm(const uint16_t *a16, int m, int kpad, const uint16_t *packed, int n, int packed_k, int kb0,
                     float *c, int ldc, int accumulate, int n0, int n1);

/// 1 when the CPU and OS support AVX-512F and TAILOR_ISA allows it (the elementwise kernels below
/// need it).
int tailor_avx512_available(void);

/// 1 when the CPU and OS support AVX2 and FMA and TAILOR_ISA allows them: the tailor_avx2_* kernels.
int tailor_avx2_available(void);

/// ggml Q4_0 blocks (18 bytes: an f16 scale, then 32 nibbles) to `blocks`·32 floats, bit for bit
/// as ggml's dequantize_row_q4_0 (AVX-512F).
void tailor_dequant_q4_0(const uint8_t *src, long blocks, float *dst);

/// y[r·ldy + (o − o0)] = Σ_c x[r·k + c]·W[o][c] for r < rows ≤ 4 and o0 ≤ o < o1, row o of W at
/// base + (order ? order[o] : o)·row_bytes in ggml type `type` (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K,
/// F16 or BF16; k a multiple of 32), decoded in registers (AVX-512F, F16C): a decoding step's product.
void tailor_block_rows_dot(int type, const uint8_t *base, long row_bytes, const int32_t *order, int o0, int o1, int k,
                           const float *x, int rows, float *y, long ldy);

/// Marks NF4 for tailor_block_pack_bf16 (not a ggml type id).
#define TAILOR_NF4 1000

/// Rows of ggml blocks — Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (types 2, 3, 6, 7, 8; 32 elements a
/// block), Q4_K, Q5_K, Q6_K (12, 13, 14; 256) — or NF4 (TAILOR_NF4) straight into bf16 AMX tiles,
/// the bits dequantizing and then tailor_bf16_pack give: rows[i] (i < count ≤ 32) points at row
/// i's blocks (NF4: k / 64 blocks of 32 code bytes); for NF4, absmax[i] at its blocks' scales and
/// nf4_code at the 16 code values (both NULL otherwise). Not transposed: the rows are 32 columns
/// of B[n, k] (tailor_bf16_pack(rows, 32, k, k, 0) into packed). Transposed: they are k block
/// `strip` of B = Wᵀ[k, n] whose k is tile_rows (tailor_bf16_pack_kblocks(…, strip, strip + 1)).
/// Rows past count are zeros. Needs AVX512-BF16.
void tailor_block_pack_bf16(int type, const uint8_t *const *rows, const float *const *absmax, const float *nf4_code, int count,
                            int k, int transposed, int tile_rows, int strip, uint16_t *packed);

/// Products with one small dimension r (a LoRA rank), reading the big operand once (AVX-512F).
/// t[i·ldt + j] = alpha·Σ_c x[i·ldx + c]·a[j·k + c] for i < rows, j < r (x·aᵀ, a [r, k]).
void tailor_skinny_dots(const float *x, long ldx, int rows, int k, const float *a, int r, float alpha, float *t, int ldt);

/// y[i·ldy + c] = (y[i·ldy + c] when accumulate, else 0) + alpha·Σ_j t[i·ldt + j]·b[j·n + c] for
/// i < rows, c < n (t·b, b [r, n]).
void tailor_skinny_rank_update(const float *t, int ldt, int rows, int r, const float *b, int n, float alpha, float *y,
                               long ldy, int accumulate);

/// out[j·ldo + c] = (out[j·ldo + c] when accumulate, else 0) + alpha·Σ_i t[i·ldt + j]·x[i·ldx + c]
/// for j < r and columns c_lo ≤ c < c_hi (tᵀ·x).
void tailor_skinny_outer(const float *t, int ldt, int rows, int r, const float *x, long ldx, int c_lo, int c_hi, float alpha,
                         float *out, int ldo, int accumulate);

/// h = silu(gate)·up over n elements (AVX-512F; call only when tailor_avx512_available()).
void tailor_swiglu_forward(const float *gate, const float *up, float *h, long n);

/// dgate (+)= dh·up·silu'(gate), dup (+)= dh·silu(gate) over n elements (AVX-512F): `+=` into a
/// buffer whose accumulate flag is set, `=` otherwise.
void tailor_swiglu_backward(const float *dh, const float *gate, const float *up, float *dgate, float *dup, long n,
                            int accumulate_gate, int accumulate_up);

/// Tiled attention's forward row pass (AVX-512F) over scores[rows, cols]: row i sees columns
/// lo = first_key[i] − key_offset ... hi = q0 + i − key_offset. Each row becomes its softmax over
/// that range (zeros outside) and lse[i] its log-sum-exp.
void tailor_attention_softmax_rows(float *scores, int rows, int cols, const int32_t *first_key, int key_offset,
                                   int q0, float *lse);

/// The backward row pass (AVX-512F): p holds scale·QKᵀ and ds holds dO·Vᵀ for the same rows;
/// afterwards p = e^(p − lse) and ds = p ⊙ (ds − rowsum(dO ⊙ O)) in range, zeros outside. Row i
/// of dO and O starts at dout/out + i·ld and has head_dim elements.
void tailor_attention_softmax_backward_rows(float *p, float *ds, int rows, int cols, const int32_t *first_key,
                                            int key_offset, int q0, const float *lse, const float *dout,
                                            const float *out, long ld, int head_dim);

/// tailor_attention_softmax_rows for the bf16 kernel: lse[i] as there, but row i is written as its
/// unnormalised exponentials e^(s − max) in bf16 to p16 + i·kpad (zeros outside the row's range and
/// up to kpad, a multiple of 32), and inv_sum[i] = 1 / Σ e^(s − max) scales the row's P·V product.
/// scores is only read. AVX512_BF16 machines only.
void tailor_attention_softmax_rows_bf16(const float *scores, int rows, int cols, const int32_t *first_key, int key_offset,
                                        int q0, float *lse, float *inv_sum, uint16_t *p16, int kpad);

/// The bf16 attention backward's P and dS for one tile of `rows` stacked query rows (heads of `tq`
/// rows each): for keys key0 ..< key1 (key0 a multiple of 32), S = qs16·Kᵀ and dP = dos16·Vᵀ on AMX
/// (qs16, dos16: [pad32(rows), kpad] bf16; K and V packed by tailor_bf16_pack(seq, packed_k)), then
/// P = e^(S − lse) and dS = P ⊙ (dP − drow) in bf16, zeros outside each row's keys. dS goes to
/// ds16 as rows (row r at r·ldo, key j at column j − key0, up to key1 rounded up to 32; rows up to
/// pad32(rows), zero past rows, so ds16 is ready as tailor_amx_gemm's left operand); P and dS
/// also go to p_pack and ds_pack in the layout tailor_bf16_pack(transposed) gives B[keys, rows]
/// (n = key1 − key0, k = rows, zero rows up to pad32(rows)): the right operands of dV += Pᵀ·dO and
/// dK += dSᵀ·Q. Row r is row i = r mod tq of head r / tq: it sees keys first_key[i] ... q0 + i, its
/// log-sum-exp is lse[(r / tq)·lse_head + i] and drow[r] = rowsum(dO ⊙ O). scratch holds
/// 2·pad32(rows)·32 + 4·rows floats (64-byte aligned). AMX machines only.
void tailor_attention_backward_scores_bf16(const uint16_t *qs16, const uint16_t *dos16, int rows, int kpad,
                                           const uint16_t *kpack, const uint16_t *vpack, int packed_k, int key0, int key1,
                                           const int32_t *first_key, int q0, int tq, const float *lse, long lse_head,
                                           const float *drow, uint16_t *ds16, long ldo, uint16_t *p_pack, uint16_t *ds_pack,
                                           float *scratch);

/// RMSNorm rows [r0, r1) of x[rows, dim]: rstd[r] = 1/√(mean(x²) + eps), y = w·(x·rstd) (AVX-512F).
void tailor_rmsnorm_forward(const float *x, const float *w, float *y, float *rstd, long r0, long r1, int dim, float eps);

/// dx += s·(dy·w − x·s·mean(dy·w·x·s)) for rows [r0, r1), s = rstd[r] (AVX-512F).
void tailor_rmsnorm_backward(const float *dy, const float *x, const float *w, const float *rstd, float *dx, long r0, long r1,
                             int dim);

/// dw[j] += Σ_r dy[r, j]·x[r, j]·rstd[r] for columns [c0, c1) (AVX-512F).
void tailor_rmsnorm_weight_gradient(const float *dy, const float *x, const float *rstd, float *dw, long rows, int dim,
                                    int c0, int c1);

/// y[j] = e^(x[j] − shift) for j < n, returning Σ y (AVX-512F; x and y may be the same buffer).
float tailor_exp_shifted(const float *x, float *y, long n, float shift);

/// y[j] = e^(x[j] − shift) for j < n and x[j] ≤ shift, returning Σ y: the attention row passes'
/// exponential, within 6e-8 of the true value absolutely and at least 2^−126 (AVX-512F).
float tailor_softmax_exp(const float *x, float *y, long n, float shift);

/// y[j] = e^(x[j] − shift) · scale for j < n (AVX-512F; x and y may be the same buffer).
void tailor_exp_scaled(const float *x, float *y, long n, float shift, float scale);

/// The fp32 row kernels in AVX2 + FMA for CPUs without AVX-512 (call only when
/// tailor_avx2_available()): each takes the arguments of, and computes what, the function named
/// without `avx2_` does.
void tailor_avx2_swiglu_forward(const float *gate, const float *up, float *h, long n);
void tailor_avx2_swiglu_backward(const float *dh, const float *gate, const float *up, float *dgate, float *dup, long n,
                                 int accumulate_gate, int accumulate_up);
void tailor_avx2_rmsnorm_forward(const float *x, const float *w, float *y, float *rstd, long r0, long r1, int dim, float eps);
void tailor_avx2_rmsnorm_backward(const float *dy, const float *x, const float *w, const float *rstd, float *dx, long r0,
                                  long r1, int dim);
void tailor_avx2_rmsnorm_weight_gradient(const float *dy, const float *x, const float *rstd, float *dw, long rows, int dim,
                                         int c0, int c1);
float tailor_avx2_exp_shifted(const float *x, float *y, long n, float shift);
float tailor_avx2_softmax_exp(const float *x, float *y, long n, float shift);
void tailor_avx2_exp_scaled(const float *x, float *y, long n, float shift, float scale);
void tailor_avx2_attention_softmax_rows(float *scores, int rows, int cols, const int32_t *first_key, int key_offset,
                                        int q0, float *lse);
void tailor_avx2_attention_softmax_backward_rows(float *p, float *ds, int rows, int cols, const int32_t *first_key,
                                                 int key_offset, int q0, const float *lse, const float *dout,
                                                 const float *out, long ld, int head_dim);

#endif
