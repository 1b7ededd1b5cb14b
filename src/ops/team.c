#include "ops/team.h"
#include <immintrin.h>
#include <sched.h>
#include <stdint.h>

void xgd_team_wait(xgd_team_barrier *b, int n) {
    const int g = atomic_load_explicit(&b->gen, memory_order_acquire);
    if (atomic_fetch_add_explicit(&b->count, 1, memory_order_acq_rel) == n - 1) {
        atomic_store_explicit(&b->count, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&b->gen, 1, memory_order_release);
        return;
    }
    for (int i = 0; atomic_load_explicit(&b->gen, memory_order_acquire) == g; i++) {
        if (i < 256) _mm_pause();
        else sched_yield();
    }
}

void xgd_team_spread(xgd_team_barrier *b, int ti, int n) {
    atomic_int *cpus = b->cpu;
    if (n < 2 || n > XGD_TEAM_MAX) return;
    atomic_store(&cpus[ti], sched_getcpu());
    xgd_team_wait(b, n);
    const int me = atomic_load(&cpus[ti]);
    int clash = 0;
    for (int j = 0; j < ti; j++) clash |= atomic_load(&cpus[j]) == me;
    if (clash) {
        cpu_set_t mask, one;
        if (sched_getaffinity(0, sizeof mask, &mask) == 0) {
            for (int c = 0; c < CPU_SETSIZE; c++) {
                if (!CPU_ISSET(c, &mask)) continue;
                int used = 0;
                for (int j = 0; j < n; j++) used |= atomic_load(&cpus[j]) == c;
                if (used) continue;
                CPU_ZERO(&one);
                CPU_SET(c, &one);
                /* the kernel migrates the thread before returning; restoring the mask leaves it there */
                if (sched_setaffinity(0, sizeof one, &one) == 0) {
                    atomic_store(&cpus[ti], c);
                    sched_setaffinity(0, sizeof mask, &mask);
                }
                break;
            }
        }
    }
    xgd_team_wait(b, n);   /* every thread has read cpus[] before any moves on */
}
