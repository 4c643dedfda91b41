#ifndef TAILOR_CAUSAL_ROWS_H
#define TAILOR_CAUSAL_ROWS_H

// Shared by the AVX-512 and AVX2 row passes of tiled causal attention (softmax.c, avx2.c).

// Zeros row[0..<lo] and row[hi+1..<cols]: the keys a query does not see (before its first visible key,
// after itself).
static inline void zero_outside(float *row, int lo, int hi, int cols) {
    for (int j = 0; j < lo; j++) row[j] = 0;
    for (int j = hi + 1; j < cols; j++) row[j] = 0;
}

#endif
