#ifndef TAILOR_AMX_TILES_H
#define TAILOR_AMX_TILES_H
#include <stdint.h>
#include <string.h>
#include <immintrin.h>

// Configures all eight AMX tiles as 16 rows × 64 bytes (16 fp32 or 32 bf16 per row), the one shape
// Tailor's kernels use; pair with _tile_release() when done.
__attribute__((target("amx-tile")))
static inline void amx_configure_tiles(void) {
    struct {
        uint8_t palette, start_row, reserved[14];
        uint16_t colsb[16];
        uint8_t rows[16];
    } cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) { cfg.rows[t] = 16; cfg.colsb[t] = 64; }
    _tile_loadconfig(&cfg);
}

#endif
