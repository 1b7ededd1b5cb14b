/* Attention forward against a direct double-precision reference (causal + left-padding mask +
 * GQA 6/2 + ALiBi over 6 heads; T5-style non-causal with additive position bias; a fully masked
 * row is uniform), KV-cache decoding (q_offset, kv_bstride) against rows of the full causal pass,
 * and every gradient (q, k, v, pos_bias) by finite differences. */
#include "ops_check.h"
#include "ops/ops.h"

/* Independent reference: softmax over the visible keys in double; no visible key -> uniform. */
static void attn_ref(double *out, const float *q, const float *k, const float *v, const xgd_attn *a) {
    const int rep = a->nH / a->nKV;
    const int64_t kvs = a->kv_bstride ? a->kv_bstride : (int64_t)a->Tk * a->nKV * a->hd;
    double *s = malloc((size_t)a->Tk * sizeof(double));
    int *vis = malloc((size_t)a->Tk * sizeof(int));
    for (int b = 0; b < a->B; b++)
        for (int h = 0; h < a->nH; h++)
            for (int i = 0; i < a->Tq; i++) {
                const float *qi = q + (((int64_t)b * a->Tq + i) * a->nH + h) * a->hd;
                double mx = -INFINITY, sum = 0;
                int any = 0;
                for (int j = 0; j < a->Tk; j++) {
                    vis[j] = !(a->causal && j > a->q_offset + i) && !(a->key_mask && !a->key_mask[b * a->Tk + j]);
                    const float *kj = k + b * kvs + ((int64_t)j * a->nKV + h / rep) * a->hd;
                    double d = 0;
                    for (int c = 0; c < a->hd; c++) d += (double)qi[c] * kj[c];
                    s[j] = d * a->scale;
                    if (a->alibi) s[j] += (double)a->alibi[h] * (a->key_pos ? a->key_pos[b * a->Tk + j] : j);
                    if (a->pos_bias) s[j] += a->pos_bias[((int64_t)h * a->Tq + i) * a->Tk + j];
                    if (vis[j]) { any = 1; mx = fmax(mx, s[j]); }
                }
                for (int j = 0; j < a->Tk; j++) {
                    s[j] = !any ? 1.0 : vis[j] ? exp(s[j] - mx) : 0.0;
                    sum += s[j];
                }
                double *o = out + (((int64_t)b * a->Tq + i) * a->nH + h) * a->hd;
                for (int c = 0; c < a->hd; c++) o[c] = 0;
                for (int j = 0; j < a->Tk; j++) {
                    const float *vj = v + b * kvs + ((int64_t)j * a->nKV + h / rep) * a->hd;
                    for (int c = 0; c < a->hd; c++) o[c] += s[j] / sum * vj[c];
                }
            }
    free(s);
    free(vis);
}

static double compare_ref(const float *out, const float *q, const float *k, const float *v, const xgd_attn *a) {
    int64_t n = (int64_t)a->B * a->Tq * a->nH * a->hd;
    double *r = malloc((size_t)n * sizeof(double)), worst = 0;
    attn_ref(r, q, k, v, a);
    for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs(r[i] - out[i]));
    free(r);
    return worst;
}

typedef struct { const xgd_attn *a; float *q, *k, *v, *pb, *out, *w; } at_ctx;

static double at_loss(void *p) {
    at_ctx *c = p;
    xgd_attention(c->out, NULL, c->q, c->k, c->v, c->a);
    return t_wsum(c->w, c->out, (int64_t)c->a->B * c->a->Tq * c->a->nH * c->a->hd);
}

/* forward vs reference, then FD on q, k, v (and pos_bias) */
static void check_case(const char *name, xgd_attn *a, int grads) {
    const int64_t nq = (int64_t)a->B * a->Tq * a->nH * a->hd, nkv = (int64_t)a->B * a->Tk * a->nKV * a->hd;
    at_ctx c = {a, t_randn(nq, 1.0f), t_randn(nkv, 1.0f), t_randn(nkv, 1.0f), NULL, t_zeros(nq), t_randn(nq, 1.0f)};
    if (a->pos_bias) c.pb = (float *)a->pos_bias;
    float *probs = t_zeros((int64_t)a->B * a->nH * a->Tq * a->Tk);
    xgd_attention(c.out, probs, c.q, c.k, c.v, a);
    double d = compare_ref(c.out, c.q, c.k, c.v, a);
    CHECK_MSG(d <= 1e-5, "%s: forward max diff %.3g", name, d);
    float *out2 = t_zeros(nq);   /* without probs: same numbers */
    xgd_attention(out2, NULL, c.q, c.k, c.v, a);
    CHECK(t_maxdiff(c.out, out2, nq) == 0);
    if (grads) {
        const float c0 = 0.5f;
        float *dq = t_zeros(nq), *dk = t_zeros(nkv), *dv = t_zeros(nkv);
        int64_t npb = a->pos_bias ? (int64_t)a->nH * a->Tq * a->Tk : 0;
        float *dpb = t_zeros(npb);
        for (int64_t i = 0; i < nq; i++) dq[i] = c0;
        for (int64_t i = 0; i < nkv; i++) dk[i] = dv[i] = c0;
        xgd_attention_backward(dq, dk, dv, npb ? dpb : NULL, c.w, probs, c.q, c.k, c.v, a);
        for (int64_t i = 0; i < nq; i++) dq[i] -= c0;
        for (int64_t i = 0; i < nkv; i++) { dk[i] -= c0; dv[i] -= c0; }
        char nm[128];
        snprintf(nm, sizeof nm, "%s dq", name); CHECK_GRAD(nm, at_loss, &c, c.q, dq, nq, 1e-2f);
        snprintf(nm, sizeof nm, "%s dk", name); CHECK_GRAD(nm, at_loss, &c, c.k, dk, nkv, 1e-2f);
        snprintf(nm, sizeof nm, "%s dv", name); CHECK_GRAD(nm, at_loss, &c, c.v, dv, nkv, 1e-2f);
        if (npb) { snprintf(nm, sizeof nm, "%s dpos_bias", name); CHECK_GRAD(nm, at_loss, &c, c.pb, dpb, npb, 1e-2f); }
        free(dq); free(dk); free(dv); free(dpb);
    }
    free(c.q); free(c.k); free(c.v); free(c.out); free(c.w); free(probs); free(out2);
}

/* Llama/BLOOM style: causal, left padding in batch 1, GQA 6 query heads over 2 kv heads, ALiBi
 * slopes for 6 heads with positions cumsum(mask)-1 (0 on pads). Query 0 of batch 1 sees only a
 * pad key: its row is fully masked and must be uniform over all keys. */
static void test_causal_gqa_alibi(void) {
    uint8_t mask[10] = {1, 1, 1, 1, 1, 0, 0, 1, 1, 1};
    int32_t kpos[10] = {0, 1, 2, 3, 4, 0, 0, 0, 1, 2};
    float slopes[6];
    xgd_alibi_slopes(slopes, 6);
    xgd_attn a = {.B = 2, .Tq = 5, .Tk = 5, .nH = 6, .nKV = 2, .hd = 8, .scale = 1.0f / sqrtf(8.0f), .causal = 1,
                  .key_mask = mask, .alibi = slopes, .key_pos = kpos};
    check_case("causal+pad+gqa+alibi", &a, 1);
    a.alibi = NULL; a.key_pos = NULL;
    check_case("causal+pad+gqa", &a, 1);
    a.key_mask = NULL; a.nKV = 6;
    check_case("causal mha", &a, 1);
}

/* fully masked row: out = mean of all v rows */
static void test_fully_masked(void) {
    uint8_t mask[4] = {0, 0, 0, 0};
    xgd_attn a = {.B = 1, .Tq = 2, .Tk = 4, .nH = 1, .nKV = 1, .hd = 3, .scale = 1, .key_mask = mask};
    float q[6], k[12], v[12], out[6], probs[8];
    for (int i = 0; i < 12; i++) { k[i] = (float)i; v[i] = (float)(i * i % 7); }
    for (int i = 0; i < 6; i++) q[i] = (float)i;
    xgd_attention(out, probs, q, k, v, &a);
    for (int j = 0; j < 8; j++) CHECK(probs[j] == 0.25f);
    for (int c = 0; c < 3; c++) CHECK_NEAR(out[c], (v[c] + v[3 + c] + v[6 + c] + v[9 + c]) / 4.0, 1e-6);
    CHECK(!isnan(out[5]));
}

/* T5: no scaling, additive position bias (nH,Tq,Tk), bidirectional, one pad key in batch 0;
 * dpos_bias sums over the batch. */
static void test_t5(void) {
    uint8_t mask[12] = {1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1};
    float *pb = t_randn(3 * 4 * 6, 1.0f);
    xgd_attn a = {.B = 2, .Tq = 4, .Tk = 6, .nH = 3, .nKV = 3, .hd = 4, .scale = 1.0f, .key_mask = mask, .pos_bias = pb};
    check_case("t5 pos_bias+pad", &a, 1);
    a.Tq = 2;                                     /* fewer queries: per-key dot products */
    check_case("t5 pos_bias+pad Tq=2", &a, 1);
    a.causal = 1; a.Tq = 4; a.Tk = 4; a.key_mask = NULL;   /* decoder self-attention shape */
    check_case("t5 causal pos_bias", &a, 1);
    free(pb);
}

/* KV cache: keys/values in a buffer of capacity Tmax per sequence (kv_bstride); decoding query t
 * alone (Tq=1, q_offset=t, Tk=t+1) equals row t of the full causal pass, ALiBi included. */
static void test_kv_cache(void) {
    const int B = 2, T = 7, Tmax = 10, nH = 4, nKV = 2, hd = 8;
    float slopes[4];
    xgd_alibi_slopes(slopes, nH);
    xgd_attn full = {.B = B, .Tq = T, .Tk = T, .nH = nH, .nKV = nKV, .hd = hd, .scale = 0.3f, .causal = 1, .alibi = slopes};
    float *q = t_randn((int64_t)B * T * nH * hd, 1.0f), *k = t_randn((int64_t)B * T * nKV * hd, 1.0f);
    float *v = t_randn((int64_t)B * T * nKV * hd, 1.0f), *out = t_zeros((int64_t)B * T * nH * hd);
    xgd_attention(out, NULL, q, k, v, &full);
    CHECK(compare_ref(out, q, k, v, &full) <= 1e-5);
    float *kc = t_zeros((int64_t)B * Tmax * nKV * hd), *vc = t_zeros((int64_t)B * Tmax * nKV * hd);
    for (int b = 0; b < B; b++) {
        memcpy(kc + (int64_t)b * Tmax * nKV * hd, k + (int64_t)b * T * nKV * hd, (size_t)T * nKV * hd * sizeof(float));
        memcpy(vc + (int64_t)b * Tmax * nKV * hd, v + (int64_t)b * T * nKV * hd, (size_t)T * nKV * hd * sizeof(float));
    }
    float *q1 = t_zeros((int64_t)B * nH * hd), *o1 = t_zeros((int64_t)B * nH * hd);
    double worst = 0;
    for (int t = 0; t < T; t++) {
        for (int b = 0; b < B; b++)
            memcpy(q1 + (int64_t)b * nH * hd, q + ((int64_t)b * T + t) * nH * hd, (size_t)nH * hd * sizeof(float));
        xgd_attn dec = full;
        dec.Tq = 1; dec.Tk = t + 1; dec.q_offset = t; dec.kv_bstride = (int64_t)Tmax * nKV * hd;
        xgd_attention(o1, NULL, q1, kc, vc, &dec);
        for (int b = 0; b < B; b++)
            worst = fmax(worst, t_maxdiff(o1 + (int64_t)b * nH * hd, out + ((int64_t)b * T + t) * nH * hd, nH * hd));
        /* the same step against the whole capacity with a key mask hiding the unwritten slots */
        uint8_t km[20];
        for (int b = 0; b < B; b++) for (int j = 0; j < Tmax; j++) km[b * Tmax + j] = j <= t;
        dec.Tk = Tmax; dec.key_mask = km;
        xgd_attention(o1, NULL, q1, kc, vc, &dec);
        for (int b = 0; b < B; b++)
            worst = fmax(worst, t_maxdiff(o1 + (int64_t)b * nH * hd, out + ((int64_t)b * T + t) * nH * hd, nH * hd));
    }
    CHECK_MSG(worst <= 1e-6, "kv-cache decode vs full causal: max diff %.3g", worst);
    /* prefill of 3 then a 4-query chunk with q_offset 3 */
    xgd_attn chunk = full;
    chunk.Tq = 4; chunk.Tk = T; chunk.q_offset = 3; chunk.kv_bstride = (int64_t)Tmax * nKV * hd;
    float *q4 = t_zeros((int64_t)B * 4 * nH * hd), *o4 = t_zeros((int64_t)B * 4 * nH * hd);
    for (int b = 0; b < B; b++)
        memcpy(q4 + (int64_t)b * 4 * nH * hd, q + ((int64_t)b * T + 3) * nH * hd, (size_t)4 * nH * hd * sizeof(float));
    xgd_attention(o4, NULL, q4, kc, vc, &chunk);
    worst = 0;
    for (int b = 0; b < B; b++)
        worst = fmax(worst, t_maxdiff(o4 + (int64_t)b * 4 * nH * hd, out + ((int64_t)b * T + 3) * nH * hd, 4 * nH * hd));
    CHECK_MSG(worst <= 1e-6, "chunked prefill with q_offset: max diff %.3g", worst);
    /* backward with a batch stride: FD through the strided cache */
    xgd_attn bs = full;
    bs.kv_bstride = (int64_t)Tmax * nKV * hd;
    at_ctx c = {&bs, q, kc, vc, NULL, out, t_randn((int64_t)B * T * nH * hd, 1.0f)};
    float *probs = t_zeros((int64_t)B * nH * T * T), *dk = t_zeros((int64_t)B * Tmax * nKV * hd), *dv = t_zeros((int64_t)B * Tmax * nKV * hd);
    xgd_attention(out, probs, q, kc, vc, &bs);
    xgd_attention_backward(NULL, dk, dv, NULL, c.w, probs, q, kc, vc, &bs);
    CHECK_GRAD("strided kv dk", at_loss, &c, kc, dk, (int64_t)B * Tmax * nKV * hd, 1e-2f);
    CHECK_GRAD("strided kv dv", at_loss, &c, vc, dv, (int64_t)B * Tmax * nKV * hd, 1e-2f);
    free(q); free(k); free(v); free(out); free(kc); free(vc); free(q1); free(o1); free(q4); free(o4);
    free(c.w); free(probs); free(dk); free(dv);
}

/* a size above the threading threshold: threaded forward/backward equal the reference */
static void test_threaded(void) {
    xgd_attn a = {.B = 2, .Tq = 40, .Tk = 40, .nH = 6, .nKV = 2, .hd = 32, .scale = 0.2f, .causal = 1};
    check_case("threaded causal", &a, 0);
    /* threaded backward (tasks per kv head, or per head with dpos_bias) equals the serial one */
    const int64_t nq = 2 * 40 * 6 * 32, nkv = 2 * 40 * 2 * 32, npb = 6 * 40 * 40;
    float *q = t_randn(nq, 1.0f), *k = t_randn(nkv, 1.0f), *v = t_randn(nkv, 1.0f), *dout = t_randn(nq, 1.0f);
    float *pb = t_randn(npb, 1.0f), *out = t_zeros(nq), *probs = t_zeros(2 * 6 * 40 * 40);
    a.pos_bias = pb;
    xgd_attention(out, probs, q, k, v, &a);
    float *g[2][4];
    for (int run = 0; run < 2; run++) {
        if (run == 0) setenv("XGD_NUM_THREADS", "1", 1);
        else unsetenv("XGD_NUM_THREADS");
        g[run][0] = t_zeros(nq); g[run][1] = t_zeros(nkv); g[run][2] = t_zeros(nkv); g[run][3] = t_zeros(npb);
        xgd_attention_backward(g[run][0], g[run][1], g[run][2], g[run][3], dout, probs, q, k, v, &a);
    }
    CHECK(t_maxdiff(g[0][0], g[1][0], nq) == 0 && t_maxdiff(g[0][1], g[1][1], nkv) == 0);
    CHECK(t_maxdiff(g[0][2], g[1][2], nkv) == 0 && t_maxdiff(g[0][3], g[1][3], npb) == 0);
    for (int run = 0; run < 2; run++) for (int i = 0; i < 4; i++) free(g[run][i]);
    free(q); free(k); free(v); free(dout); free(pb); free(out); free(probs);
}

int main(void) {
    xgd_rng_init(&t_rng, 5, 0);
    test_causal_gqa_alibi();
    test_fully_masked();
    test_t5();
    test_kv_cache();
    test_threaded();
    return test_done("ops/attention");
}
