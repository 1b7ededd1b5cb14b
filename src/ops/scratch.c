/* Per-thread scratch buffers of the ops layer, reused from call to call. Why: the kernels need
 * multi-megabyte work buffers (packed weights, rounded activations) on every call; fresh
 * allocations of that size are fresh pages, and faulting them in cost more than the packing itself
 * (5 % of a 1.1B LoRA step in page faults; in linear_gemm.c more than its packing). Buffers above
 * 16 MB are returned to the system when released, so a one-off huge product does not keep its
 * memory for the process's lifetime. */
#include "ops/ops_internal.h"
#include "base/err.h"
#include <stdlib.h>

#define SCRATCH_KEEP_MAX ((size_t)16 << 20)

static _Thread_local struct { void *p; size_t cap; } g_slots[XGD_SCRATCH_N];

void *xgd_scratch_get(int slot, size_t bytes) {
    if (g_slots[slot].cap < bytes) {
        free(g_slots[slot].p);
        g_slots[slot].p = xgd_aligned_alloc(bytes ? bytes : 1);
        g_slots[slot].cap = bytes;
    }
    return g_slots[slot].p;
}

void xgd_scratch_release(int slot) {
    if (g_slots[slot].cap > SCRATCH_KEEP_MAX) {
        free(g_slots[slot].p);
        g_slots[slot].p = NULL;
        g_slots[slot].cap = 0;
    }
}
