/* Helpers for one long parallel region whose threads meet at many barriers (linear_gemm.c):
 * a spinning barrier and a check that the threads run on different CPUs. */
#ifndef XGD_OPS_TEAM_H
#define XGD_OPS_TEAM_H
#include <stdatomic.h>

/* Zero-initialise ({0}) before the region, one per region (so concurrent callers never share one);
 * every thread of the team calls xgd_team_wait. cpu[] is xgd_team_spread's scratch. */
enum { XGD_TEAM_MAX = 64 };
typedef struct { atomic_int count, gen; atomic_int cpu[XGD_TEAM_MAX]; } xgd_team_barrier;

/* Waits for all n threads, spinning (pause, then sched_yield) instead of sleeping: libgomp's
 * barriers sleep in the kernel after GOMP_SPINCOUNT spins (set low in process_env.c), a VM host
 * halts a sleeping vCPU, and waking it costs up to milliseconds when the host is busy. */
void xgd_team_wait(xgd_team_barrier *b, int n);

/* Called by every thread ti of n at the start of the region (a barrier inside). A thread that
 * finds itself on the same CPU as a lower-numbered one moves to an allowed CPU that no thread of
 * the team uses, and its CPU mask is then restored as it was. Why: the Linux scheduler sometimes
 * wakes an OpenMP worker on its master's CPU; threads that never sleep (xgd_team_wait) are then
 * not rebalanced for the whole product, which runs at one core's speed (measured on a 2-vCPU VM:
 * whole sgemm calls at half speed, each with both threads on cpu0). */
void xgd_team_spread(xgd_team_barrier *b, int ti, int n);

#endif
