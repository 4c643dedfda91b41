#ifndef TAILOR_EXP_POLY_H
#define TAILOR_EXP_POLY_H

// The polynomials of the vector exponentials (vec8.h, vec16.h), highest degree first, as
// FastMath.exp and its softmax twin evaluate them, so every width takes the same steps.

// Cephes' expf: e^r ≈ 1 + r·(1 + r·(½ + …)), |r| ≤ ln2/2; the last step (· r + 1) is the caller's.
static const float tailor_exp_poly[7] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f,
                                         1.6666665459e-1f, 5.0000001201e-1f, 1.0f};

// Cephes' exp2f: 2^f for f in [−½, ½].
static const float tailor_exp2_poly[7] = {1.535336188319500e-4f, 1.339887440266574e-3f, 9.618437357674640e-3f,
                                          5.550332471162809e-2f, 2.402264791363012e-1f, 6.931472028550421e-1f, 1.0f};

#endif
