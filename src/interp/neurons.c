/* The recorder is one hook on every layer's mlp.post_act that reads the last row of the call:
 * in the prefill it is the last prompt token (left padding puts it at T-1), in each decode step
 * the single new token. */
#include "interp/neurons.h"
#include "base/err.h"
#include "base/json.h"
#include "base/log.h"
#include <stdlib.h>
#include <string.h>

static int parse_one(const json_t *e, xgd_neuron *nr) {
    json_t *l = NULL, *i = NULL;
    if (json_is_object(e)) { l = json_object_get(e, "layer"); i = json_object_get(e, "neuron"); }
    else if (json_is_array(e) && json_array_size(e) == 2) { l = json_array_get(e, 0); i = json_array_get(e, 1); }
    if (!json_is_integer(l) || !json_is_integer(i)) return -1;
    nr->layer = (int)json_integer_value(l);
    nr->neuron = json_integer_value(i);
    return 0;
}

int xgd_neurons_load(const char *path, const xgd_model *m, xgd_neuron **out, int *n) {
    json_t *root = xgd_json_load(path);
    if (!root) return -1;
    json_t *list = root;
    if (json_is_object(root)) {
        list = json_object_get(root, "neurons");
        if (!list) list = json_object_get(root, "kept");
        if (!list) list = json_object_get(root, "vectors");
    }
    if (!json_is_array(list) || json_array_size(list) == 0) {
        json_decref(root);
        return xgd_fail("%s: expected a non-empty list of {\"layer\": l, \"neuron\": i} (or an object with \"neurons\", \"kept\" or \"vectors\")", path);
    }
    int cnt = (int)json_array_size(list);
    xgd_neuron *v = xgd_malloc(sizeof(xgd_neuron) * (size_t)cnt);
    for (int k = 0; k < cnt; k++) {
        const char *bad = NULL;
        if (parse_one(json_array_get(list, (size_t)k), &v[k]) != 0) bad = "not {\"layer\": int, \"neuron\": int} or [layer, neuron]";
        else if (v[k].layer < 0 || v[k].neuron < 0) bad = "negative index";
        else if (m && v[k].layer >= m->hp.n_layer) bad = "layer out of range";
        else if (m && v[k].neuron >= m->hp.inter) bad = "neuron out of range";
        if (bad) {
            free(v);
            json_decref(root);
            return xgd_fail("%s: entry %d: %s", path, k, bad);
        }
    }
    json_decref(root);
    *out = v;
    *n = cnt;
    return 0;
}

typedef struct {
    const xgd_neuron *nr;
    int nn;
    double *sum;               /* (nn) */
} rec_ctx;

static void on_post(void *user, const xgd_hook_event *ev) {
    rec_ctx *c = user;
    for (int k = 0; k < c->nn; k++) {
        if (c->nr[k].layer != ev->layer) continue;
        for (int b = 0; b < ev->B; b++)
            c->sum[k] += ev->x[((size_t)b * ev->T + ev->T - 1) * ev->D + c->nr[k].neuron];
    }
}

static int32_t argmax(const float *z, int64_t V) {
    int64_t best = 0;
    for (int64_t v = 1; v < V; v++) if (z[v] > z[best]) best = v;
    return (int32_t)best;
}

int xgd_neuron_means(const xgd_model *m, const int32_t *const *prompts, const int *lens, int64_t np,
                     const xgd_neuron *nr, int nn, const xgd_record_opts *o, double *mean, int32_t *gen) {
    if (o->steps < 1 || o->batch < 1) return xgd_fail("activations: steps and batch must be >= 1");
    if (np < 1) return xgd_fail("activations: no prompts");
    for (int k = 0; k < nn; k++)
        if (nr[k].layer < 0 || nr[k].layer >= m->hp.n_layer || nr[k].neuron < 0 || nr[k].neuron >= m->hp.inter)
            return xgd_fail("neuron (%d, %lld) is outside the model (%d layers, %d neurons)", nr[k].layer, (long long)nr[k].neuron, m->hp.n_layer, m->hp.inter);
    int64_t V = m->hp.vocab;
    rec_ctx c = {nr, nn, xgd_calloc((size_t)nn, sizeof(double))};
    xgd_hooks hooks = {0};
    if (o->extra) hooks = *o->extra;
    if (xgd_hooks_add(&hooks, "layer.*.mlp.post_act", on_post, &c) != 0) { free(c.sum); return -1; }
    int rc = 0;
    xgd_progress pr;
    xgd_progress_start(&pr, "activations", np, "prompts");
    for (int64_t p0 = 0; p0 < np && rc == 0; p0 += o->batch) {
        int B = (int)(np - p0 < o->batch ? np - p0 : o->batch), T = 0;
        for (int b = 0; b < B; b++) {
            if (lens[p0 + b] < 1) { rc = xgd_fail("prompt %lld has no tokens", (long long)(p0 + b)); break; }
            if (lens[p0 + b] > T) T = lens[p0 + b];
        }
        if (rc) break;
        int32_t *ids = xgd_calloc((size_t)B * T, sizeof(int32_t)), *next = xgd_malloc(sizeof(int32_t) * (size_t)B);
        uint8_t *mask = xgd_calloc((size_t)B * T, 1);
        for (int b = 0; b < B; b++) {
            int off = T - lens[p0 + b];
            memcpy(ids + (size_t)b * T + off, prompts[p0 + b], sizeof(int32_t) * (size_t)lens[p0 + b]);
            memset(mask + (size_t)b * T + off, 1, (size_t)lens[p0 + b]);
        }
        float *logits = xgd_malloc(sizeof(float) * (size_t)B * (size_t)V);
        xgd_state *s = xgd_state_new(m, B, T + o->steps);
        for (int step = 0; step < o->steps && rc == 0; step++) {
            xgd_fwd f = step == 0 ? (xgd_fwd){.ids = ids, .mask = mask, .T = T, .logits = logits, .hooks = &hooks}
                                  : (xgd_fwd){.ids = next, .T = 1, .logits = logits, .hooks = &hooks};
            rc = xgd_forward(s, &f);
            for (int b = 0; b < B && rc == 0; b++) {
                next[b] = argmax(logits + (size_t)b * V, V);
                if (gen) gen[(p0 + b) * o->steps + step] = next[b];
            }
        }
        xgd_state_free(s);
        free(logits);
        free(ids);
        free(next);
        free(mask);
        xgd_progress_add(&pr, B);
    }
    xgd_progress_end(&pr);
    for (int k = 0; k < nn; k++) mean[k] = c.sum[k] / ((double)np * o->steps);
    free(c.sum);
    return rc;
}

int xgd_prompt_ids(const xgd_tokenizer *tok, const char *const *texts, int64_t n, int32_t bos, int max_len,
                   int32_t ***seqs, int **lens) {
    int32_t **s = xgd_calloc((size_t)(n ? n : 1), sizeof(int32_t *));
    int *l = xgd_calloc((size_t)(n ? n : 1), sizeof(int));
    for (int64_t p = 0; p < n; p++) {
        xgd_encoding e = {0};
        if (xgd_encode(tok, texts[p], strlen(texts[p]), 0, &e) != 0) { xgd_prompt_ids_free(s, l, n); return -1; }
        int len = (int)e.n + (bos >= 0);
        if (max_len > 0 && len > max_len) len = max_len;
        s[p] = xgd_malloc(sizeof(int32_t) * (size_t)(len ? len : 1));
        int k = 0;
        if (bos >= 0 && len > 0) s[p][k++] = bos;
        for (size_t i = 0; k < len; i++) s[p][k++] = e.ids[i];
        l[p] = len;
        xgd_encoding_free(&e);
    }
    *seqs = s;
    *lens = l;
    return 0;
}

void xgd_prompt_ids_free(int32_t **seqs, int *lens, int64_t n) {
    for (int64_t p = 0; seqs && p < n; p++) free(seqs[p]);
    free(seqs);
    free(lens);
}

int32_t xgd_prompt_bos(const xgd_tokenizer *tok, const xgd_model *m) {
    int32_t b = tok ? xgd_bos_id(tok) : -1;
    return b >= 0 ? b : m->hp.bos_id;
}
