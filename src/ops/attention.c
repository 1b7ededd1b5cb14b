/* Scaled dot-product attention, forward and backward, for every family: causal or not, key
 * padding mask, GQA, ALiBi, T5 additive position bias, and KV-cache decoding (q_offset, batch
 * stride). Work is split over (batch, head), or (batch, kv head) when decoding and in backward.
 *
 * With four or more queries per head, the head's keys (and, in backward, values) are first
 * transposed to (hd, Tk) so scores are broadcast-FMAs over rows of keys with no horizontal sums
 * (xgd_scores_t4), four queries at a time so every key row loaded serves four queries; weighted
 * sums of value rows keep the outputs in registers (xgd_wsum_rows4). A query or three (decoding)
 * skip the transpose: each key row is dotted with all the query heads that share it (GQA) while it
 * is in cache; only score rows are allocated. Causal rows only touch the keys they can see.
 *
 * Masking follows transformers: a masked score is -FLT_MAX (finfo.min), so a row with every key
 * masked is uniform over all Tk keys instead of NaN. Masked scores are constants: no gradient
 * flows through them (a fully masked row still passes gradient to v, which it averages). */
#include "ops/ops.h"
#include "ops/ops_internal.h"
#include "base/err.h"
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { KT_MIN_TQ = 4 };   /* transpose keys once when at least this many queries share them */

static int64_t kv_stride(const xgd_attn *a) {
    return a->kv_bstride ? a->kv_bstride : (int64_t)a->Tk * a->nKV * a->hd;
}

/* Keys 0..lim-1 are causally visible to query i; a padding mask may hide more of them. */
static inline int causal_limit(const xgd_attn *a, int i) {
    if (!a->causal) return a->Tk;
    int lim = a->q_offset + i + 1;
    return lim < 0 ? 0 : lim > a->Tk ? a->Tk : lim;
}

static inline int key_ok(const xgd_attn *a, int b, int j) {
    return !a->key_mask || a->key_mask[(int64_t)b * a->Tk + j];
}

/* (n, hd) rows with stride ld -> (hd, n) */
static void transpose_rows(float *dst, const float *src, int64_t ld, int n, int hd) {
    for (int j = 0; j < n; j++)
        for (int c = 0; c < hd; c++) dst[(int64_t)c * n + j] = src[j * ld + c];
}

/* dot products of x with rows 0..n-1 (transposed copy xt when given; backward pass) */
static void row_dots(float *s, const float *x, const float *rows, int64_t ld, const float *xt, int64_t ldt, int hd, int n) {
    if (xt) xgd_scores_t(s, x, xt, ldt, hd, n);
    else for (int j = 0; j < n; j++) s[j] = xgd_dot_f32(x, rows + j * ld, hd);
}

/* Turns raw q·k (p[0..lim)) into probabilities over all Tk keys; returns how many leading keys
 * can have non-zero probability (lim, or Tk for a fully masked, uniform row). */
static int softmax_row(float *p, int lim, const xgd_attn *a, int b, int h, int i) {
    const int Tk = a->Tk;
    int any;
    const float mx = xgd_attn_logits(p, lim, a->scale, a->key_mask ? a->key_mask + (int64_t)b * Tk : NULL,
                                     a->alibi ? &a->alibi[h] : NULL, a->key_pos ? a->key_pos + (int64_t)b * Tk : NULL,
                                     a->pos_bias ? a->pos_bias + ((int64_t)h * a->Tq + i) * Tk : NULL, &any);
    if (!any) {
        for (int j = 0; j < Tk; j++) p[j] = 1.0f / (float)Tk;
        return Tk;
    }
    /* masked entries hold -FLT_MAX and come out of exp as exactly 0 */
    const float inv = (float)(1.0 / xgd_exp_sum(p, p, lim, mx));
    for (int j = 0; j < lim; j++) p[j] *= inv;
    for (int j = lim; j < Tk; j++) p[j] = 0.0f;
    return lim;
}

/* Many queries: per (b, h), keys transposed once, scores by broadcast-FMA over rows of keys. */
static void forward_head(float *out, float *probs, float *scratch, float *kt, const float *q, const float *k,
                         const float *v, const xgd_attn *a, int b, int h) {
    const int Tq = a->Tq, Tk = a->Tk, hd = a->hd, g = h / (a->nH / a->nKV);
    const int64_t krow = (int64_t)a->nKV * hd, qrow = (int64_t)a->nH * hd;
    const float *kb = k + b * kv_stride(a) + g * hd, *vb = v + b * kv_stride(a) + g * hd;
    transpose_rows(kt, kb, krow, Tk, hd);
    for (int i0 = 0; i0 < Tq; i0 += 4) {
        const int nb = Tq - i0 < 4 ? Tq - i0 : 4;
        float *p = probs ? probs + (((int64_t)b * a->nH + h) * Tq + i0) * Tk : scratch;   /* nb rows */
        const float *qi = q + ((int64_t)b * Tq + i0) * qrow + h * hd;
        float *o = out + ((int64_t)b * Tq + i0) * qrow + h * hd;
        if (nb == 4) {   /* four queries share every key and value row loaded */
            const int lim = causal_limit(a, i0 + 3);   /* the block's widest causal row */
            xgd_scores_t4(p, Tk, qi, qrow, kt, Tk, hd, lim);
            int n = 0;
            for (int r = 0; r < 4; r++) {
                const int nr = softmax_row(p + (int64_t)r * Tk, causal_limit(a, i0 + r), a, b, h, i0 + r);
                n = nr > n ? nr : n;
                memset(o + r * qrow, 0, (size_t)hd * sizeof(float));
            }
            xgd_wsum_rows4(o, qrow, p, Tk, vb, krow, n, hd);
            continue;
        }
        for (int r = 0; r < nb; r++) {
            float *pr = p + (int64_t)r * Tk;
            const int lim = causal_limit(a, i0 + r);
            xgd_scores_t(pr, qi + r * qrow, kt, Tk, hd, lim);
            const int n = softmax_row(pr, lim, a, b, h, i0 + r);
            memset(o + r * qrow, 0, (size_t)hd * sizeof(float));
            xgd_wsum_rows(o + r * qrow, pr, vb, krow, n, hd);
        }
    }
}

/* Few queries (decoding): per (b, kv head), each key row is read once for all the query heads
 * that share it (GQA), with dot products instead of a transpose. */
static void forward_group(float *out, float *probs, float *scratch, const float *q, const float *k, const float *v,
                          const xgd_attn *a, int b, int g) {
    const int Tq = a->Tq, Tk = a->Tk, hd = a->hd, rep = a->nH / a->nKV;
    const int64_t krow = (int64_t)a->nKV * hd, qrow = (int64_t)a->nH * hd;
    const float *kb = k + b * kv_stride(a) + g * hd, *vb = v + b * kv_stride(a) + g * hd;
    for (int i = 0; i < Tq; i++) {
        const int lim = causal_limit(a, i);
        const float *qi = q + ((int64_t)b * Tq + i) * qrow + (int64_t)g * rep * hd;   /* rep heads, stride hd */
        float *s = scratch;                                                          /* (rep, Tk) */
        if (rep == 1) {
            /* one query head per kv head: the keys are the rows and the query the shared vector,
             * so four keys go through each pass and one reduction tree */
            memset(s, 0, (size_t)lim * sizeof(float));
            xgd_dot_rows(s, 1, kb, krow, lim, qi, XGD_F32, hd);
        } else {
            for (int j = 0; j < lim; j++) {
                for (int r = 0; r < rep; r++) s[(int64_t)r * Tk + j] = 0.0f;
                xgd_dot_rows(s + j, Tk, qi, hd, rep, kb + j * krow, XGD_F32, hd);
            }
        }
        for (int r = 0; r < rep; r++) {
            const int h = g * rep + r;
            float *p = s + (int64_t)r * Tk;
            const int n = softmax_row(p, lim, a, b, h, i);
            float *o = out + ((int64_t)b * Tq + i) * qrow + h * hd;
            memset(o, 0, (size_t)hd * sizeof(float));
            xgd_wsum_rows(o, p, vb, krow, n, hd);
            if (probs) memcpy(probs + (((int64_t)b * a->nH + h) * Tq + i) * Tk, p, (size_t)Tk * sizeof(float));
        }
    }
}

void xgd_attention(float *out, float *probs, const float *q, const float *k, const float *v, const xgd_attn *a) {
    const int B = a->B, Tq = a->Tq, Tk = a->Tk, nH = a->nH, nKV = a->nKV, hd = a->hd;
    const int many = Tq >= KT_MIN_TQ;
    const int ntask = many ? B * nH : B * nKV;
    const int nt = xgd_ops_threads(4.0 * B * nH * (double)Tq * Tk * hd);
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *scratch = xgd_malloc((size_t)Tk * (many ? 4 : nH / nKV) * sizeof(float));
        float *kt = many ? xgd_malloc((size_t)Tk * hd * sizeof(float)) : NULL;
        #pragma omp for schedule(static)
        for (int t = 0; t < ntask; t++) {
            if (many) forward_head(out, probs, scratch, kt, q, k, v, a, t / nH, t % nH);
            else forward_group(out, probs, scratch, q, k, v, a, t / nKV, t % nKV);
        }
        free(scratch);
        free(kt);
    }
}

void xgd_attention_backward(float *dq, float *dk, float *dv, float *dpos_bias, const float *dout,
                            const float *probs, const float *q, const float *k, const float *v, const xgd_attn *a) {
    const int B = a->B, Tq = a->Tq, Tk = a->Tk, nH = a->nH, nKV = a->nKV, hd = a->hd, rep = nH / nKV;
    const int64_t kvs = kv_stride(a), krow = (int64_t)nKV * hd, qrow = (int64_t)nH * hd;
    const int use_vt = Tq >= KT_MIN_TQ;
    /* Query heads sharing a kv head write the same dk/dv rows, and dpos_bias is shared by the
     * batch, so a task owns one kv head (all its query heads) and, with dpos_bias, all batches. */
    const int ntask = dpos_bias ? nKV : B * nKV;
    const int nt = xgd_ops_threads(8.0 * B * nH * (double)Tq * Tk * hd);
    #pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *ds = xgd_malloc((size_t)Tq * Tk * sizeof(float));     /* scale * dS, (Tq, Tk) */
        float *vt = use_vt ? xgd_malloc((size_t)Tk * hd * sizeof(float)) : NULL;
        float *col = xgd_malloc((size_t)Tq * sizeof(float));
        #pragma omp for schedule(static)
        for (int task = 0; task < ntask; task++) {
            const int g = task % nKV, b0 = dpos_bias ? 0 : task / nKV, b1 = dpos_bias ? B : b0 + 1;
            for (int b = b0; b < b1; b++) {
                const float *kb = k + b * kvs + g * hd, *vb = v + b * kvs + g * hd;
                if (use_vt) transpose_rows(vt, vb, krow, Tk, hd);
                for (int h = g * rep; h < (g + 1) * rep; h++) {
                    const float *P = probs + ((int64_t)b * nH + h) * Tq * Tk;
                    const float *qh = q + (int64_t)b * Tq * qrow + h * hd, *doh = dout + (int64_t)b * Tq * qrow + h * hd;
                    /* rows: dP_j = dout_i·v_j; dS_j = P_j (dP_j - Σ P dP) over visible keys; dq.
                     * Blocks of four rows share the key/value rows they load (as forward). */
                    for (int i0 = 0, nb; i0 < Tq; i0 += nb) {
                        nb = use_vt && Tq - i0 >= 4 ? 4 : 1;
                        const int limb = causal_limit(a, i0 + nb - 1);
                        float *db = ds + (int64_t)i0 * Tk;
                        if (nb == 4) xgd_scores_t4(db, Tk, doh + i0 * qrow, qrow, vt, Tk, hd, limb);
                        else row_dots(db, doh + i0 * qrow, vb, krow, vt, Tk, hd, limb);
                        for (int i = i0; i < i0 + nb; i++) {
                            const float *p = P + (int64_t)i * Tk;
                            float *d = ds + (int64_t)i * Tk;
                            const int lim = causal_limit(a, i);
                            float sum = 0;
                            for (int j = 0; j < lim; j++) if (key_ok(a, b, j)) sum += p[j] * d[j];
                            for (int j = 0; j < lim; j++) d[j] = key_ok(a, b, j) ? p[j] * (d[j] - sum) : 0.0f;
                            for (int j = lim; j < Tk; j++) d[j] = 0.0f;
                            if (dpos_bias) xgd_axpy_f32(dpos_bias + ((int64_t)h * Tq + i) * Tk, 1.0f, d, lim);
                            for (int j = 0; j < lim; j++) d[j] *= a->scale;
                        }
                        if (!dq) continue;
                        float *dqi = dq + ((int64_t)b * Tq + i0) * qrow + h * hd;
                        if (nb == 4) xgd_wsum_rows4(dqi, qrow, db, Tk, kb, krow, limb, hd);
                        else xgd_wsum_rows(dqi, db, kb, krow, limb, hd);
                    }
                    /* columns: dk_j += Σ_i scale dS_ij q_i, dv_j += Σ_i P_ij dout_i, over the rows
                     * that can see key j (all rows for dv when a fully masked row may exist) */
                    for (int j = 0; j < Tk; j++) {
                        int i0 = a->causal ? j - a->q_offset : 0;
                        if (i0 < 0) i0 = 0;
                        if (i0 >= Tq && !a->key_mask) continue;
                        const int64_t ko = b * kvs + (int64_t)j * krow + g * hd;
                        if (dk && i0 < Tq) {
                            for (int i = i0; i < Tq; i++) col[i] = ds[(int64_t)i * Tk + j];
                            xgd_wsum_rows(dk + ko, col + i0, qh + i0 * qrow, qrow, Tq - i0, hd);
                        }
                        if (dv) {
                            const int iv = a->key_mask ? 0 : i0;
                            for (int i = iv; i < Tq; i++) col[i] = P[(int64_t)i * Tk + j];
                            xgd_wsum_rows(dv + ko, col + iv, doh + iv * qrow, qrow, Tq - iv, hd);
                        }
                    }
                }
            }
        }
        free(ds);
        free(vt);
        free(col);
    }
}
