// Run by check-aarch64.sh under qemu: on a CPU that is not x86-64, CTailorKernels says no to every
// vector level, packs bf16 tiles with the plain C loop, and a stand-in for an x86-64 kernel stops
// the process with a message rather than running on.
#include "CTailorKernels.h"
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures = 0;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); failures++; } } while (0)

int main(void) {
    CHECK(tailor_avx512_available() == 0 && tailor_avx2_available() == 0 && tailor_amx_enable() == 0);
    setenv("TAILOR_ISA", "avx2", 1); CHECK(tailor_isa_cap() == 1);
    setenv("TAILOR_ISA", "avx-512", 1); CHECK(tailor_isa_cap() == -1);
    unsetenv("TAILOR_ISA"); CHECK(tailor_isa_cap() == 3);

    // A 37 × 45 matrix packs, reads back as its values rounded to bf16 (to nearest, ties to even:
    // 1 + 2⁻⁸ is a tie and stays 1, 1 + 3·2⁻⁸ is a tie and goes up), in both orientations and by k blocks.
    enum { n = 37, k = 45 };
    static float b[n * k], bt[k * n];
    for (int i = 0; i < n * k; i++) b[i] = sinf((float)i) * 3;
    b[0] = 1 + 1.0f / 256; b[1] = 1 + 3.0f / 256;
    for (int r = 0; r < n; r++) for (int c = 0; c < k; c++) bt[c * n + r] = b[r * k + c];
    size_t count = tailor_bf16_packed_count(n, k);
    uint16_t *p = calloc(count, 2), *q = calloc(count, 2), *s = calloc(count, 2);
    tailor_bf16_pack(b, n, k, k, 0, p);
    tailor_bf16_pack(bt, n, k, n, 1, q);
    tailor_bf16_pack_kblocks(b, n, k, k, 0, 0, 1, s);
    tailor_bf16_pack_kblocks(b + 32, n, k, k, 0, 1, 2, s);
    CHECK(memcmp(p, q, count * 2) == 0 && memcmp(p, s, count * 2) == 0);
    CHECK(tailor_bf16_packed_get(p, n, k, 0, 0) == 1 && tailor_bf16_packed_get(p, n, k, 0, 1) == 1 + 4.0f / 256);
    for (int r = 0; r < n; r++)
        for (int c = 0; c < k; c++) {
            float v = tailor_bf16_packed_get(p, n, k, r, c), x = b[r * k + c];
            CHECK(fabsf(v - x) <= fabsf(x) * (1.0f / 256));
        }

    int err[2];
    CHECK(pipe(err) == 0);
    pid_t child = fork();
    if (child == 0) {
        dup2(err[1], 2);
        float g = 1, u = 1, h;
        tailor_swiglu_forward(&g, &u, &h, 1);
        _exit(0);
    }
    close(err[1]);
    char said[512] = {0};
    for (size_t got = 0; got < sizeof said - 1;) {
        ssize_t r = read(err[0], said + got, sizeof said - 1 - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    CHECK(strstr(said, "tailor_swiglu_forward is an x86-64 kernel") != NULL);

    if (failures) return 1;
    printf("aarch64 smoke check passed\n");
    return 0;
}
