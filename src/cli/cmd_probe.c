/* xgd probe: train the seed's linear toxicity probe on pooled hidden states of a frozen model. */
#include "cli/args.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/npy.h"
#include "interp/csv.h"
#include "interp/hidden.h"
#include "interp/probe.h"
#include "base/strlist.h"
#include "interp/report.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Texts and 0/1 labels of a CSV file, by column name. */
typedef struct { xgd_csv csv; const char **text; uint8_t *y; int64_t n; } labelled;

/* label_col may list several columns ("toxic,severe_toxic,..."): the label is 1 when any is 1
 * (pipeline-spec §2.4's alternative Jigsaw mapping). */
static int read_labelled(const char *path, const char *text_col, const char *label_col, labelled *d) {
    memset(d, 0, sizeof *d);
    if (xgd_csv_read(path, &d->csv) != 0) return -1;
    int tc = xgd_csv_col(&d->csv, text_col);
    if (tc < 0) return xgd_fail("%s: no column '%s' (for --text_column); for Jigsaw's train.csv use --text_column comment_text --label_column toxic", path, text_col);
    int nl, lc[16], rc = 0;
    char **names = xgd_split_list(label_col, ",", &nl);
    if (nl < 1 || nl > 16) rc = xgd_fail("--label_column: give 1 to 16 column names");
    for (int k = 0; k < nl && rc == 0; k++)
        if ((lc[k] = xgd_csv_col(&d->csv, names[k])) < 0)
            rc = xgd_fail("%s: no column '%s' (for --label_column); for Jigsaw's train.csv use --text_column comment_text --label_column toxic", path, names[k]);
    xgd_free_list(names);
    if (rc) return rc;
    d->n = d->csv.nrow;
    d->text = xgd_malloc(sizeof(char *) * (size_t)(d->n ? d->n : 1));
    d->y = xgd_calloc((size_t)(d->n ? d->n : 1), 1);
    for (int64_t i = 0; i < d->n; i++) {
        for (int k = 0; k < nl; k++) {
            const char *l = xgd_csv_cell(&d->csv, i, lc[k]);
            /* the seed requires labels in {0, 1} (isin([0,1]).all()) */
            if (strcmp(l, "0") && strcmp(l, "1")) return xgd_fail("%s:%ld: label '%s' is not 0 or 1", path, d->csv.line[i], l);
            d->y[i] |= l[0] == '1';
        }
        d->text[i] = xgd_csv_cell(&d->csv, i, tc);
    }
    if (d->n == 0) return xgd_fail("%s: no data rows", path);
    return 0;
}

static void free_labelled(labelled *d) {
    xgd_csv_free(&d->csv);
    free(d->text);
    free(d->y);
}

/* --feature_cache: the features (n, H) as .npy with a sidecar FILE.json holding what they were
 * computed from; reused only when that description matches exactly. */
static json_t *cache_key(const xgd_model *m, const char *train_fp, const char *val_fp, const char *tc, const char *lc,
                         int sel, int pool, long max_len, int64_t n) {
    return json_pack("{sssssssssssisisIsI}", "model", m->path, "train_fp", train_fp, "val_fp", val_fp ? val_fp : "",
                     "text_column", tc, "label_column", lc, "hidden_state", sel, "pooling", pool, "max_length", (json_int_t)max_len,
                     "rows", (json_int_t)n);
}

static int cache_load(const char *path, const json_t *key, float *X, int64_t n, int H) {
    char side[4200];
    snprintf(side, sizeof side, "%s.json", path);
    if (!xgd_is_file(path) || !xgd_is_file(side)) return 0;
    json_error_t e;
    json_t *k = json_load_file(side, 0, &e);
    int same = k && json_equal(k, key);
    json_decref(k);
    if (!same) { xgd_info("%s: computed from other inputs; recomputing", path); return 0; }
    xgd_npy a;
    if (xgd_npy_read(path, &a) != 0) return -1;
    int ok = a.dtype == XGD_F32 && a.ndim == 2 && a.shape[0] == n && a.shape[1] == H;
    if (ok) memcpy(X, a.data, sizeof(float) * (size_t)n * (size_t)H);
    xgd_npy_free(&a);
    if (!ok) return xgd_fail("%s: not a float32 (%lld, %d) array", path, (long long)n, H);
    xgd_info("features from %s", path);
    return 1;
}

static int cache_save(const char *path, const json_t *key, const float *X, int64_t n, int H) {
    char side[4200];
    snprintf(side, sizeof side, "%s.json", path);
    int64_t sh[2] = {n, H};
    if (xgd_npy_write(path, XGD_F32, X, 2, sh) != 0) return -1;
    return xgd_json_write(side, key);
}

typedef struct { const char *dir; FILE *log; } epoch_ctx;

static void jnum(FILE *f, const char *k, double v) {
    if (isfinite(v)) fprintf(f, ", \"%s\": %.10g", k, v);
    else fprintf(f, ", \"%s\": null", k);
}

static int on_epoch(void *user, const xgd_probe_epoch *e, const float *w, int H) {
    epoch_ctx *c = user;
    fprintf(c->log, "{\"epoch\": %d", e->epoch);
    jnum(c->log, "train_loss", e->train_loss);
    jnum(c->log, "train_acc", e->train_acc);
    jnum(c->log, "val_loss", e->val_loss);
    jnum(c->log, "val_acc", e->val_acc);
    fprintf(c->log, ", \"best\": %s}\n", e->best ? "true" : "false");
    fflush(c->log);
    xgd_info("epoch %d: train loss %.5f acc %.4f, val loss %.5f acc %.4f%s", e->epoch, e->train_loss, e->train_acc,
             e->val_loss, e->val_acc, e->best ? " (best)" : "");
    char path[4200];
    snprintf(path, sizeof path, "%s/probe-ep%d.npy", c->dir, e->epoch);
    int64_t sh[1] = {H};
    return xgd_npy_write(path, XGD_F32, w, 1, sh);
}

int cmd_probe(int argc, char **argv) {
    const char *model = NULL, *train_fp = NULL, *val_fp = NULL, *text_col = "text", *label_col = "label", *pooling = "avg",
               *output = NULL, *tokenizer = NULL, *feature_cache = NULL;
    long layer = -1, epochs = 20, batch = 10, seed = 99, feat_batch = 8, max_len = 0;
    double lr = 1e-6;
    const opt_spec opts[] = {
        {"model", OPT_STR, &model, "MODEL", "frozen language model (checkpoint folder or hub id in the local HF cache)"},
        {"train_fp", OPT_STR, &train_fp, "CSV", "training CSV (RFC 4180: quoted fields may hold commas and newlines)"},
        {"val_fp", OPT_STR, &val_fp, "CSV", "validation CSV; without it the training rows are split 90/10 at random (as random_split)"},
        {"text_column", OPT_STR, &text_col, "NAME", "column with the text (default text; Jigsaw: comment_text)"},
        {"label_column", OPT_STR, &label_col, "NAME", "column with the 0/1 label (default label; Jigsaw: toxic); several names separated by commas: 1 when any is 1"},
        {"pooling", OPT_STR, &pooling, "avg|last", "pool the hidden states over the tokens (avg, the seed's) or take the last token"},
        {"layer", OPT_INT, &layer, "N", "hidden state as transformers' output_hidden_states numbers them: 0 = embeddings, N = output of block N-1, L = after the final norm (default L: the seed's last_hidden_state)"},
        {"epochs", OPT_INT, &epochs, "N", "training epochs (default 20)"},
        {"batch_size", OPT_INT, &batch, "N", "probe training batch size (default 10)"},
        {"learning_rate", OPT_FLOAT, &lr, "LR", "Adam learning rate (default 1e-6)"},
        {"seed", OPT_INT, &seed, "N", "seed of the init, split and shuffle (default 99; Philox streams, not torch's generator)"},
        {"feature_batch", OPT_INT, &feat_batch, "N", "texts per forward pass when computing the features (default 8)"},
        {"max_length", OPT_INT, &max_len, "N", "truncate texts to N tokens on the right (default: the model's position limit)"},
        {"tokenizer", OPT_STR, &tokenizer, "PATH", "tokenizer folder or file (default: the model folder)"},
        {"feature_cache", OPT_STR, &feature_cache, "FILE.npy", "keep the features there (with FILE.npy.json naming their inputs) and reuse them when the inputs match"},
        {"output", OPT_STR, &output, "DIR", "writes log.jsonl (per-epoch train/val loss and accuracy), probe-epK.npy, best-probe.npy, summary.json"},
        {0},
    };
    const cmd_spec spec = {"probe",
        "xgd probe --model MODEL --train_fp CSV [--val_fp CSV] [--text_column text --label_column label] [--pooling avg|last] [--layer N]\n"
        "          [--epochs 20 --batch_size 10 --learning_rate 1e-6 --seed 99] --output DIR",
        "Trains a linear probe p = sigmoid(w.h) (no bias; BCE loss; Adam with torch defaults) on pooled hidden states of a frozen\n"
        "model, as the seed's probe trainer does. The features are computed once (the model runs once, not per epoch). The best\n"
        "probe (lowest validation loss, strict <) is saved as best-probe.npy (H float32), which xgd vectors --probe reads (as it\n"
        "reads the seed's english-probe.pt). Jigsaw: --text_column comment_text --label_column toxic.", opts, 0, 0};
    const char *pos[1];
    int npos, r = args_parse(&spec, argc, argv, pos, &npos);
    if (r != 0) return r < 0 ? 2 : 0;
    if (args_require(&spec, "model", model) || args_require(&spec, "train_fp", train_fp) || args_require(&spec, "output", output)) return 2;
    int pool = xgd_pooling_parse(pooling);
    if (pool < 0) { fprintf(stderr, "xgd probe: error: --pooling must be avg or last, not '%s'\n", pooling); return 2; }
    if (epochs < 1 || batch < 1 || feat_batch < 1 || !(lr > 0)) { fprintf(stderr, "xgd probe: error: --epochs, --batch_size, --feature_batch and --learning_rate must be positive\n"); return 2; }

    labelled tr, va = {0};
    int have_val = val_fp != NULL;
    if (read_labelled(train_fp, text_col, label_col, &tr) != 0) { free_labelled(&tr); return cli_error(); }
    if (have_val && read_labelled(val_fp, text_col, label_col, &va) != 0) { free_labelled(&tr); free_labelled(&va); return cli_error(); }
    xgd_model *m = NULL;
    xgd_tokenizer *tok = NULL;
    float *X = NULL, *w = NULL;
    int64_t *idx = NULL;
    int rc = -1;
    FILE *log = NULL;
    if (xgd_model_load(&m, model) != 0) goto done;
    if (!(tok = xgd_tokenizer_load(tokenizer ? tokenizer : m->path))) goto done;
    int L = m->hp.n_layer, H = m->hp.hidden, sel = layer < 0 ? L : (int)layer;
    if (sel > L) { xgd_fail("--layer %ld: the model has hidden states 0..%d", layer, L); goto done; }
    if (max_len <= 0) max_len = m->hp.max_pos;
    int64_t n = tr.n + va.n;
    X = xgd_malloc(sizeof(float) * (size_t)n * (size_t)H);
    json_t *key = cache_key(m, train_fp, val_fp, text_col, label_col, sel, pool, max_len, n);
    int cached = feature_cache ? cache_load(feature_cache, key, X, n, H) : 0;
    if (cached < 0) { json_decref(key); goto done; }
    if (!cached) {
        xgd_info("features: %lld texts, hidden state %d of %d, %s pooling", (long long)n, sel, L, pooling);
        int e = xgd_pool_texts(m, tok, tr.text, tr.n, (int)feat_batch, 1, (int)max_len, &sel, 1, pool, X);
        if (e == 0 && have_val) e = xgd_pool_texts(m, tok, va.text, va.n, (int)feat_batch, 1, (int)max_len, &sel, 1, pool, X + (size_t)tr.n * H);
        if (e == 0 && feature_cache) e = cache_save(feature_cache, key, X, n, H);
        if (e != 0) { json_decref(key); goto done; }
    }
    json_decref(key);
    uint8_t *y = xgd_malloc((size_t)n);
    memcpy(y, tr.y, (size_t)tr.n);
    if (have_val) memcpy(y + tr.n, va.y, (size_t)va.n);
    int64_t npos_labels = 0;
    for (int64_t i = 0; i < n; i++) npos_labels += y[i];
    idx = xgd_malloc(sizeof(int64_t) * (size_t)n);
    int64_t ntr, nva;
    if (have_val) {
        for (int64_t i = 0; i < n; i++) idx[i] = i;
        ntr = tr.n;
    } else xgd_probe_split(n, (uint64_t)seed, idx, &ntr);
    nva = n - ntr;
    if (xgd_mkdir_p(output) != 0) { free(y); goto done; }
    char path[4200];
    snprintf(path, sizeof path, "%s/log.jsonl", output);
    if (!(log = fopen(path, "w"))) { free(y); xgd_fail("%s: cannot write", path); goto done; }
    w = xgd_malloc(sizeof(float) * (size_t)H);
    xgd_probe_opts po = {(int)epochs, (int)batch, lr, (uint64_t)seed};
    epoch_ctx ec = {output, log};
    rc = xgd_probe_train(X, y, H, idx, ntr, idx + ntr, nva, &po, on_epoch, &ec, w);
    double vl = NAN, va_acc = NAN;
    if (rc == 0 && nva > 0) xgd_probe_eval(X, y, H, idx + ntr, nva, (int)batch, w, &vl, &va_acc);
    free(y);
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/best-probe.npy", output);
        int64_t sh[1] = {H};
        rc = xgd_npy_write(path, XGD_F32, w, 1, sh);
    }
    if (rc == 0) {
        json_t *j = json_object();
        json_object_set_new(j, "model", json_string(m->path));
        json_object_set_new(j, "hidden_state", json_integer(sel));
        json_object_set_new(j, "n_layer", json_integer(L));
        json_object_set_new(j, "hidden", json_integer(H));
        json_object_set_new(j, "pooling", json_string(pool == XGD_POOL_AVG ? "avg" : "last"));
        json_object_set_new(j, "n_train", json_integer(ntr));
        json_object_set_new(j, "n_val", json_integer(nva));
        json_object_set_new(j, "n_positive", json_integer(npos_labels));
        json_object_set_new(j, "best_val_loss", xgd_jreal(vl));
        json_object_set_new(j, "best_val_acc", xgd_jreal(va_acc));
        json_object_set_new(j, "probe", json_string("best-probe.npy"));
        snprintf(path, sizeof path, "%s/summary.json", output);
        rc = xgd_json_write(path, j);
        if (rc == 0) { json_dumpf(j, stdout, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10)); putchar('\n'); }
        json_decref(j);
    }
done:
    if (log) fclose(log);
    free(X); free(w); free(idx);
    xgd_tokenizer_free(tok);
    xgd_model_free(m);
    free_labelled(&tr);
    if (have_val) free_labelled(&va);
    return rc == 0 ? 0 : cli_error();
}
