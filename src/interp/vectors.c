/* Value vectors read in the stored layout: rows of the matrix are walked contiguously, so a
 * whole layer's cosines cost one pass over the weights whatever the layout. */
#include "interp/vectors.h"
#include "base/err.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Row r of a stored (rows, cols) matrix as f32. */
static void stored_row(const xgd_wmat *W, int64_t r, int64_t cols, float *dst) {
    size_t es = xgd_dtype_size(W->dtype);
    xgd_convert_to_f32(dst, (const char *)W->data + (size_t)r * (size_t)cols * es, W->dtype, (size_t)cols);
}

void xgd_value_vector(const xgd_model *m, int l, int64_t i, float *v) {
    const xgd_wmat *W = &m->layers[l].down; /* logical (out = H, in = F) */
    int64_t H = W->out, F = W->in;
    if (W->layout == XGD_W_IN_OUT) { stored_row(W, i, H, v); return; }
    size_t es = xgd_dtype_size(W->dtype);
    for (int64_t h = 0; h < H; h++) /* column i of (H, F) */
        xgd_convert_to_f32(v + h, (const char *)W->data + ((size_t)h * (size_t)F + (size_t)i) * es, W->dtype, 1);
}

void xgd_value_cosines(const xgd_model *m, int l, const float *w, float *cos) {
    const xgd_wmat *W = &m->layers[l].down;
    int64_t H = W->out, F = W->in;
    double wn = 0;
    for (int64_t h = 0; h < H; h++) wn += (double)w[h] * w[h];
    wn = sqrt(wn);
    double *dots = xgd_calloc((size_t)F, sizeof(double)), *nrm = xgd_calloc((size_t)F, sizeof(double));
    if (W->layout == XGD_W_IN_OUT) { /* stored (F, H): one row per neuron */
        #pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < F; i++) {
            float *row = xgd_malloc(sizeof(float) * (size_t)H);
            stored_row(W, i, H, row);
            double d = 0, n = 0;
            for (int64_t h = 0; h < H; h++) { d += (double)row[h] * w[h]; n += (double)row[h] * row[h]; }
            dots[i] = d;
            nrm[i] = n;
            free(row);
        }
    } else { /* stored (H, F): accumulate row h into every neuron */
        float *row = xgd_malloc(sizeof(float) * (size_t)F);
        for (int64_t h = 0; h < H; h++) {
            stored_row(W, h, F, row);
            for (int64_t i = 0; i < F; i++) { dots[i] += (double)row[i] * w[h]; nrm[i] += (double)row[i] * row[i]; }
        }
        free(row);
    }
    for (int64_t i = 0; i < F; i++) {
        double den = sqrt(nrm[i]) * wn;
        cos[i] = (float)(dots[i] / (den > 1e-8 ? den : 1e-8));
    }
    free(dots);
    free(nrm);
}

/* Min-heap on (value, -index): the root is the weakest of the k kept. */
static int weaker(const float *x, int64_t a, int64_t b) {
    return x[a] < x[b] || (x[a] == x[b] && a > b);
}

static void sift_down(const float *x, int64_t *h, int k, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, s = i;
        if (l < k && weaker(x, h[l], h[s])) s = l;
        if (r < k && weaker(x, h[r], h[s])) s = r;
        if (s == i) return;
        int64_t t = h[i]; h[i] = h[s]; h[s] = t;
        i = s;
    }
}

void xgd_topk(const float *x, int64_t n, int k, int64_t *idx) {
    if (k > n) k = (int)n;
    if (k <= 0) return;
    for (int i = 0; i < k; i++) idx[i] = i;
    for (int i = k / 2 - 1; i >= 0; i--) sift_down(x, idx, k, i);
    for (int64_t j = k; j < n; j++)
        if (weaker(x, idx[0], j)) { idx[0] = j; sift_down(x, idx, k, 0); }
    /* heap sort: pop the weakest to the end */
    for (int e = k - 1; e > 0; e--) {
        int64_t t = idx[0]; idx[0] = idx[e]; idx[e] = t;
        sift_down(x, idx, e, 0);
    }
}

void xgd_vocab_project_n(const xgd_model *m, const float *v, int64_t n, float *scores) {
    xgd_linear(scores, v, n, xgd_model_head(m), NULL);
    if (m->hp.logit_scale != 1.0f)
        for (int64_t i = 0; i < n * m->hp.vocab; i++) scores[i] *= m->hp.logit_scale;
}

void xgd_vocab_project(const xgd_model *m, const float *v, float *scores) { xgd_vocab_project_n(m, v, 1, scores); }
