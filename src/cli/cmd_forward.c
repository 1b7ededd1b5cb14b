/* xgd forward: one forward pass over token ids; logits and hidden states to .npy. */
#include "cli/args.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/npy.h"
#include "base/pyjson.h"
#include "tokenize/tokenizer.h"
#include "model/lora.h"
#include "model/runtime.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parse "1,2,3" into ids. */
static int parse_ids(const char *s, int32_t **ids, int *n) {
    int cap = 16;
    *ids = xgd_malloc(sizeof(int32_t) * (size_t)cap);
    *n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < INT32_MIN || v > INT32_MAX) return xgd_fail("--ids: cannot read a token id at '%s'", p);
        if (*n == cap) *ids = xgd_realloc(*ids, sizeof(int32_t) * (size_t)(cap *= 2));
        (*ids)[(*n)++] = (int32_t)v;
        p = end;
        while (*p == ' ') p++;
        if (*p == ',') p++;
        else if (*p) return xgd_fail("--ids: unexpected '%c' (expected comma-separated integers)", *p);
    }
    if (*n == 0) return xgd_fail("--ids: no token ids given");
    return 0;
}

/* Collects (L+1, T, C) hidden states as transformers' output_hidden_states gives them: the
 * embedding output, each block's output except the last, then the final norm of the last. */
typedef struct { float *buf; int L, T, C; } hidden_rec;

static void record_hidden(void *user, const xgd_hook_event *ev) {
    hidden_rec *r = user;
    int slot = ev->kind == XGD_HOOK_EMBED ? 0 : ev->kind == XGD_HOOK_FINAL_NORM ? r->L : ev->layer + 1;
    if (ev->kind == XGD_HOOK_RESID_POST && ev->layer == r->L - 1) return; /* replaced by final_norm */
    memcpy(r->buf + (size_t)slot * (size_t)r->T * (size_t)r->C, ev->x, sizeof(float) * (size_t)r->T * (size_t)r->C);
}

/* --save-acts: every hook point to DIR/<name>.npy, (T, D) for the single sequence. */
typedef struct { const char *dir; int failed; } acts_rec;

static void record_act(void *user, const xgd_hook_event *ev) {
    acts_rec *r = user;
    char name[64], path[4200];
    xgd_hook_name(name, sizeof name, ev->kind, ev->layer);
    snprintf(path, sizeof path, "%s/%s.npy", r->dir, name);
    int64_t sh[2] = {(int64_t)ev->B * ev->T, ev->D};
    if (xgd_npy_write(path, XGD_F32, ev->x, 2, sh) != 0) r->failed = 1;
}

int cmd_forward(int argc, char **argv) {
    const char *model = NULL, *ids_s = NULL, *text = NULL, *tokenizer = NULL, *save_logits = NULL, *save_hidden = NULL, *save_acts = NULL;
    const char *adapter = NULL;
    int add_special = 0;
    const opt_spec opts[] = {
        {"model", OPT_STR, &model, "MODEL", "checkpoint folder or hub id in the local HF cache"},
        {"ids", OPT_STR, &ids_s, "1,2,3", "token ids of one sequence"},
        {"text", OPT_STR, &text, "TEXT", "text to encode with the model's tokenizer instead of --ids"},
        {"tokenizer", OPT_STR, &tokenizer, "PATH", "tokenizer folder or file for --text (default: the model folder)"},
        {"adapter", OPT_STR, &adapter, "DIR", "apply a PEFT LoRA adapter folder (unmerged, as PeftModel does)"},
        {"add_special_tokens", OPT_FLAG, &add_special, NULL, "with --text: add the tokenizer's special tokens (BOS for Llama), as tok(text) does"},
        {"save_logits", OPT_STR, &save_logits, "FILE.npy", "write float32 logits of shape (T, V)"},
        {"save_hidden", OPT_STR, &save_hidden, "FILE.npy", "write float32 hidden states (L+1, T, C): embeddings, each block's output, the last after the final norm (as transformers' output_hidden_states)"},
        {"save_acts", OPT_STR, &save_acts, "DIR", "write every hook point as DIR/<name>.npy (T, D): embed, layer.N.attn_out, layer.N.mlp.pre_act, layer.N.mlp.post_act, layer.N.resid_post, final_norm, logits"},
        {0},
    };
    const cmd_spec spec = {"forward", "xgd forward --model MODEL (--ids 1,2,3 | --text TEXT) [--save-logits FILE.npy] [--save-hidden FILE.npy] [--save-acts DIR]",
        "Runs one forward pass and prints a JSON summary with the top-5 next tokens at the last position\n"
        "(with their strings when a tokenizer is available).", opts, 0, 0};
    const char *pos[1];
    int npos, r = args_parse(&spec, argc, argv, pos, &npos);
    if (r != 0) return r < 0 ? 2 : 0;
    if (args_require(&spec, "model", model)) return 2;
    if (!ids_s == !text) { fprintf(stderr, "xgd forward: error: give exactly one of --ids and --text\n"); return 2; }
    int32_t *ids = NULL;
    int T = 0;
    if (ids_s && parse_ids(ids_s, &ids, &T) != 0) { free(ids); return cli_error(); }
    xgd_model *m;
    if (xgd_model_load(&m, model) != 0) { free(ids); return cli_error(); }
    xgd_adapter *lora = NULL;
    if (adapter && xgd_adapter_load(&lora, m, adapter) != 0) { free(ids); xgd_model_free(m); return cli_error(); }
    /* the tokenizer: needed for --text, optional for naming the top tokens */
    xgd_tokenizer *tok = NULL;
    if (text || tokenizer) {
        if (!(tok = xgd_tokenizer_load(tokenizer ? tokenizer : m->path))) { xgd_model_free(m); free(ids); return cli_error(); }
    }
    if (text) {
        xgd_encoding e = {0};
        if (xgd_encode(tok, text, strlen(text), add_special, &e) != 0) { xgd_tokenizer_free(tok); xgd_model_free(m); return cli_error(); }
        T = (int)e.n;
        ids = xgd_malloc(sizeof(int32_t) * (size_t)(T ? T : 1));
        memcpy(ids, e.ids, sizeof(int32_t) * (size_t)T);
        xgd_encoding_free(&e);
        if (T == 0) { xgd_tokenizer_free(tok); xgd_model_free(m); free(ids); fprintf(stderr, "xgd forward: error: --text encodes to no tokens\n"); return 1; }
    }
    const xgd_hparams *hp = &m->hp;
    int64_t V = hp->vocab;
    float *logits = xgd_malloc(sizeof(float) * (size_t)T * (size_t)V);
    hidden_rec hr = {NULL, hp->n_layer, T, hp->hidden};
    xgd_hooks hooks = {0};
    if (save_hidden) {
        hr.buf = xgd_calloc((size_t)(hp->n_layer + 1) * (size_t)T * (size_t)hp->hidden, sizeof(float));
        xgd_hooks_add(&hooks, "embed", record_hidden, &hr);
        xgd_hooks_add(&hooks, "layer.*.resid_post", record_hidden, &hr);
        xgd_hooks_add(&hooks, "final_norm", record_hidden, &hr);
    }
    acts_rec ar = {save_acts, 0};
    if (save_acts) {
        if (xgd_mkdir_p(save_acts) != 0) { free(ids); free(logits); free(hr.buf); xgd_model_free(m); return cli_error(); }
        static const char *points[] = {"embed", "layer.*.attn_out", "layer.*.mlp.pre_act", "layer.*.mlp.post_act",
                                       "layer.*.resid_post", "final_norm", "logits"};
        for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) xgd_hooks_add(&hooks, points[i], record_act, &ar);
    }
    xgd_state *s = xgd_state_new(m, 1, T);
    xgd_fwd f = {.ids = ids, .T = T, .logits = logits, .all_logits = 1, .hooks = &hooks};
    int rc = xgd_forward(s, &f);
    if (rc == 0 && ar.failed) rc = -1;
    if (rc == 0 && save_logits) { int64_t sh[2] = {T, V}; rc = xgd_npy_write(save_logits, XGD_F32, logits, 2, sh); }
    if (rc == 0 && save_hidden) { int64_t sh[3] = {hp->n_layer + 1, T, hp->hidden}; rc = xgd_npy_write(save_hidden, XGD_F32, hr.buf, 3, sh); }
    if (rc == 0) {
        /* top-5 at the last position, with softmax probabilities */
        const float *z = logits + (size_t)(T - 1) * (size_t)V;
        double mx = -INFINITY, sum = 0;
        for (int64_t v = 0; v < V; v++) if (z[v] > mx) mx = z[v];
        for (int64_t v = 0; v < V; v++) sum += exp((double)z[v] - mx);
        int top[5], k = V < 5 ? (int)V : 5;
        for (int i = 0; i < k; i++) {
            int best = -1;
            for (int64_t v = 0; v < V; v++) {
                int used = 0;
                for (int j = 0; j < i; j++) used |= top[j] == v;
                if (!used && (best < 0 || z[v] > z[best])) best = (int)v;
            }
            top[i] = best;
        }
        printf("{\"model\": \"%s\", \"family\": \"%s\", \"tokens\": %d, \"logits\": {\"shape\": [%d, %lld], \"dtype\": \"float32\"",
               m->path, m->fam->model_type, T, T, (long long)V);
        if (save_logits) printf(", \"file\": \"%s\"", save_logits);
        printf("}");
        if (save_hidden) printf(", \"hidden\": {\"shape\": [%d, %d, %d], \"dtype\": \"float32\", \"file\": \"%s\"}", hp->n_layer + 1, T, hp->hidden, save_hidden);
        if (text) {
            printf(", \"ids\": [");
            for (int i = 0; i < T; i++) printf("%s%d", i ? ", " : "", ids[i]);
            printf("]");
        }
        printf(", \"top5\": [");
        for (int i = 0; i < k; i++) {
            printf("%s{\"id\": %d, \"logit\": %.6g, \"prob\": %.6g", i ? ", " : "", top[i], z[top[i]], exp((double)z[top[i]] - mx) / sum);
            char *piece = tok && top[i] < xgd_vocab_size(tok) ? xgd_decode(tok, &top[i], 1, 0, 0) : NULL;
            if (piece) { printf(", \"text\": "); xgd_pyjson_str(stdout, piece); free(piece); }
            printf("}");
        }
        printf("]}\n");
    }
    xgd_state_free(s);
    free(hr.buf);
    free(logits);
    free(ids);
    xgd_tokenizer_free(tok);
    xgd_adapter_free(lora);
    xgd_model_free(m);
    return rc == 0 ? 0 : cli_error();
}
