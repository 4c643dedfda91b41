// Which of Tailor's kernels this process may run: what the CPU and OS support, capped by TAILOR_ISA.
#include "CTailorKernels.h"
#include <stdlib.h>
#include <string.h>
#include "cpu.h"
#if TAILOR_X86
#include <cpuid.h>
#endif
#if TAILOR_X86 && defined(__linux__)
#include <unistd.h>
#include <sys/syscall.h>
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18
#endif

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

#if TAILOR_X86
// The OS saves the register state of `mask`'s XCR0 bits (it must, for their instructions to be usable).
static int os_saves(unsigned mask) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !((c >> 27) & 1)) return 0;  // OSXSAVE
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & mask) == mask;
}

// cpuid leaf 7, sub-leaf `sub`, register `reg` (0 eax, 1 ebx, 2 ecx, 3 edx) has bit `bit` set.
static int leaf7(unsigned sub, int reg, int bit) {
    unsigned r[4];
    return __get_cpuid_count(7, sub, &r[0], &r[1], &r[2], &r[3]) && ((r[reg] >> bit) & 1);
}

static int avx512_state = -1, avx512_bf16_state = -1, avx2_state = -1, amx_state = -1;  // -1 unknown, 0 no, 1 yes

int tailor_avx512_available(void) {
    // AVX512F; the OS saves XMM, YMM, opmask and ZMM state
    if (avx512_state < 0) avx512_state = tailor_isa_allows(2) && leaf7(0, 1, 16) && os_saves(0xE6);
    return avx512_state;
}

int tailor_avx512_bf16_available(void) {
    // AVX512BW, AVX512_BF16
    if (avx512_bf16_state < 0) avx512_bf16_state = tailor_avx512_available() && leaf7(0, 1, 30) && leaf7(1, 0, 5);
    return avx512_bf16_state;
}

int tailor_avx2_available(void) {
    if (avx2_state < 0) {
        unsigned a, b, c, d;
        int fma = __get_cpuid(1, &a, &b, &c, &d) && ((c >> 12) & 1);
        avx2_state = tailor_isa_allows(1) && fma && leaf7(0, 1, 5) && os_saves(0x6);  // AVX2; XMM, YMM state
    }
    return avx2_state;
}

int tailor_amx_enable(void) {
    if (amx_state < 0) {
#if defined(__linux__)
        // AMX tile and AMX-BF16, then Linux must grant the tile state to this process.
        amx_state = tailor_isa_allows(3) && tailor_avx512_bf16_available() && leaf7(0, 3, 24) && leaf7(0, 3, 22)
                    && syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
#else
        amx_state = 0;  // only Linux's arch_prctl grant is known here
#endif
    }
    return amx_state;
}

#else
// Not x86-64: none of the x86 kernels exists.
int tailor_avx512_available(void) { return 0; }
int tailor_avx512_bf16_available(void) { return 0; }
int tailor_avx2_available(void) { return 0; }
int tailor_amx_enable(void) { return 0; }
#endif
