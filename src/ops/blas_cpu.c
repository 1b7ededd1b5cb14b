#include "ops/blas_cpu.h"
#include <cblas.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

void xgd_blas_select_cpu(char **argv) {
    if (getenv("OPENBLAS_CORETYPE") || getenv("XGD_NO_BLAS_REEXEC")) return;
    const char *core = NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512bf16")) core = "Cooperlake";
    else if (__builtin_cpu_supports("avx512f")) core = "SkylakeX";
    else if (__builtin_cpu_supports("avx2")) core = "Haswell";
    if (!core) return;
    /* Only re-execute when OpenBLAS chose kernels below what the CPU runs; a build that knows the
     * CPU already chose well (Zen, SapphireRapids, ...). */
    static const char *const weak[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Katmai",
                                       "Coppermine", "Northwood", "Banias", "Sandybridge", "Unknown"};
    const char *now = openblas_get_corename();
    int fallback = now == NULL || now[0] == 0;
    for (size_t i = 0; !fallback && i < sizeof weak / sizeof weak[0]; i++) fallback = strcasecmp(now, weak[i]) == 0;
    if (!fallback) return;
    setenv("OPENBLAS_CORETYPE", core, 1);
    setenv("XGD_NO_BLAS_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with the generic kernels */
}

const char *xgd_blas_core(void) { return openblas_get_corename(); }
