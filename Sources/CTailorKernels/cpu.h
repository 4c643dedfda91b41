#ifndef TAILOR_CPU_H
#define TAILOR_CPU_H

// Tailor's vector kernels are x86-64 code (AVX2, AVX-512, AMX). Elsewhere (aarch64, …) their files
// compile to nothing, unsupported.c stands in for their entry points, the availability checks
// answer 0 and the Swift loops and OpenBLAS do the work. Building with -DTAILOR_NO_X86_KERNELS
// (`-Xcc -DTAILOR_NO_X86_KERNELS`) makes an x86-64 build the same, so that path is tested here.
#if defined(__x86_64__) && !defined(TAILOR_NO_X86_KERNELS)
#define TAILOR_X86 1
#else
#define TAILOR_X86 0
#endif

// AVX-512F with AVX512BW and AVX512_BF16, usable and allowed by TAILOR_ISA (the bf16 packing).
// Internal to this target, so not exported.
__attribute__((visibility("hidden"))) int tailor_avx512_bf16_available(void);

#endif
