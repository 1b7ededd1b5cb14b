/* Per-thread scratch buffers of the ops layer, reused from call to call. Why: the kernels need
 * multi-megabyte work buffers (packed weights, rounded activations) on every call; fresh
 * allocations of that size are fresh pages, and faulting them in cost more than the packing itself
 * (5 % of a 1.1B LoRA step in page faults; in linear_gemm.c more than its packing). Buffers above
 * 16 MB are returned to the system when released, so a one-off huge product does not keep its
 * memory for the process's lifetime; a thread's buffers are freed when the thread exits (a pthread
 * key destructor), so programs that call the ops from short-lived threads do not leak them. */
#include "ops/ops_internal.h"
#include "base/err.h"
#include <pthread.h>
#include <stdlib.h>

#define SCRATCH_KEEP_MAX ((size_t)16 << 20)

typedef struct { void *p; size_t cap; } scratch_slot;
static _Thread_local scratch_slot g_slots[XGD_SCRATCH_N];
static _Thread_local int g_registered;
static pthread_key_t g_key;
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;

static void free_slots(void *p) {
    scratch_slot *s = p;
    for (int i = 0; i < XGD_SCRATCH_N; i++) { free(s[i].p); s[i].p = NULL; s[i].cap = 0; }
}

static void make_key(void) { pthread_key_create(&g_key, free_slots); }

void *xgd_scratch_get(int slot, size_t bytes) {
    if (!g_registered) {   /* the key's value only has to be non-NULL for the destructor to run */
        pthread_once(&g_key_once, make_key);
        pthread_setspecific(g_key, g_slots);
        g_registered = 1;
    }
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
