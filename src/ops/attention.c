/* Scaled dot-product attention, forward and backward, for every family: causal or not, key
 * padding mask, GQA, ALiBi, T5 additive position bias, and KV-cache decoding (q_offset, batch
 * stride). Work is split over (batch, head); one query row is processed at a time with a score
 * row of Tk floats, so single-query decoding costs Tk dot products and Tk axpys and allocates
 * only that row per thread.
 *
 * Masking follows transformers: a masked score is -FLT_MAX (finfo.min), so a row with every key
 * masked is uniform instead of NaN. Masked scores are constants: no gradient flows through them. */
#include "ops/ops.h"
#include "ops/ops_internal.h"
#include "base/err.h"
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static int64_t kv_stride(const xgd_attn *a) {
    return a->kv_bstride ? a->kv_bstride : (int64_t)a->Tk * a->nKV * a->hd;
}

/* Is key j visible to query i of batch b? */
static inline int visible(const xgd_attn *a, int b, int i, int j) {
    if (a->causal && j > a->q_offset + i) return 0;
    return !a->key_mask || a->key_mask[(int64_t)b * a->Tk + j];
}

/* p (Tk) = softmax over keys of the scores of query i, head h, batch b. */
static void score_row(float *p, const float *qi, const float *kb, const xgd_attn *a, int b, int h, int i) {
    const int g = h / (a->nH / a->nKV), Tk = a->Tk, hd = a->hd;
    const int64_t krow = (int64_t)a->nKV * hd;
    float mx = -FLT_MAX;
    for (int j = 0; j < Tk; j++) {
        if (!visible(a, b, i, j)) { p[j] = -FLT_MAX; continue; }
        float s = xgd_dot_f32(qi, kb + j * krow + g * hd, hd) * a->scale;
        if (a->alibi) s += a->alibi[h] * (float)(a->key_pos ? a->key_pos[(int64_t)b * Tk + j] : j);
        if (a->pos_bias) s += a->pos_bias[((int64_t)h * a->Tq + i) * Tk + j];
        p[j] = s;
        mx = s > mx ? s : mx;
    }
    float sum = 0;
    for (int j = 0; j < Tk; j++) { p[j] = expf(p[j] - mx); sum += p[j]; }
    const float inv = 1.0f / sum;
    for (int j = 0; j < Tk; j++) p[j] *= inv;
}

void xgd_attention(float *out, float *probs, const float *q, const float *k, const float *v, const xgd_attn *a) {
    const int B = a->B, Tq = a->Tq, Tk = a->Tk, nH = a->nH, hd = a->hd, rep = a->nH / a->nKV;
    const int64_t kvs = kv_stride(a), krow = (int64_t)a->nKV * hd, qrow = (int64_t)nH * hd;
    const int nt = xgd_ops_threads(4.0 * B * nH * (double)Tq * Tk * hd);
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *scratch = probs ? NULL : xgd_malloc((size_t)Tk * sizeof(float));
        #pragma omp for schedule(static)
        for (int bh = 0; bh < B * nH; bh++) {
            const int b = bh / nH, h = bh % nH, g = h / rep;
            const float *kb = k + b * kvs, *vb = v + b * kvs;
            for (int i = 0; i < Tq; i++) {
                float *p = probs ? probs + ((int64_t)bh * Tq + i) * Tk : scratch;
                const float *qi = q + ((int64_t)b * Tq + i) * qrow + h * hd;
                float *o = out + ((int64_t)b * Tq + i) * qrow + h * hd;
                score_row(p, qi, kb, a, b, h, i);
                memset(o, 0, (size_t)hd * sizeof(float));
                for (int j = 0; j < Tk; j++)
                    if (p[j] != 0.0f) xgd_axpy_f32(o, p[j], vb + j * krow + g * hd, hd);
            }
        }
        free(scratch);
    }
}

void xgd_attention_backward(float *dq, float *dk, float *dv, float *dpos_bias, const float *dout,
                            const float *probs, const float *q, const float *k, const float *v, const xgd_attn *a) {
    const int B = a->B, Tq = a->Tq, Tk = a->Tk, nH = a->nH, nKV = a->nKV, hd = a->hd, rep = nH / nKV;
    const int64_t kvs = kv_stride(a), krow = (int64_t)nKV * hd, qrow = (int64_t)nH * hd;
    /* Query heads sharing a kv head write the same dk/dv rows, and dpos_bias is shared by the
     * batch, so a task owns one kv head (all its query heads) and, with dpos_bias, all batches. */
    const int ntask = dpos_bias ? nKV : B * nKV;
    const int nt = xgd_ops_threads(8.0 * B * nH * (double)Tq * Tk * hd);
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *ds = xgd_malloc((size_t)Tk * sizeof(float));
        #pragma omp for schedule(static)
        for (int task = 0; task < ntask; task++) {
            const int g = task % nKV, b0 = dpos_bias ? 0 : task / nKV, b1 = dpos_bias ? B : b0 + 1;
            for (int b = b0; b < b1; b++)
                for (int h = g * rep; h < (g + 1) * rep; h++)
                    for (int i = 0; i < Tq; i++) {
                        const float *p = probs + (((int64_t)b * nH + h) * Tq + i) * Tk;
                        const int64_t qo = ((int64_t)b * Tq + i) * qrow + h * hd;
                        const float *doi = dout + qo, *qi = q + qo;
                        /* dP_j = dout_i·v_j; dS_j = P_j (dP_j - Σ P dP) over visible keys */
                        float dot_pdp = 0;
                        for (int j = 0; j < Tk; j++) {
                            ds[j] = 0.0f;
                            if (!visible(a, b, i, j)) continue;
                            ds[j] = xgd_dot_f32(doi, v + b * kvs + j * krow + g * hd, hd);
                            dot_pdp += p[j] * ds[j];
                        }
                        for (int j = 0; j < Tk; j++) {
                            const int64_t ko = b * kvs + j * krow + g * hd;
                            if (dv && p[j] != 0.0f) xgd_axpy_f32(dv + ko, p[j], doi, hd);
                            if (!visible(a, b, i, j)) continue;
                            const float s = p[j] * (ds[j] - dot_pdp);
                            if (dpos_bias) dpos_bias[((int64_t)h * Tq + i) * Tk + j] += s;
                            if (s == 0.0f) continue;
                            if (dq) xgd_axpy_f32(dq + qo, s * a->scale, k + ko, hd);
                            if (dk) xgd_axpy_f32(dk + ko, s * a->scale, qi, hd);
                        }
                    }
        }
        free(ds);
    }
}
