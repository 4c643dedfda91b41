// Per-thread state the Swift side cannot declare itself (Swift has no thread-local globals).
#include "CTailorKernels.h"

static _Thread_local int in_parallel_chunk;

int tailor_in_parallel_chunk(void) { return in_parallel_chunk; }

void tailor_set_in_parallel_chunk(int on) { in_parallel_chunk = on; }
