/* Row softmax and the per-row log-probability of a target token (the causal-LM loss and the
 * sequence log-likelihoods used by DPO-style objectives). Max-shifted exponentials; sums in
 * double so a 250k-entry vocabulary row loses nothing. */
#include "ops/ops.h"
#include "ops/ops_internal.h"
#include <math.h>

/* logsumexp of one row. */
static float row_lse(const float *z, int64_t C) {
    float mx = z[0];
    for (int64_t c = 1; c < C; c++) mx = z[c] > mx ? z[c] : mx;
    double s = 0;
    for (int64_t c = 0; c < C; c++) s += expf(z[c] - mx);
    return mx + (float)log(s);
}

void xgd_softmax_rows(float *x, int64_t N, int64_t C) {
    const int nt = xgd_ops_threads(10.0 * (double)N * (double)C);
    #pragma omp parallel for num_threads(nt) if (nt > 1)
    for (int64_t n = 0; n < N; n++) {
        float *z = x + n * C;
        float mx = z[0];
        for (int64_t c = 1; c < C; c++) mx = z[c] > mx ? z[c] : mx;
        double s = 0;
        for (int64_t c = 0; c < C; c++) { z[c] = expf(z[c] - mx); s += z[c]; }
        const float inv = (float)(1.0 / s);
        for (int64_t c = 0; c < C; c++) z[c] *= inv;
    }
}

void xgd_logprob_gather(float *lp, float *lse, const float *logits, const int32_t *tgt, int64_t N, int64_t V) {
    const int nt = xgd_ops_threads(10.0 * (double)N * (double)V);
    #pragma omp parallel for num_threads(nt) if (nt > 1)
    for (int64_t n = 0; n < N; n++) {
        if (tgt[n] < 0) {   /* ignored position (-100): no work, zero contribution */
            lp[n] = 0.0f;
            if (lse) lse[n] = 0.0f;
            continue;
        }
        const float *z = logits + n * V;
        const float l = row_lse(z, V);
        lp[n] = z[tgt[n]] - l;
        if (lse) lse[n] = l;
    }
}

void xgd_logprob_gather_backward(float *dlogits, const float *dlp, const float *logits, const float *lse,
                                 const int32_t *tgt, int64_t N, int64_t V) {
    const int nt = xgd_ops_threads(10.0 * (double)N * (double)V);
    #pragma omp parallel for num_threads(nt) if (nt > 1)
    for (int64_t n = 0; n < N; n++) {
        if (tgt[n] < 0) continue;
        const float *z = logits + n * V;
        float *d = dlogits + n * V;
        const float g = dlp[n], l = lse ? lse[n] : row_lse(z, V);
        for (int64_t v = 0; v < V; v++) d[v] -= g * expf(z[v] - l);
        d[tgt[n]] += g;
    }
}
