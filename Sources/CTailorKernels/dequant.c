// ggml Q4_0 dequantization in AVX-512 (the plain Swift loop unpacks nibbles one at a time; Q8_0's
// loop already runs at store bandwidth, measured). Each value is (int → float, exact) × d, one
// rounding, as in ggml's dequantize_row_q4_0: the same bits as TailorQuant.Dequantize's loop,
// which stays the reference.
#include "CTailorKernels.h"
#include <immintrin.h>
#include <string.h>

__attribute__((target("avx512f,f16c")))
static inline __m512 block_scale(const uint8_t *block) {
    uint16_t h;
    memcpy(&h, block, 2);
    return _mm512_set1_ps(_cvtsh_ss(h));
}

__attribute__((target("avx512f,f16c")))
void tailor_dequant_q4_0(const uint8_t *src, long blocks, float *dst) {
    const __m512i low = _mm512_set1_epi32(0x0F), eight = _mm512_set1_epi32(8);
    for (long b = 0; b < blocks; b++, src += 18, dst += 32) {
        __m512 d = block_scale(src);
        __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(src + 2)));  // 16 bytes, two nibbles each
        __m512i lo = _mm512_sub_epi32(_mm512_and_si512(q, low), eight), hi = _mm512_sub_epi32(_mm512_srli_epi32(q, 4), eight);
        _mm512_storeu_ps(dst, _mm512_mul_ps(_mm512_cvtepi32_ps(lo), d));
        _mm512_storeu_ps(dst + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(hi), d));
    }
}
