/* Process-wide settings that must be in the environment before OpenBLAS and libgomp load (they
 * read it in their constructors, before main), so programs call xgd_process_env() first thing in
 * main(): it sets what is missing and re-executes the program once.
 *
 *  - OPENBLAS_CORETYPE: Debian's OpenBLAS 0.3.21 does not know recent Xeons (e.g. Emerald Rapids,
 *    model 207) and falls back to its SSE3 "Prescott" kernels, 5-10x slower than the AVX-512 ones
 *    the CPU runs. Set from the CPU's features only when OpenBLAS fell back.
 *  - GOMP_SPINCOUNT: libgomp's threads spin ~300k iterations at every barrier by default. On a
 *    2-core machine shared with other work (ctest -j2, other jobs) a spinning thread steals the
 *    core its partner needs, and small parallel regions become 10x slower (measured: a tiny
 *    generation run took 4.3 s at the default, 0.45 s at 1000). 2000 keeps the fast hand-over
 *    between back-to-back regions. Left alone when the user sets it or OMP_WAIT_POLICY. */
#ifndef XGD_OPS_PROCESS_ENV_H
#define XGD_OPS_PROCESS_ENV_H

/* Returns when nothing needed changing or the re-exec failed (the program then runs as is). */
void xgd_process_env(char **argv);
/* The OpenBLAS core in use ("Cooperlake", ...). */
const char *xgd_blas_core(void);

#endif
