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

typedef struct { int len; int64_t idx; } len_idx;
static int by_len(const void *a, const void *b) {
    const len_idx *x = a, *y = b;
    return x->len != y->len ? (x->len < y->len ? -1 : 1) : (x->idx < y->idx ? -1 : x->idx > y->idx);
}

int xgd_pool_texts(const xgd_model *m, const xgd_tokenizer *tok, const char *const *texts, int64_t n, int batch,
                   int add_special, int max_len, const int *sel, int nsel, xgd_pooling pool, float *out) {
    if (batch < 1) batch = 1;
    size_t per = (size_t)nsel * (size_t)m->hp.hidden;
    int32_t **seqs = xgd_calloc((size_t)(n ? n : 1), sizeof(int32_t *));
    len_idx *order = xgd_malloc(sizeof(len_idx) * (size_t)(n ? n : 1));
    int rc = 0;
    for (int64_t i = 0; i < n && rc == 0; i++) {
        xgd_encoding e = {0};
        if (xgd_encode(tok, texts[i], strlen(texts[i]), add_special, &e) != 0) { rc = xgd_err_context("text %lld", (long long)i); break; }
        int len = (int)e.n;
        if (max_len > 0 && len > max_len) len = max_len;
        if (len == 0) rc = xgd_fail("text %lld encodes to no tokens", (long long)i);
        seqs[i] = xgd_malloc(sizeof(int32_t) * (size_t)(len ? len : 1));
        memcpy(seqs[i], e.ids, sizeof(int32_t) * (size_t)len);
        order[i] = (len_idx){len, i};
        xgd_encoding_free(&e);
    }
    /* Sequences of similar length go together: little padding, and the cache of a batch is bounded
     * by a token budget (batch x 256 tokens, at least one sequence) rather than by batch x the
     * longest text. Pooling is per sequence, so the grouping does not change any result. */
    if (rc == 0) qsort(order, (size_t)n, sizeof(len_idx), by_len);
    int64_t budget = (int64_t)batch * 256;
    const int32_t **bs = xgd_malloc(sizeof(int32_t *) * (size_t)batch);
    int *bl = xgd_malloc(sizeof(int) * (size_t)batch);
    float *tmp = xgd_malloc(sizeof(float) * per * (size_t)batch);
    xgd_progress pr;
    xgd_progress_start(&pr, "pool", n, "texts");
    for (int64_t i0 = 0; i0 < n && rc == 0;) {
        int B = 0;
        while (i0 + B < n && B < batch && (B == 0 || (int64_t)(B + 1) * order[i0 + B].len <= budget)) {
            bs[B] = seqs[order[i0 + B].idx];
            bl[B] = order[i0 + B].len;
            B++;
        }
        rc = xgd_pool_hidden(m, bs, bl, B, sel, nsel, pool, tmp);
        for (int b = 0; b < B && rc == 0; b++) memcpy(out + (size_t)order[i0 + b].idx * per, tmp + (size_t)b * per, sizeof(float) * per);
        i0 += B;
        xgd_progress_add(&pr, B);
    }
    xgd_progress_end(&pr);
    for (int64_t i = 0; i < n; i++) free(seqs[i]);
    free(seqs); free(order); free(bs); free(bl); free(tmp);
    return rc;
}
