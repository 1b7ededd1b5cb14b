/* OpenBLAS picks its kernels from the CPU model when the library loads. Debian's 0.3.21 does not
 * know recent Xeons (e.g. Emerald Rapids, model 207) and falls back to its SSE3 "Prescott" kernels,
 * 5-10x slower than the AVX-512 ones the CPU supports. The choice can only be overridden through
 * OPENBLAS_CORETYPE before the library loads, so programs call this first thing in main(): when the
 * variable is unset it sets it from the CPU's features and re-executes the program once. */
#ifndef XGD_OPS_BLAS_CPU_H
#define XGD_OPS_BLAS_CPU_H

/* Returns only if no re-exec was needed (or it failed, in which case the program runs as is). */
void xgd_blas_select_cpu(char **argv);
/* The OpenBLAS core in use ("Cooperlake", ...), from openblas_get_corename(). */
const char *xgd_blas_core(void);

#endif
