/* Row softmax and the per-row log-probability of a target token (the causal-LM loss and the
 * sequence log-likelihoods used by DPO-style objectives). Max-shifted exponentials (vectorised,
 * ops_internal.h), sums in double per block so a 250k-entry vocabulary row loses nothing. */
#include "ops/ops.h"
#include "ops/ops_internal.h"
#include <math.h>

/* logsumexp of one row. */
static float row_lse(const float *z, int64_t C) {
    const float mx = xgd_max_f32(z, C);
    return mx + (float)log(xgd_exp_sum(NULL, z, C, mx));
}

void xgd_softmax_rows(float *x, int64_t N, int64_t C) {
    const int nt = xgd_ops_threads(10.0 * (double)N * (double)C);
    #pragma omp parallel for num_threads(nt) if (nt > 1)
    for (int64_t n = 0; n < N; n++) {
        float *z = x + n * C;
        const double s = xgd_exp_sum(z, z, C, xgd_max_f32(z, C));
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
        /* d -= g * exp(z - lse), a block at a time through a small buffer */
        float e[256];
        for (int64_t v0 = 0; v0 < V; v0 += 256) {
            const int64_t c = V - v0 < 256 ? V - v0 : 256;
            xgd_exp_sum(e, z + v0, c, l);
            xgd_axpy_f32(d + v0, -g, e, c);
        }
        d[tgt[n]] += g;
    }
}
