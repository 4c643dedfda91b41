#include "CTailorKernels.h"
#include <string.h>
#include "cpu.h"
#if TAILOR_X86
#include <immintrin.h>
#include "vec16.h"
#include "amx_tiles.h"
#endif

static inline int pad32(int x) { return (x + 31) & ~31; }

size_t tailor_bf16_packed_count(int n, int k) { return (size_t)pad32(n) * (size_t)pad32(k); }

static inline uint16_t round_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)((u >> 16) | 0x40);  // quiet NaN
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

// Tile (nb, kb) holds columns nb*16..+16 and k kb*32..+32; inside, row r (k pair r) holds
// 16 columns × (k = 2r, 2r+1).
static inline size_t packed_index(int k, int r, int c) {
    int kblocks = pad32(k) / 32;
    int nb = r / 16, j = r % 16, kb = c / 32, kk = c % 32;
    return ((size_t)nb * kblocks + kb) * 512 + (size_t)(kk / 2) * 32 + j * 2 + (kk & 1);
}

#if TAILOR_X86
// The packing below in AVX-512: one 16-column × 32-k tile at a time, every element written
// (padding as zeros). Transposed sources read a k pair as two 16-float runs and interleave them;
// row-major sources round 32 k of each of 16 columns to 16 pairs and transpose the pairs into the tile.
// Tiles of k blocks [kb_lo, kb_hi) only; b points at k = kb_lo·32 (see tailor_bf16_pack_kblocks).
__attribute__((target("avx512f,avx512bf16,avx512bw")))
static void pack_avx512(const float *b, int n, int k, int ldb, int transposed, int kb_lo, int kb_hi, uint16_t *out) {
    int kblocks = pad32(k) / 32, nblocks = pad32(n) / 16;
    const int kbase = kb_lo * 32;  // b's first k
    for (int nb = 0; nb < nblocks; nb++) {
        int n0 = nb * 16, width = n - n0;
        for (int kb = kb_lo; kb < kb_hi; kb++) {
            uint16_t *tile = out + ((size_t)nb * kblocks + kb) * 512;
            int k0 = kb * 32;
            if (transposed) {
                __mmask16 m = tail_mask(width);
                for (int r = 0; r < 16; r++) {
                    int c = k0 + 2 * r;
                    __m512 lo = c < k ? _mm512_maskz_loadu_ps(m, b + (size_t)(c - kbase) * ldb + n0) : _mm512_setzero_ps();
                    __m512 hi = c + 1 < k ? _mm512_maskz_loadu_ps(m, b + (size_t)(c + 1 - kbase) * ldb + n0) : _mm512_setzero_ps();
                    __m512i v = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
                    _mm512_storeu_si512((void *)(tile + r * 32), interleave_halves(v));
                }
            } else {
                __mmask16 m0 = tail_mask(k - k0), m1 = tail_mask(k - k0 - 16);
                __m512i v[16];
                for (int j = 0; j < 16; j++) {
                    v[j] = _mm512_setzero_si512();
                    if (j < width) {
                        const float *src = b + (size_t)(n0 + j) * ldb + (k0 - kbase);
                        v[j] = (__m512i)_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(m1, src + 16), _mm512_maskz_loadu_ps(m0, src));
                    }
                }
                // Pair r (k0 + 2r, 2r + 1) of column j goes to tile row r, slot j: a transpose of
                // 32-bit pairs (16 scatters cost a third more: `kernels --only quantized` packing cycles, 2 runs each).
                transpose16_epi32(v);
                for (int r = 0; r < 16; r++) _mm512_storeu_si512((void *)(tile + r * 32), v[r]);
            }
        }
    }
}
#endif

void tailor_bf16_pack(const float *b, int n, int k, int ldb, int transposed, uint16_t *out) {
#if TAILOR_X86
    if (tailor_avx512_bf16_available()) { pack_avx512(b, n, k, ldb, transposed, 0, pad32(k) / 32, out); return; }
#endif
    tailor_bf16_pack_reference(b, n, k, ldb, transposed, out);
}

// The plain loop, one element at a time, over the tiles of k blocks [kb_lo, kb_hi); b points at k = kb_lo·32.
static void pack_plain(const float *b, int n, int k, int ldb, int transposed, int kb_lo, int kb_hi, uint16_t *out) {
    int kblocks = pad32(k) / 32, kbase = kb_lo * 32;
    for (int nb = 0; nb < pad32(n) / 16; nb++)
        for (int kb = kb_lo; kb < kb_hi; kb++) memset(out + ((size_t)nb * kblocks + kb) * 512, 0, 512 * sizeof(uint16_t));
    for (int r = 0; r < n; r++)
        for (int c = kbase; c < k && c < kb_hi * 32; c++) {
            float v = transposed ? b[(size_t)(c - kbase) * ldb + r] : b[(size_t)r * ldb + (c - kbase)];
            out[packed_index(k, r, c)] = round_bf16(v);
        }
}

void tailor_bf16_pack_kblocks(const float *b, int n, int k, int ldb, int transposed, int kb_lo, int kb_hi, uint16_t *out) {
#if TAILOR_X86
    if (tailor_avx512_bf16_available()) { pack_avx512(b, n, k, ldb, transposed, kb_lo, kb_hi, out); return; }
#endif
    pack_plain(b, n, k, ldb, transposed, kb_lo, kb_hi, out);
}

void tailor_bf16_pack_reference(const float *b, int n, int k, int ldb, int transposed, uint16_t *out) {
    pack_plain(b, n, k, ldb, transposed, 0, pad32(k) / 32, out);
}

float tailor_bf16_packed_get(const uint16_t *packed, int n, int k, int r, int c) {
    (void)n;
    uint32_t u = (uint32_t)packed[packed_index(k, r, c)] << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

void tailor_bf16_unpack(const uint16_t *packed, int k, int r0, int r1, int c0, int c1, float *out) {
    int width = c1 - c0;
    for (int r = r0; r < r1; r++)
        for (int c = c0; c < c1; c++) {
            uint32_t u = (uint32_t)packed[packed_index(k, r, c)] << 16;
            memcpy(out + (size_t)(r - r0) * width + (c - c0), &u, 4);
        }
}

#if TAILOR_X86
__attribute__((target("avx512f,avx512bf16,avx512vl,avx512bw")))
void tailor_bf16_round_rows(const float *a, int m0, int m1, int k, int lda, uint16_t *out, int kpad) {
    for (int i = m0; i < m1; i++) {
        const float *src = a + (size_t)i * lda;
        uint16_t *dst = out + (size_t)i * kpad;
        int c = 0;
        for (; c + 32 <= k; c += 32) {
            __m512 lo = _mm512_loadu_ps(src + c), hi = _mm512_loadu_ps(src + c + 16);
            __m512bh v = _mm512_cvtne2ps_pbh(hi, lo);
            _mm512_storeu_si512((void *)(dst + c), (__m512i)v);
        }
        for (; c < k; c++) dst[c] = round_bf16(src[c]);
        for (; c < kpad; c++) dst[c] = 0;
    }
}

static void store_tile_block(float tmp[4][256], float *c, int ldc, int m, int n, int i0, int j0, int accumulate) {
    for (int t = 0; t < 4; t++) {
        int ri = i0 + (t >> 1) * 16, cj = j0 + (t & 1) * 16;
        for (int r = 0; r < 16 && ri + r < m; r++) {
            float *row = c + (size_t)(ri + r) * ldc + cj;
            const float *src = tmp[t] + r * 16;
            int width = n - cj < 16 ? n - cj : 16;
            if (accumulate) for (int q = 0; q < width; q++) row[q] += src[q];
            else for (int q = 0; q < width; q++) row[q] = src[q];
        }
    }
}

__attribute__((target("amx-tile,amx-bf16")))
void tailor_amx_gemm(const uint16_t *a16, int m, int kpad, const uint16_t *packed, int n, int packed_k, int kb0,
                     float *c, int ldc, int accumulate, int n0, int n1) {
    amx_configure_tiles();
    int kblocks = kpad / 32, mpad = pad32(m), stride = pad32(packed_k) / 32;
    float tmp[4][256] __attribute__((aligned(64)));
    if (n1 > pad32(n)) n1 = pad32(n);
    // Rows of A in blocks that stay in L2 (384 KiB of bf16) while every 32-column block of B passes
    // by; streaming all of A once per column block ran 4096 × 1536 × 576 at ~1000 GFLOP/s, blocked
    // at ~1700 (`kernels --only quantized`).
    int mblock = (int)((384 * 1024 / ((size_t)kpad * 2)) / 32 * 32);
    if (mblock < 32) mblock = 32;
    for (int ib = 0; ib < mpad; ib += mblock) {
        int iend = ib + mblock < mpad ? ib + mblock : mpad;
        for (int j0 = n0; j0 < n1; j0 += 32) {
            const uint16_t *b0 = packed + ((size_t)(j0 / 16) * stride + kb0) * 512;
            const uint16_t *b1 = b0 + (size_t)stride * 512;
            for (int i0 = ib; i0 < iend; i0 += 32) {
                const uint16_t *a0 = a16 + (size_t)i0 * kpad, *a1 = a0 + (size_t)16 * kpad;
                // A whole 32×32 block of C is read and written in place; edge blocks go through tmp.
                int whole = i0 + 32 <= m && j0 + 32 <= n;
                float *cb = c + (size_t)i0 * ldc + j0;
                if (whole && accumulate) {
                    _tile_loadd(0, cb, ldc * 4); _tile_loadd(1, cb + 16, ldc * 4);
                    _tile_loadd(2, cb + (size_t)16 * ldc, ldc * 4); _tile_loadd(3, cb + (size_t)16 * ldc + 16, ldc * 4);
                } else {
                    _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
                }
                for (int kb = 0; kb < kblocks; kb++) {
                    _tile_loadd(4, a0 + kb * 32, kpad * 2);
                    _tile_loadd(5, a1 + kb * 32, kpad * 2);
                    _tile_loadd(6, b0 + (size_t)kb * 512, 64);
                    _tile_loadd(7, b1 + (size_t)kb * 512, 64);
                    _tile_dpbf16ps(0, 4, 6);
                    _tile_dpbf16ps(1, 4, 7);
                    _tile_dpbf16ps(2, 5, 6);
                    _tile_dpbf16ps(3, 5, 7);
                }
                if (whole) {
                    _tile_stored(0, cb, ldc * 4); _tile_stored(1, cb + 16, ldc * 4);
                    _tile_stored(2, cb + (size_t)16 * ldc, ldc * 4); _tile_stored(3, cb + (size_t)16 * ldc + 16, ldc * 4);
                    continue;
                }
                _tile_stored(0, tmp[0], 64); _tile_stored(1, tmp[1], 64);
                _tile_stored(2, tmp[2], 64); _tile_stored(3, tmp[3], 64);
                store_tile_block(tmp, c, ldc, m, n, i0, j0, accumulate);
            }
        }
    }
    _tile_release();
}

#endif
