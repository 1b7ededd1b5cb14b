#include "ops/process_env.h"
#include <cblas.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

/* The core OpenBLAS should use, or NULL when its own choice is fine. */
static const char *blas_core_needed(void) {
    const char *core = NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512bf16")) core = "Cooperlake";
    else if (__builtin_cpu_supports("avx512f")) core = "SkylakeX";
    else if (__builtin_cpu_supports("avx2")) core = "Haswell";
    if (!core) return NULL;
    /* only when OpenBLAS chose kernels below what the CPU runs; a build that knows the CPU chose well */
    static const char *const weak[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Katmai",
                                       "Coppermine", "Northwood", "Banias", "Sandybridge", "Unknown"};
    const char *now = openblas_get_corename();
    int fallback = now == NULL || now[0] == 0;
    for (size_t i = 0; !fallback && i < sizeof weak / sizeof weak[0]; i++) fallback = strcasecmp(now, weak[i]) == 0;
    return fallback ? core : NULL;
}

void xgd_process_env(char **argv) {
    if (getenv("XGD_NO_REEXEC")) return;
    int changed = 0;
    if (!getenv("OPENBLAS_CORETYPE")) {
        const char *core = blas_core_needed();
        if (core) { setenv("OPENBLAS_CORETYPE", core, 1); changed = 1; }
    }
    if (!getenv("GOMP_SPINCOUNT") && !getenv("OMP_WAIT_POLICY")) { setenv("GOMP_SPINCOUNT", "2000", 1); changed = 1; }
    if (!changed) return;
    setenv("XGD_NO_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);
}

const char *xgd_blas_core(void) { return openblas_get_corename(); }
