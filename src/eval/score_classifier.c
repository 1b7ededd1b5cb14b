/* The classifier backend of xgd score: a local Hugging Face sequence classifier (XLM-R family,
 * eval/classifier.h) scores the texts offline, in batches; the record has the Perspective layout
 * so the toxicity metric reads it unchanged. */
#include "eval/classifier.h"
#include "eval/score_internal.h"
#include "base/err.h"
#include "base/json.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLS_BATCH 16

static json_t *response(double p, const char *lang, const char *tag) {
    return json_pack("{s:{s:{s:{s:f, s:s}}}, s:[s], s:s}", "attributeScores", "TOXICITY", "summaryScore", "value", p, "type",
                     "PROBABILITY", "languages", lang ? lang : "", "xgd_backend", tag);
}

static int cls_score(xgd_scorer *s, const char *lang, xgd_score_item *items, int64_t n, xgd_score_done_fn done, void *ctx) {
    xgd_classifier *c = s->impl;
    const char *texts[CLS_BATCH];
    double p[CLS_BATCH];
    for (int64_t i0 = 0; i0 < n; i0 += CLS_BATCH) {
        int b = (int)(n - i0 < CLS_BATCH ? n - i0 : CLS_BATCH);
        for (int k = 0; k < b; k++) texts[k] = items[i0 + k].query;
        int ok = xgd_classifier_score(c, texts, (size_t)b, p) == 0;
        for (int k = 0; k < b; k++) {
            xgd_score_item *it = &items[i0 + k];
            /* one bad text (e.g. invalid UTF-8) fails its batch: score the batch one by one then */
            if (ok || xgd_classifier_score(c, &texts[k], 1, &p[k]) == 0) it->response = response(p[k], lang, s->tag);
            else { snprintf(it->error_type, sizeof it->error_type, "CLASSIFIER_ERROR"); it->status = 0; }
            it->done = 1;
            if (done(ctx, i0 + k) != 0) return -1;
        }
    }
    return 0;
}

static void cls_free(xgd_scorer *s) {
    xgd_classifier_close(s->impl);
    free(s);
}

xgd_scorer *xgd_classifier_scorer_open(const xgd_score_opts *o) {
    if (!o->model || !*o->model) { xgd_fail("classifier: --model DIR (a sequence-classification checkpoint) is required"); return NULL; }
    json_t *a = xgd_score_attributes(o->attributes);
    if (!a) return NULL;
    int only_tox = json_array_size(a) == 1 && !strcmp(json_string_value(json_array_get(a, 0)), "TOXICITY");
    json_decref(a);
    if (!only_tox) { xgd_fail("classifier: scores TOXICITY only (--attributes TOXICITY)"); return NULL; }
    xgd_classifier *c = xgd_classifier_open(o->model);
    if (!c) return NULL;
    xgd_scorer *sc = xgd_calloc(1, sizeof *sc);
    sc->impl = c;
    sc->score = cls_score;
    sc->free = cls_free;
    snprintf(sc->tag, sizeof sc->tag, "%s", xgd_classifier_backend(c));
    return sc;
}
