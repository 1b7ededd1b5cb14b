/* The probe backend of xgd score: the study's own linear toxicity probe (xgd probe) over the
 * mean-pooled last hidden state (after the final norm) of a language model, as the seed's probe
 * was trained: P(toxic) = sigmoid(w · pool(h)). Offline, deterministic, the seed's record layout. */
#include "eval/score_internal.h"
#include "base/err.h"
#include "base/json.h"
#include "interp/hidden.h"
#include "interp/probe.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBE_BATCH 8

typedef struct { xgd_model *m; xgd_tokenizer *tok; float *w; int H; } probe_backend;

static int probe_score(xgd_scorer *s, const char *lang, xgd_score_item *items, int64_t n, xgd_score_done_fn done, void *ctx) {
    probe_backend *b = s->impl;
    int sel = b->m->hp.n_layer;   /* the last hidden state, after the final norm */
    float *h = xgd_malloc(sizeof(float) * (size_t)b->H);
    for (int64_t i = 0; i < n; i++) {
        xgd_score_item *it = &items[i];
        const char *t = it->query;
        if (xgd_pool_texts(b->m, b->tok, &t, 1, 1, 1, b->m->hp.max_pos, &sel, 1, XGD_POOL_AVG, h) == 0) {
            double z = 0;
            for (int k = 0; k < b->H; k++) z += (double)b->w[k] * h[k];
            double p = 1.0 / (1.0 + exp(-z));
            it->response = json_pack("{s:{s:{s:{s:f, s:s}}}, s:[s], s:s}", "attributeScores", "TOXICITY", "summaryScore", "value", p,
                                     "type", "PROBABILITY", "languages", lang ? lang : "", "xgd_backend", s->tag);
        } else {
            snprintf(it->error_type, sizeof it->error_type, "PROBE_ERROR");
            it->status = 0;
        }
        it->done = 1;
        if (done(ctx, i) != 0) { free(h); return -1; }
    }
    free(h);
    return 0;
}

static void probe_free(xgd_scorer *s) {
    probe_backend *b = s->impl;
    xgd_tokenizer_free(b->tok);
    xgd_model_free(b->m);
    free(b->w);
    free(b);
    free(s);
}

xgd_scorer *xgd_probe_scorer_open(const xgd_score_opts *o) {
    if (!o->model || !o->probe) { xgd_fail("probe: --model LM and --probe FILE are required"); return NULL; }
    probe_backend *b = xgd_calloc(1, sizeof *b);
    if (xgd_probe_load(o->probe, &b->w, &b->H) != 0 || xgd_model_load(&b->m, o->model) != 0 || !(b->tok = xgd_tokenizer_load(b->m->path))) {
        if (b->m) xgd_model_free(b->m);
        free(b->w);
        free(b);
        return NULL;
    }
    if (b->H != b->m->hp.hidden) {
        xgd_fail("probe %s has %d weights but the model's hidden size is %d", o->probe, b->H, b->m->hp.hidden);
        xgd_tokenizer_free(b->tok);
        xgd_model_free(b->m);
        free(b->w);
        free(b);
        return NULL;
    }
    xgd_scorer *sc = xgd_calloc(1, sizeof *sc);
    sc->impl = b;
    sc->score = probe_score;
    sc->free = probe_free;
    const char *pn = strrchr(o->probe, '/');
    snprintf(sc->tag, sizeof sc->tag, "probe/%.40s", pn ? pn + 1 : o->probe);
    return sc;
}
