/* Elementwise helpers used by every model (residual adds, scaling). Memory-bound: threaded only
 * for large n. */
#include "ops/ops.h"
#include "ops/ops_internal.h"

void xgd_add(float *y, const float *a, const float *b, int64_t n) {
    const int nt = xgd_ops_threads(0.25 * (double)n);
    #pragma omp parallel for num_threads(nt) if (nt > 1)
    for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

void xgd_add_inplace(float *y, const float *x, int64_t n) {
    const int nt = xgd_ops_threads(0.25 * (double)n);
    #pragma omp parallel for num_threads(nt) if (nt > 1)
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

void xgd_scale(float *y, float s, int64_t n) {
    const int nt = xgd_ops_threads(0.25 * (double)n);
    #pragma omp parallel for num_threads(nt) if (nt > 1)
    for (int64_t i = 0; i < n; i++) y[i] *= s;
}
