/* Writes inputs, outputs and gradients of every op to .npy files so test_ops_torch.py can
 * recompute them with torch autograd (an independent reference). Run alone (ctest) it only checks
 * that everything was written; the folder is argv[1] or $XGD_TMP/ops_export. */
#include "ops_check.h"
#include "ops/ops.h"
#include "base/fs.h"
#include "base/npy.h"
#include <stdarg.h>

static const char *g_dir;

/* save(name, dtype, data, ndim, d0, d1, ...) */
static void save(const char *name, xgd_dtype t, const void *data, int ndim, ...) {
    int64_t shape[8];
    va_list ap;
    va_start(ap, ndim);
    for (int i = 0; i < ndim; i++) shape[i] = va_arg(ap, int64_t);
    va_end(ap);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.npy", g_dir, name);
    CHECK_MSG(xgd_npy_write(path, t, data, ndim, shape) == 0, "write %s", path);
}
#define I(x) ((int64_t)(x))

/* weights: logical (N,K) f32 values (after rounding to dt) and storage in the given layout */
static void *make_weight(float *logical, xgd_dtype dt, int layout, int64_t N, int64_t K) {
    void *st = malloc((size_t)(N * K) * xgd_dtype_size(dt));
    for (int64_t o = 0; o < N; o++)
        for (int64_t k = 0; k < K; k++) {
            int64_t s = layout == XGD_W_OUT_IN ? o * K + k : k * N + o;
            float v = logical[o * K + k];
            if (dt == XGD_BF16) { uint16_t h = xgd_f32_to_bf16(v); ((uint16_t *)st)[s] = h; v = xgd_bf16_to_f32(h); }
            else if (dt == XGD_F16) { uint16_t h = xgd_f32_to_f16(v); ((uint16_t *)st)[s] = h; v = xgd_f16_to_f32(h); }
            else ((float *)st)[s] = v;
            logical[o * K + k] = v;
        }
    return st;
}

static void export_linear(const char *name, xgd_dtype dt, int layout, int64_t M, int64_t N, int64_t K, int bias) {
    float *wl = t_randn(N * K, 0.3f);
    void *st = make_weight(wl, dt, layout, N, K);
    xgd_wmat W = {st, dt, N, K, layout};
    float *x = t_randn(M * K, 1.0f), *b = bias ? t_randn(N, 1.0f) : NULL, *y = t_zeros(M * N), *dy = t_randn(M * N, 1.0f);
    float *dx = t_zeros(M * K), *dW = t_zeros(N * K), *db = t_zeros(N);
    xgd_linear(y, x, M, &W, b);
    xgd_linear_backward(dx, dt == XGD_F32 ? dW : NULL, bias ? db : NULL, dy, x, M, &W);
    char n[128];
    int32_t meta[2] = {layout, dt == XGD_F32};
    snprintf(n, sizeof n, "%s_meta", name); save(n, XGD_I32, meta, 1, I(2));
    snprintf(n, sizeof n, "%s_x", name); save(n, XGD_F32, x, 2, M, K);
    snprintf(n, sizeof n, "%s_w", name); save(n, XGD_F32, wl, 2, N, K);
    if (bias) { snprintf(n, sizeof n, "%s_b", name); save(n, XGD_F32, b, 1, N); snprintf(n, sizeof n, "%s_db", name); save(n, XGD_F32, db, 1, N); }
    snprintf(n, sizeof n, "%s_y", name); save(n, XGD_F32, y, 2, M, N);
    snprintf(n, sizeof n, "%s_dy", name); save(n, XGD_F32, dy, 2, M, N);
    snprintf(n, sizeof n, "%s_dx", name); save(n, XGD_F32, dx, 2, M, K);
    if (dt == XGD_F32) {  /* dW in the storage layout */
        snprintf(n, sizeof n, "%s_dW", name);
        if (layout == XGD_W_OUT_IN) save(n, XGD_F32, dW, 2, N, K); else save(n, XGD_F32, dW, 2, K, N);
    }
    free(wl); free(st); free(x); free(b); free(y); free(dy); free(dx); free(dW); free(db);
}

static void export_norms(void) {
    const int64_t N = 6, C = 48;
    float *x = t_randn(N * C, 2.0f), *w = t_randn(C, 1.0f), *b = t_randn(C, 1.0f), *dy = t_randn(N * C, 1.0f);
    float *y = t_zeros(N * C), *mean = t_zeros(N), *rstd = t_zeros(N);
    for (int64_t i = 0; i < N * C; i++) x[i] += 1.5f;
    save("norm_x", XGD_F32, x, 2, N, C); save("norm_w", XGD_F32, w, 1, C); save("norm_b", XGD_F32, b, 1, C);
    save("norm_dy", XGD_F32, dy, 2, N, C);
    for (int kind = 0; kind < 3; kind++) {   /* layernorm, cohere (weight only), rmsnorm */
        float *dx = t_zeros(N * C), *dw = t_zeros(C), *db = t_zeros(C);
        const char *nm = kind == 0 ? "ln" : kind == 1 ? "cln" : "rms";
        if (kind < 2) {
            xgd_layernorm(y, mean, rstd, x, w, kind == 0 ? b : NULL, N, C, 1e-5f);
            xgd_layernorm_backward(dx, dw, kind == 0 ? db : NULL, dy, x, w, mean, rstd, N, C);
        } else {
            xgd_rmsnorm(y, rstd, x, w, N, C, 1e-6f);
            xgd_rmsnorm_backward(dx, dw, dy, x, w, rstd, N, C);
        }
        char n[64];
        snprintf(n, sizeof n, "%s_y", nm); save(n, XGD_F32, y, 2, N, C);
        snprintf(n, sizeof n, "%s_dx", nm); save(n, XGD_F32, dx, 2, N, C);
        snprintf(n, sizeof n, "%s_dw", nm); save(n, XGD_F32, dw, 1, C);
        if (kind == 0) { snprintf(n, sizeof n, "%s_db", nm); save(n, XGD_F32, db, 1, C); }
        free(dx); free(dw); free(db);
    }
    free(x); free(w); free(b); free(dy); free(y); free(mean); free(rstd);
}

static void export_acts(void) {
    const int64_t n = 500;
    float *x = t_randn(n, 2.5f), *up = t_randn(n, 1.0f), *dy = t_randn(n, 1.0f), *y = t_zeros(n);
    save("act_x", XGD_F32, x, 1, n); save("act_up", XGD_F32, up, 1, n); save("act_dy", XGD_F32, dy, 1, n);
    const char *names[4] = {"gelu_tanh", "gelu_erf", "silu", "relu"};
    for (int a = 0; a < 4; a++) {
        float *dx = t_zeros(n), *dup = t_zeros(n);
        char nm[64];
        xgd_act(a, y, x, n);
        xgd_act_backward(a, dx, dy, x, n);
        snprintf(nm, sizeof nm, "act_%s_y", names[a]); save(nm, XGD_F32, y, 1, n);
        snprintf(nm, sizeof nm, "act_%s_dx", names[a]); save(nm, XGD_F32, dx, 1, n);
        memset(dx, 0, (size_t)n * 4);
        xgd_gated(a, y, x, up, n);
        xgd_gated_backward(a, dx, dup, dy, x, up, n);
        snprintf(nm, sizeof nm, "gated_%s_y", names[a]); save(nm, XGD_F32, y, 1, n);
        snprintf(nm, sizeof nm, "gated_%s_dgate", names[a]); save(nm, XGD_F32, dx, 1, n);
        snprintf(nm, sizeof nm, "gated_%s_dup", names[a]); save(nm, XGD_F32, dup, 1, n);
        free(dx); free(dup);
    }
    free(x); free(up); free(dy); free(y);
}

static void export_softmax(void) {
    const int64_t N = 7, V = 300;
    float *z = t_randn(N * V, 3.0f), *s = malloc((size_t)(N * V) * 4), *lp = t_zeros(N), *lse = t_zeros(N);
    float *dlp = t_randn(N, 1.0f), *dz = t_zeros(N * V);
    int32_t tgt[7] = {5, -100, 299, 0, 17, -100, 150};
    memcpy(s, z, (size_t)(N * V) * 4);
    xgd_softmax_rows(s, N, V);
    xgd_logprob_gather(lp, lse, z, tgt, N, V);
    xgd_logprob_gather_backward(dz, dlp, z, lse, tgt, N, V);
    save("sm_z", XGD_F32, z, 2, N, V); save("sm_p", XGD_F32, s, 2, N, V); save("lp_tgt", XGD_I32, tgt, 1, N);
    save("lp_lp", XGD_F32, lp, 1, N); save("lp_dlp", XGD_F32, dlp, 1, N); save("lp_dz", XGD_F32, dz, 2, N, V);
    free(z); free(s); free(lp); free(lse); free(dlp); free(dz);
}

static void export_embedding(void) {
    const int64_t V = 13, C = 24, N = 8;
    float *tab = t_randn(V * C, 1.0f), *out = t_zeros(N * C), *dout = t_randn(N * C, 1.0f), *dE = t_zeros(V * C);
    uint16_t *tb = malloc((size_t)(V * C) * 2);
    for (int64_t i = 0; i < V * C; i++) { tb[i] = xgd_f32_to_bf16(tab[i]); tab[i] = xgd_bf16_to_f32(tb[i]); }
    int32_t ids[8] = {1, 12, 1, 0, 5, 5, 5, 9};
    xgd_wmat E = {tb, XGD_BF16, V, C, XGD_W_OUT_IN};
    xgd_embedding(out, ids, N, &E);
    xgd_embedding_backward(dE, dout, ids, N, C);
    save("emb_table", XGD_F32, tab, 2, V, C); save("emb_ids", XGD_I32, ids, 1, N); save("emb_out", XGD_F32, out, 2, N, C);
    save("emb_dout", XGD_F32, dout, 2, N, C); save("emb_dE", XGD_F32, dE, 2, V, C);
    free(tab); free(out); free(dout); free(dE); free(tb);
}

static void export_rope(void) {
    const int64_t N = 6;
    const int nh = 2, hd = 32;
    int32_t pos[6] = {0, 1, 2, 57, 1000, 8191};
    save("rope_pos", XGD_I32, pos, 1, N);
    float inv[64];
    xgd_rope_inv_freq(inv, 128, 500000.0, NULL); save("inv_default", XGD_F32, inv, 1, I(64));
    xgd_rope_scaling l3 = {.type = XGD_ROPE_LLAMA3, .factor = 8, .low_freq_factor = 1, .high_freq_factor = 4, .original_max_position = 8192};
    xgd_rope_inv_freq(inv, 128, 500000.0, &l3); save("inv_llama3", XGD_F32, inv, 1, I(64));
    xgd_rope_inv_freq(inv, hd, 10000.0, NULL);
    float *x = t_randn(N * nh * hd, 1.0f), *dy = t_randn(N * nh * hd, 1.0f), *y = t_zeros(N * nh * hd);
    save("rope_x", XGD_F32, x, 3, N, I(nh), I(hd)); save("rope_dy", XGD_F32, dy, 3, N, I(nh), I(hd));
    for (int il = 0; il < 2; il++) {
        memcpy(y, x, (size_t)(N * nh * hd) * 4);
        xgd_rope(y, pos, N, nh, hd, inv, il);
        float *dx = malloc((size_t)(N * nh * hd) * 4);
        memcpy(dx, dy, (size_t)(N * nh * hd) * 4);
        xgd_rope_backward(dx, pos, N, nh, hd, inv, il);
        save(il ? "rope_il_y" : "rope_y", XGD_F32, y, 3, N, I(nh), I(hd));
        save(il ? "rope_il_dx" : "rope_dx", XGD_F32, dx, 3, N, I(nh), I(hd));
        free(dx);
    }
    free(x); free(dy); free(y);
    float sl[40];
    const int heads[4] = {6, 12, 16, 32};
    for (int i = 0; i < 4; i++) {
        char nm[32];
        xgd_alibi_slopes(sl, heads[i]);
        snprintf(nm, sizeof nm, "alibi_%d", heads[i]);
        save(nm, XGD_F32, sl, 1, I(heads[i]));
    }
    int32_t bk[2][401];
    for (int r = -200; r <= 200; r++) { bk[0][r + 200] = xgd_t5_bucket(r, 1, 32, 128); bk[1][r + 200] = xgd_t5_bucket(r, 0, 32, 128); }
    save("t5_buckets", XGD_I32, bk, 2, I(2), I(401));
}

/* attention: name_{q,k,v,out,dout,dq,dk,dv[,pb,dpb,mask,kpos,alibi]} plus meta */
static void export_attention(const char *name, xgd_attn *a, int with_pb) {
    const int64_t nq = (int64_t)a->B * a->Tq * a->nH * a->hd, nkv = (int64_t)a->B * a->Tk * a->nKV * a->hd;
    const int64_t npb = (int64_t)a->nH * a->Tq * a->Tk;
    float *q = t_randn(nq, 1.0f), *k = t_randn(nkv, 1.0f), *v = t_randn(nkv, 1.0f), *dout = t_randn(nq, 1.0f);
    float *pb = with_pb ? t_randn(npb, 1.0f) : NULL, *out = t_zeros(nq), *probs = t_zeros((int64_t)a->B * a->nH * a->Tq * a->Tk);
    float *dq = t_zeros(nq), *dk = t_zeros(nkv), *dv = t_zeros(nkv), *dpb = t_zeros(npb);
    a->pos_bias = pb;
    xgd_attention(out, probs, q, k, v, a);
    xgd_attention_backward(dq, dk, dv, with_pb ? dpb : NULL, dout, probs, q, k, v, a);
    char n[128];
    int32_t meta[8] = {a->B, a->Tq, a->Tk, a->nH, a->nKV, a->hd, a->causal, a->q_offset};
    float scale = a->scale;
#define S(suffix, t, p, ...) do { snprintf(n, sizeof n, "%s_%s", name, suffix); save(n, t, p, __VA_ARGS__); } while (0)
    S("meta", XGD_I32, meta, 1, I(8));
    S("scale", XGD_F32, &scale, 1, I(1));
    S("q", XGD_F32, q, 4, I(a->B), I(a->Tq), I(a->nH), I(a->hd));
    S("k", XGD_F32, k, 4, I(a->B), I(a->Tk), I(a->nKV), I(a->hd));
    S("v", XGD_F32, v, 4, I(a->B), I(a->Tk), I(a->nKV), I(a->hd));
    S("dout", XGD_F32, dout, 4, I(a->B), I(a->Tq), I(a->nH), I(a->hd));
    S("out", XGD_F32, out, 4, I(a->B), I(a->Tq), I(a->nH), I(a->hd));
    S("probs", XGD_F32, probs, 4, I(a->B), I(a->nH), I(a->Tq), I(a->Tk));
    S("dq", XGD_F32, dq, 4, I(a->B), I(a->Tq), I(a->nH), I(a->hd));
    S("dk", XGD_F32, dk, 4, I(a->B), I(a->Tk), I(a->nKV), I(a->hd));
    S("dv", XGD_F32, dv, 4, I(a->B), I(a->Tk), I(a->nKV), I(a->hd));
    if (with_pb) { S("pb", XGD_F32, pb, 3, I(a->nH), I(a->Tq), I(a->Tk)); S("dpb", XGD_F32, dpb, 3, I(a->nH), I(a->Tq), I(a->Tk)); }
    if (a->key_mask) S("mask", XGD_U8, a->key_mask, 2, I(a->B), I(a->Tk));
    if (a->alibi) S("alibi", XGD_F32, a->alibi, 1, I(a->nH));
    if (a->key_pos) S("kpos", XGD_I32, a->key_pos, 2, I(a->B), I(a->Tk));
#undef S
    free(q); free(k); free(v); free(dout); free(pb); free(out); free(probs); free(dq); free(dk); free(dv); free(dpb);
}

int main(int argc, char **argv) {
    xgd_rng_init(&t_rng, 2024, 0);
    if (argc > 1) {
        g_dir = argv[1];
        if (xgd_mkdir_p(g_dir) != 0) { fprintf(stderr, "cannot create %s\n", g_dir); return 1; }
    } else {
        g_dir = test_tmpdir("ops_export");
    }
    export_linear("lin_f32_oi_m5", XGD_F32, XGD_W_OUT_IN, 5, 24, 40, 1);
    export_linear("lin_f32_io_m20", XGD_F32, XGD_W_IN_OUT, 20, 24, 40, 0);
    export_linear("lin_f32_oi_m1", XGD_F32, XGD_W_OUT_IN, 1, 33, 40, 1);
    export_linear("lin_bf16_oi_m1", XGD_BF16, XGD_W_OUT_IN, 1, 24, 40, 1);
    export_linear("lin_bf16_oi_m20", XGD_BF16, XGD_W_OUT_IN, 20, 24, 40, 1);
    export_linear("lin_bf16_io_m17", XGD_BF16, XGD_W_IN_OUT, 17, 70, 36, 1);
    export_linear("lin_f16_io_m3", XGD_F16, XGD_W_IN_OUT, 3, 24, 40, 0);
    export_linear("lin_f16_oi_m24", XGD_F16, XGD_W_OUT_IN, 24, 50, 40, 1);
    export_norms();
    export_acts();
    export_softmax();
    export_embedding();
    export_rope();
    {   /* causal + left padding + GQA 6/2 + ALiBi (6 heads) */
        static uint8_t mask[12] = {1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1};
        static int32_t kpos[12] = {0, 1, 2, 3, 4, 5, 0, 0, 0, 1, 2, 3};
        static float slopes[6];
        xgd_alibi_slopes(slopes, 6);
        xgd_attn a = {.B = 2, .Tq = 6, .Tk = 6, .nH = 6, .nKV = 2, .hd = 8, .scale = 1.0f / sqrtf(8.0f), .causal = 1,
                      .key_mask = mask, .alibi = slopes, .key_pos = kpos};
        export_attention("att_alibi", &a, 0);
        xgd_attn t5 = {.B = 2, .Tq = 4, .Tk = 6, .nH = 3, .nKV = 3, .hd = 4, .scale = 1.0f, .key_mask = mask};
        export_attention("att_t5", &t5, 1);
        xgd_attn chunk = {.B = 1, .Tq = 3, .Tk = 7, .nH = 4, .nKV = 1, .hd = 16, .scale = 0.25f, .causal = 1, .q_offset = 4};
        export_attention("att_chunk", &chunk, 0);
    }
    return test_done("ops/export");
}
