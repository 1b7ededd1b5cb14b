#include "eval/classifier.h"
#include "base/err.h"
#include "model/xlmr.h"
#include "tokenize/tokenizer.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct xgd_classifier {
    xgd_xlmr *m;
    xgd_tokenizer *tok;
    int toxic, batch, max_len;
    char backend[256];
};

xgd_classifier *xgd_classifier_open(const char *arg) {
    xgd_xlmr *m;
    if (xgd_xlmr_load(&m, arg) != 0) return NULL;
    xgd_tokenizer *tok = xgd_tokenizer_load(m->path);
    if (!tok) {
        xgd_err_context("%s: the classifier's tokenizer", m->path);
        xgd_xlmr_free(m);
        return NULL;
    }
    xgd_classifier *c = xgd_calloc(1, sizeof *c);
    c->m = m;
    c->tok = tok;
    c->toxic = xgd_xlmr_toxic_label(m);
    c->batch = 16;
    /* positions run pad+1 .. max_pos-1, so a sequence holds max_pos - pad - 1 tokens (512 for XLM-R) */
    c->max_len = m->max_pos - m->pad_id - 1;
    const char *base = strrchr(m->path, '/');
    base = base && base[1] ? base + 1 : m->path;
    snprintf(c->backend, sizeof c->backend, "classifier/%s:%s", base, m->labels[c->toxic]);
    return c;
}

void xgd_classifier_close(xgd_classifier *c) {
    if (!c) return;
    xgd_tokenizer_free(c->tok);
    xgd_xlmr_free(c->m);
    free(c);
}

void xgd_classifier_set_batch(xgd_classifier *c, int batch) { c->batch = batch > 0 ? batch : 1; }
const char *xgd_classifier_label(const xgd_classifier *c) { return c->m->labels[c->toxic]; }
const char *xgd_classifier_backend(const xgd_classifier *c) { return c->backend; }

int xgd_classifier_score(xgd_classifier *c, const char *const *texts, size_t n, double *out) {
    if (c->max_len < 2) return xgd_fail("%s: max_position_embeddings leaves no room for a sequence", c->m->path);
    int C = c->m->n_labels;
    for (size_t at = 0; at < n; at += (size_t)c->batch) {
        int B = (int)(n - at < (size_t)c->batch ? n - at : (size_t)c->batch), T;
        int32_t *ids, *mask32;
        xgd_batch_opts o = {.add_special = 1, .max_length = c->max_len, .truncation_side = XGD_SIDE_RIGHT,
                            .padding_side = XGD_SIDE_RIGHT, .pad_to_longest = 1, .pad_id = c->m->pad_id};
        if (xgd_encode_batch(c->tok, texts + at, B, &o, &ids, &mask32, &T) != 0)
            return xgd_err_context("text %zu..%zu", at, at + (size_t)B - 1);
        uint8_t *mask = xgd_malloc((size_t)B * (size_t)T);
        for (int64_t i = 0; i < (int64_t)B * T; i++) mask[i] = (uint8_t)(mask32[i] != 0);
        float *logits = xgd_malloc(sizeof(float) * (size_t)B * C), *probs = xgd_malloc(sizeof(float) * (size_t)B * C);
        int rc = xgd_xlmr_forward(c->m, ids, mask, B, T, logits, NULL);
        if (!rc) {
            xgd_xlmr_probs(c->m, logits, B, probs);
            for (int b = 0; b < B; b++) out[at + (size_t)b] = probs[(size_t)b * C + c->toxic];
        }
        free(ids); free(mask32); free(mask); free(logits); free(probs);
        if (rc) return -1;
    }
    return 0;
}
