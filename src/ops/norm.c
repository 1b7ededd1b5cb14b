/* LayerNorm (optionally weight-only, as Cohere) and RMSNorm, forward and backward, one row of C
 * values per position. Row statistics are accumulated in double: the reference (torch) computes
 * them in f32 with pairwise sums, and double keeps us within 1e-6 of that for any C we meet. */
#include "ops/ops.h"
#include "ops/ops_internal.h"
#include <math.h>

void xgd_layernorm(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b,
                   int64_t N, int64_t C, float eps) {
    const int nt = xgd_ops_threads(8.0 * (double)N * (double)C);
    #pragma omp parallel for num_threads(nt) if (nt > 1)
    for (int64_t n = 0; n < N; n++) {
        const float *xr = x + n * C;
        float *yr = y + n * C;
        double s = 0, v = 0;
        for (int64_t c = 0; c < C; c++) s += xr[c];
        const double mu = s / (double)C;
        for (int64_t c = 0; c < C; c++) { double d = xr[c] - mu; v += d * d; }
        const float m = (float)mu, r = (float)(1.0 / sqrt(v / (double)C + (double)eps));
        for (int64_t c = 0; c < C; c++) {
            float t = (xr[c] - m) * r;
            if (w) t *= w[c];
            if (b) t += b[c];
            yr[c] = t;
        }
        if (mean) mean[n] = m;
        if (rstd) rstd[n] = r;
    }
}

void xgd_layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                            const float *w, const float *mean, const float *rstd, int64_t N, int64_t C) {
    const int nt = xgd_ops_threads(10.0 * (double)N * (double)C);
    if (dx) {
        /* dx = rstd * (g - mean(g) - xhat*mean(g*xhat)), g = dy*w, xhat = (x-mean)*rstd */
        #pragma omp parallel for num_threads(nt) if (nt > 1)
        for (int64_t n = 0; n < N; n++) {
            const float *xr = x + n * C, *gr = dy + n * C;
            const float m = mean[n], r = rstd[n];
            double sg = 0, sgx = 0;
            for (int64_t c = 0; c < C; c++) {
                float g = w ? gr[c] * w[c] : gr[c];
                sg += g;
                sgx += (double)g * ((xr[c] - m) * r);
            }
            const float mg = (float)(sg / (double)C), mgx = (float)(sgx / (double)C);
            float *dr = dx + n * C;
            for (int64_t c = 0; c < C; c++) {
                float g = w ? gr[c] * w[c] : gr[c];
                dr[c] += r * (g - mg - ((xr[c] - m) * r) * mgx);
            }
        }
    }
    if (dw || db) {
        /* columns split across threads so the sums over rows need no reduction buffers */
        #pragma omp parallel for num_threads(nt) if (nt > 1)
        for (int64_t c0 = 0; c0 < C; c0 += 64) {
            int64_t c1 = c0 + 64 < C ? c0 + 64 : C;
            for (int64_t n = 0; n < N; n++) {
                const float *xr = x + n * C, *gr = dy + n * C;
                for (int64_t c = c0; c < c1; c++) {
                    if (dw) dw[c] += gr[c] * ((xr[c] - mean[n]) * rstd[n]);
                    if (db) db[c] += gr[c];
                }
            }
        }
    }
}

void xgd_rmsnorm(float *y, float *rstd, const float *x, const float *w, int64_t N, int64_t C, float eps) {
    const int nt = xgd_ops_threads(6.0 * (double)N * (double)C);
    #pragma omp parallel for num_threads(nt) if (nt > 1)
    for (int64_t n = 0; n < N; n++) {
        const float *xr = x + n * C;
        double ss = 0;
        for (int64_t c = 0; c < C; c++) ss += (double)xr[c] * xr[c];
        const float r = (float)(1.0 / sqrt(ss / (double)C + (double)eps));
        float *yr = y + n * C;
        /* HF: (x * rstd) first, then * w */
        for (int64_t c = 0; c < C; c++) yr[c] = w ? w[c] * (xr[c] * r) : xr[c] * r;
        if (rstd) rstd[n] = r;
    }
}

void xgd_rmsnorm_backward(float *dx, float *dw, const float *dy, const float *x, const float *w,
                          const float *rstd, int64_t N, int64_t C) {
    const int nt = xgd_ops_threads(8.0 * (double)N * (double)C);
    if (dx) {
        /* y_c = w_c x_c r, r = (mean(x²)+eps)^-1/2:  dx_c = r g_c - x_c r³ mean(g·x), g = dy*w */
        #pragma omp parallel for num_threads(nt) if (nt > 1)
        for (int64_t n = 0; n < N; n++) {
            const float *xr = x + n * C, *gr = dy + n * C;
            const float r = rstd[n];
            double sgx = 0;
            for (int64_t c = 0; c < C; c++) sgx += (double)(w ? gr[c] * w[c] : gr[c]) * xr[c];
            const float k = (float)(sgx / (double)C) * r * r * r;
            float *dr = dx + n * C;
            for (int64_t c = 0; c < C; c++) dr[c] += r * (w ? gr[c] * w[c] : gr[c]) - xr[c] * k;
        }
    }
    if (dw) {
        #pragma omp parallel for num_threads(nt) if (nt > 1)
        for (int64_t c0 = 0; c0 < C; c0 += 64) {
            int64_t c1 = c0 + 64 < C ? c0 + 64 : C;
            for (int64_t n = 0; n < N; n++)
                for (int64_t c = c0; c < c1; c++) dw[c] += dy[n * C + c] * (x[n * C + c] * rstd[n]);
        }
    }
}
