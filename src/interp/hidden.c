/* Pooling by hooks: the embed, resid_post and final_norm hook points see every row of the call,
 * so the pooled sums are accumulated as the forward pass goes and nothing (B,T,H) is kept. */
#include "interp/hidden.h"
#include "base/err.h"
#include "base/log.h"
#include <stdlib.h>
#include <string.h>

int xgd_pooling_parse(const char *s) {
    if (!strcmp(s, "avg") || !strcmp(s, "mean")) return XGD_POOL_AVG;
    if (!strcmp(s, "last")) return XGD_POOL_LAST;
    return -1;
}

typedef struct {
    int L, nsel, H;
    const int *slot_of;       /* (L+1) hidden index -> position in sel, or -1 */
    const uint8_t *mask;      /* (B, T) */
    xgd_pooling pool;
    float *out;               /* (B, nsel, H) */
} pool_ctx;

static void on_hidden(void *user, const xgd_hook_event *ev) {
    pool_ctx *c = user;
    if (ev->kind == XGD_HOOK_RESID_POST && ev->layer == c->L - 1) return; /* the final norm stands for it */
    int idx = ev->kind == XGD_HOOK_EMBED ? 0 : ev->kind == XGD_HOOK_FINAL_NORM ? c->L : ev->layer + 1;
    int j = c->slot_of[idx];
    if (j < 0) return;
    for (int b = 0; b < ev->B; b++) {
        float *o = c->out + ((size_t)b * c->nsel + j) * c->H;
        const float *x = ev->x + (size_t)b * ev->T * ev->D;
        if (c->pool == XGD_POOL_LAST) { /* left padding: the last slot is the last real token */
            memcpy(o, x + (size_t)(ev->T - 1) * ev->D, sizeof(float) * (size_t)c->H);
            continue;
        }
        /* sum in double: a 2048-token mean in f32 would drift from PyTorch's by more than 1e-6 */
        double *acc = xgd_calloc((size_t)c->H, sizeof(double));
        int cnt = 0;
        for (int t = 0; t < ev->T; t++) {
            if (!c->mask[(size_t)b * ev->T + t]) continue;
            cnt++;
            for (int h = 0; h < c->H; h++) acc[h] += x[(size_t)t * ev->D + h];
        }
        for (int h = 0; h < c->H; h++) o[h] = (float)(acc[h] / cnt);
        free(acc);
    }
}

int xgd_pool_hidden(const xgd_model *m, const int32_t *const *seqs, const int *lens, int B,
                    const int *sel, int nsel, xgd_pooling pool, float *out) {
    int L = m->hp.n_layer, H = m->hp.hidden, T = 0;
    for (int b = 0; b < B; b++) {
        if (lens[b] <= 0) return xgd_fail("pooling: sequence %d has no tokens", b);
        if (lens[b] > T) T = lens[b];
    }
    int *slot_of = xgd_malloc(sizeof(int) * (size_t)(L + 1));
    for (int i = 0; i <= L; i++) slot_of[i] = -1;
    for (int j = 0; j < nsel; j++) {
        if (sel[j] < 0 || sel[j] > L) { free(slot_of); return xgd_fail("hidden state %d does not exist (0..%d)", sel[j], L); }
        slot_of[sel[j]] = j;
    }
    int32_t *ids = xgd_calloc((size_t)B * T, sizeof(int32_t)); /* pad id 0: any valid id, it is masked */
    uint8_t *mask = xgd_calloc((size_t)B * T, 1);
    for (int b = 0; b < B; b++) {
        int off = T - lens[b];
        memcpy(ids + (size_t)b * T + off, seqs[b], sizeof(int32_t) * (size_t)lens[b]);
        memset(mask + (size_t)b * T + off, 1, (size_t)lens[b]);
    }
    pool_ctx c = {L, nsel, H, slot_of, mask, pool, out};
    xgd_hooks hooks = {0};
    xgd_hooks_add(&hooks, "embed", on_hidden, &c);
    xgd_hooks_add(&hooks, "layer.*.resid_post", on_hidden, &c);
    xgd_hooks_add(&hooks, "final_norm", on_hidden, &c);
    xgd_state *s = xgd_state_new(m, B, T);
    xgd_fwd f = {.ids = ids, .mask = mask, .T = T, .hooks = &hooks};
    int rc = xgd_forward(s, &f);
    xgd_state_free(s);
    free(ids);
    free(mask);
    free(slot_of);
    return rc;
}

int xgd_pool_texts(const xgd_model *m, const xgd_tokenizer *tok, const char *const *texts, int64_t n, int batch,
                   int add_special, int max_len, const int *sel, int nsel, xgd_pooling pool, float *out) {
    if (batch < 1) batch = 1;
    size_t per = (size_t)nsel * (size_t)m->hp.hidden;
    int32_t **seqs = xgd_malloc(sizeof(int32_t *) * (size_t)batch);
    int *lens = xgd_malloc(sizeof(int) * (size_t)batch);
    xgd_progress pr;
    xgd_progress_start(&pr, "pool", n, "texts");
    int rc = 0;
    for (int64_t i0 = 0; i0 < n && rc == 0; i0 += batch) {
        int B = (int)(n - i0 < batch ? n - i0 : batch);
        for (int b = 0; b < B; b++) {
            xgd_encoding e = {0};
            seqs[b] = NULL;
            if (xgd_encode(tok, texts[i0 + b], strlen(texts[i0 + b]), add_special, &e) != 0) { rc = -1; B = b; break; }
            int len = (int)e.n;
            if (max_len > 0 && len > max_len) len = max_len;
            if (len == 0) { xgd_encoding_free(&e); rc = xgd_fail("text %lld encodes to no tokens", (long long)(i0 + b)); B = b; break; }
            seqs[b] = xgd_malloc(sizeof(int32_t) * (size_t)len);
            memcpy(seqs[b], e.ids, sizeof(int32_t) * (size_t)len);
            lens[b] = len;
            xgd_encoding_free(&e);
        }
        if (rc == 0) rc = xgd_pool_hidden(m, (const int32_t *const *)seqs, lens, B, sel, nsel, pool, out + (size_t)i0 * per);
        for (int b = 0; b < B; b++) free(seqs[b]);
        xgd_progress_add(&pr, B);
    }
    xgd_progress_end(&pr);
    free(seqs);
    free(lens);
    return rc;
}
