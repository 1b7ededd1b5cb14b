#include "study/analyses.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/json.h"
#include "eval/metrics.h"
#include "train/dpo_data.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An argument list under construction: owned copies, NULL-terminated. */
typedef struct { char *v[64]; int n; } args;

static void arg(args *a, const char *s) {
    if (a->n < 63) a->v[a->n++] = xgd_strdup(s);
    a->v[a->n] = NULL;
}

static void opt(args *a, const char *flag, const char *val) { arg(a, flag); arg(a, val); }

/* A study number as a flag value; absent keys are not passed (the command's default holds). */
static void opt_num(args *a, const json_t *o, const char *key, const char *flag) {
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v)) return;
    char buf[64];
    xgd_arg_num(buf, sizeof buf, v);
    opt(a, flag, buf);
}

static void opt_str(args *a, const json_t *o, const char *key, const char *flag) {
    const char *v = xgd_json_str(o, key, NULL);
    if (v) opt(a, flag, v);
}

/* A list given as a JSON array or a comma-separated string, as "a,b,c" (NULL if absent). */
static char *list_str(const json_t *v) {
    if (json_is_string(v)) return xgd_strdup(json_string_value(v));
    if (!json_array_size(v)) return NULL;
    size_t cap = 16, n = 0;
    char *s = xgd_calloc(cap, 1);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        const char *t = json_string_value(e) ? json_string_value(e) : "";
        if (n + strlen(t) + 2 > cap) { cap = 2 * (n + strlen(t) + 2); s = xgd_realloc(s, cap); }
        n += (size_t)sprintf(s + n, "%s%s", i ? "," : "", t);
    }
    return s;
}

static void args_free(args *a) {
    for (int i = 0; i < a->n; i++) free(a->v[i]);
    a->n = 0;
}

/* Inputs: produced files always count (missing = not made yet); a model or tokenizer counts
 * only when it is a local path (a hub id is resolved inside the command). */
typedef struct { const char *v[16]; int n; } inputs;

static void in_add(inputs *in, const char *p) { if (p && in->n < 15) in->v[in->n++] = p; in->v[in->n] = NULL; }
static void in_local(inputs *in, const char *p) { if (p && (xgd_is_dir(p) || xgd_is_file(p))) in_add(in, p); }

static int run(xgd_steps *s, const char *name, const char *dir, args *a, inputs *in, long long seed) {
    xgd_step st = {name, dir, (const char *const *)a->v, in->v, seed};
    int rc = xgd_step_run(s, &st);
    args_free(a);
    return rc;
}

static char *outp(const xgd_analyses *x, const char *a, const char *b) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s%s%s", x->out, a, b ? "/" : "", b ? b : "");
    return xgd_strdup(buf);
}

/* One `xgd metrics METRIC` step per model ("METRIC base", "METRIC dpo") on its generation folder,
 * with the flags in extra, writing DIR/METRIC.json (perplexity also keeps its values in DIR). */
static int per_model(xgd_steps *s, const xgd_analyses *x, const char *metric, const args *extra, const char *model_input) {
    const char *tags[2] = {"base", "dpo"}, *gens[2] = {x->gen_base, x->gen_tuned};
    int rc = 0;
    for (int k = 0; k < 2 && rc == 0; k++) {
        char *dir = outp(x, metric, tags[k]), file[64], name[64];
        snprintf(file, sizeof file, "%s.json", metric);
        char *json = xgd_path_join(dir, file);
        args a = {{0}, 0};
        arg(&a, "metrics"); arg(&a, metric);
        opt(&a, "--model_outputs_folder", gens[k]);
        for (int i = 0; i < extra->n; i++) arg(&a, extra->v[i]);
        if (!strcmp(metric, "perplexity")) opt(&a, "--values_folder", dir);
        opt(&a, "--output", json);
        inputs in = {{0}, 0};
        in_add(&in, gens[k]);
        in_local(&in, model_input);
        snprintf(name, sizeof name, "%s %s", metric, tags[k]);
        rc = run(s, name, dir, &a, &in, -1);
        free(dir); free(json);
    }
    return rc;
}

/* Both models' steps of a metric the study file does not ask for. */
static void skip_both(xgd_steps *s, const char *metric) {
    char name[64], why[96];
    snprintf(why, sizeof why, "no \"%s\" in the study file", metric);
    for (int k = 0; k < 2; k++) {
        snprintf(name, sizeof name, "%s %s", metric, k ? "dpo" : "base");
        xgd_step_skip(s, name, why);
    }
}

static int diversity(xgd_steps *s, const xgd_analyses *x) {
    const json_t *d = json_object_get(x->study, "diversity");
    if (!d || json_is_false(d)) { skip_both(s, "diversity"); return 0; }
    const char *tok = xgd_json_str(d, "tokenizer", xgd_json_str(x->study, "tokenizer", x->base));
    char n[32];
    snprintf(n, sizeof n, "%d", x->N);
    args e = {{0}, 0};
    opt(&e, "--tokenizer", tok); opt(&e, "--sample", n); opt(&e, "--group_by", "index");
    if (xgd_json_bool(d, "standard", 0)) arg(&e, "--standard");
    int rc = per_model(s, x, "diversity", &e, tok);
    args_free(&e);
    return rc;
}

static int perplexity(xgd_steps *s, const xgd_analyses *x) {
    const json_t *p = json_object_get(x->study, "perplexity");
    if (!p || json_is_false(p)) { skip_both(s, "perplexity"); return 0; }
    int corrected = xgd_json_bool(p, "corrected", 0);
    /* the seed's metric needs an mT5 model; the causal-LM variant defaults to the base model */
    const char *model = xgd_json_str(p, "model", corrected ? x->base : NULL);
    if (!model) return xgd_fail("study: perplexity.model is required (an mT5 model such as google/mt5-xl), or set perplexity.corrected");
    args e = {{0}, 0};
    opt(&e, "--eval_model_id", model);
    if (corrected) arg(&e, "--corrected");
    opt_str(&e, p, "tokenizer", "--tokenizer");
    opt_num(&e, p, "max_ppl", "--max_ppl");
    int rc = per_model(s, x, "perplexity", &e, model);
    args_free(&e);
    return rc;
}

/* The documented fallback when the study names no probe data: the DPO pairs, prompt + chosen
 * labelled 0 (non-toxic), prompt + rejected labelled 1 (toxic), the first max_pairs pairs in file
 * order, as an RFC 4180 CSV with columns text,label. Written only when its content changes. */
static int pairs_csv(const xgd_analyses *x, const json_t *p, const char *path) {
    const char *data = xgd_json_str(json_object_get(x->study, "dpo"), "data_dir", NULL);
    if (!data) return xgd_fail("study: probe.train_fp is not given and there is no dpo.data_dir to fall back on");
    xgd_dpo_set set;
    if (xgd_dpo_read(data, 0, 0, &set) != 0) return xgd_err_context("study: probe data from the DPO pairs");
    int64_t n = set.n, max = xgd_json_int(p, "max_pairs", 2000);
    if (max > 0 && n > max) n = max;
    size_t cap = 64, len = 0;
    char *buf = xgd_malloc(cap);
    len = (size_t)sprintf(buf, "text,label\r\n");
    for (int64_t i = 0; i < 2 * n; i++) {
        const xgd_dpo_pair *r = &set.rows[i / 2];
        const char *parts[2] = {r->prompt, i % 2 ? r->rejected : r->chosen};
        size_t need = len + 2 * (strlen(parts[0]) + strlen(parts[1])) + 16;
        if (need > cap) { cap = 2 * need; buf = xgd_realloc(buf, cap); }
        buf[len++] = '"';
        for (int k = 0; k < 2; k++)
            for (const char *c = parts[k]; *c; c++) {
                if (*c == '"') buf[len++] = '"';
                buf[len++] = *c;
            }
        len += (size_t)sprintf(buf + len, "\",%d\r\n", (int)(i % 2));
    }
    xgd_dpo_set_free(&set);
    char *old = NULL;
    size_t olen = 0;
    int same = xgd_is_file(path) && xgd_read_file(path, &old, &olen) == 0 && olen == len && !memcmp(old, buf, len);
    free(old);
    int rc = same ? 0 : xgd_write_file_atomic(path, buf, len);
    free(buf);
    return rc;
}

/* The probe step; *probe gets the probe file the vectors use (NULL: none configured). */
static int probe(xgd_steps *s, const xgd_analyses *x, char **probe_file) {
    const json_t *p = json_object_get(x->study, "probe");
    *probe_file = NULL;
    if (!p || json_is_false(p)) { xgd_step_skip(s, "probe", "no \"probe\" in the study file"); return 0; }
    if (xgd_json_str(p, "file", NULL)) {   /* a trained probe given (the seed's english-probe.pt) */
        *probe_file = xgd_strdup(xgd_json_str(p, "file", NULL));
        xgd_step_record(s, "probe", "given (probe.file)", 0, json_pack("{s:s}", "probe", *probe_file));
        return 0;
    }
    char *dir = outp(x, "probe", NULL), *csv = NULL;
    const char *train = xgd_json_str(p, "train_fp", NULL);
    if (!train) {
        char *dd = outp(x, "probe-data", NULL);
        csv = xgd_path_join(dd, "dpo_pairs.csv");
        int rc = s->dry ? 0 : xgd_mkdir_p(dd);
        if (rc == 0 && !s->dry) rc = pairs_csv(x, p, csv);
        free(dd);
        if (rc) { free(csv); free(dir); return rc; }
        train = csv;
    }
    args a = {{0}, 0};
    arg(&a, "probe");
    opt(&a, "--model", x->base); opt(&a, "--train_fp", train);
    opt_str(&a, p, "val_fp", "--val_fp");
    opt(&a, "--text_column", xgd_json_str(p, "text_column", csv ? "text" : "comment_text"));
    opt(&a, "--label_column", xgd_json_str(p, "label_column", csv ? "label" : "toxic"));
    opt_str(&a, p, "pooling", "--pooling");
    opt_num(&a, p, "layer", "--layer");
    opt_num(&a, p, "epochs", "--epochs");
    opt_num(&a, p, "batch_size", "--batch_size");
    opt_num(&a, p, "learning_rate", "--learning_rate");
    opt_num(&a, p, "max_length", "--max_length");
    long long seed = xgd_json_int(p, "seed", 99);
    char sd[32];
    snprintf(sd, sizeof sd, "%lld", seed);
    opt(&a, "--seed", sd);
    opt_str(&a, x->study, "tokenizer", "--tokenizer");
    opt(&a, "--output", dir);
    inputs in = {{0}, 0};
    in_add(&in, train);
    in_add(&in, xgd_json_str(p, "val_fp", NULL));
    in_local(&in, x->base);
    int rc = run(s, "probe", dir, &a, &in, seed);
    if (rc == 0) *probe_file = xgd_path_join(dir, "best-probe.npy");
    free(dir);
    free(csv);
    return rc;
}

/* The prompt file of the DPO language (the paper filters the value vectors on English RTP-LX). */
static const char *dpo_language_prompts(const xgd_analyses *x) {
    const char *want = xgd_json_str(json_object_get(x->study, "dpo"), "language", "en");
    for (int i = 0; i < x->n_prompt_files; i++) {
        char *l = xgd_metrics_language(x->prompt_files[i]);
        int hit = !strcasecmp(l, want);
        free(l);
        if (hit) return x->prompt_files[i];
    }
    return NULL;
}

static int vectors(xgd_steps *s, const xgd_analyses *x, const char *probe_file, char **neurons) {
    const json_t *v = json_object_get(x->study, "vectors");
    *neurons = NULL;
    if (!v || json_is_false(v)) { xgd_step_skip(s, "vectors", "no \"vectors\" in the study file"); return 0; }
    if (!probe_file) { xgd_step_skip(s, "vectors", "needs \"probe\" in the study file"); return 0; }
    char *dir = outp(x, "vectors", NULL);
    args a = {{0}, 0};
    arg(&a, "vectors");
    opt(&a, "--model", x->base); opt(&a, "--probe", probe_file);
    opt_num(&a, v, "topk", "--topk");
    opt_num(&a, v, "project", "--project");
    /* the kept filter: prompts named, else the DPO language's evaluation prompts; false: no filter */
    json_t *pv = json_object_get(v, "prompts");
    const char *prompts = json_is_false(pv) ? NULL : json_is_string(pv) ? json_string_value(pv) : dpo_language_prompts(x);
    if (prompts) {
        opt(&a, "--prompts", prompts);
        opt_num(&a, v, "steps", "--steps");
        opt_num(&a, v, "max_prompts", "--max_prompts");
    }
    opt_str(&a, x->study, "tokenizer", "--tokenizer");
    opt(&a, "--output", dir);
    inputs in = {{0}, 0};
    in_add(&in, probe_file);
    in_add(&in, prompts);
    in_local(&in, x->base);
    int rc = run(s, "vectors", dir, &a, &in, -1);
    if (rc == 0) *neurons = xgd_path_join(dir, "vectors.json");
    free(dir);
    return rc;
}

/* --prompt_dir and --prompt_pattern for the evaluation prompt files: their common folder and
 * name with the language part (the stem's last "_" part, as it is spelled) replaced by {lang}. */
static int prompt_pattern(const xgd_analyses *x, char **dir, char **pattern, char **langs) {
    *dir = *pattern = *langs = NULL;
    size_t cap = 16, n = 0;
    char *ls = xgd_calloc(cap, 1);
    for (int i = 0; i < x->n_prompt_files; i++) {
        const char *f = x->prompt_files[i], *slash = strrchr(f, '/'), *base = slash ? slash + 1 : f;
        char *lang = xgd_metrics_language(f), d[4096], pat[1024];
        /* the language is the stem's last part: it ends where the extension starts */
        const char *dot = strrchr(base, '.'), *at = (dot && dot != base ? dot : base + strlen(base)) - strlen(lang);
        snprintf(d, sizeof d, "%.*s", slash ? (int)(slash - f) : 1, slash ? f : ".");
        snprintf(pat, sizeof pat, "%.*s{lang}%s", (int)(at - base), base, at + strlen(lang));
        if (!*dir) { *dir = xgd_strdup(d); *pattern = xgd_strdup(pat); }
        else if (strcmp(*dir, d) || strcmp(*pattern, pat)) {
            free(lang); free(ls); free(*dir); free(*pattern);
            *dir = *pattern = NULL;
            return xgd_fail("study: the prompt files do not share one folder and name pattern; set activations.prompt_dir, prompt_pattern and languages");
        }
        if (n + strlen(lang) + 2 > cap) { cap = 2 * (n + strlen(lang) + 2); ls = xgd_realloc(ls, cap); }
        n += (size_t)sprintf(ls + n, "%s%s", i ? "," : "", lang);
        free(lang);
    }
    *langs = ls;
    return 0;
}

static int activations(xgd_steps *s, const xgd_analyses *x, const char *neurons_from_vectors) {
    const json_t *c = json_object_get(x->study, "activations");
    if (!c || json_is_false(c)) { xgd_step_skip(s, "activations", "no \"activations\" in the study file"); return 0; }
    const char *neurons = xgd_json_str(c, "neurons", neurons_from_vectors);
    if (!neurons) { xgd_step_skip(s, "activations", "needs activations.neurons, or \"probe\" and \"vectors\""); return 0; }
    char *pdir = NULL, *pat = NULL, *langs = list_str(json_object_get(c, "languages"));
    if (xgd_json_str(c, "prompt_dir", NULL)) {
        pdir = xgd_strdup(xgd_json_str(c, "prompt_dir", NULL));
        pat = xgd_json_str(c, "prompt_pattern", NULL) ? xgd_strdup(xgd_json_str(c, "prompt_pattern", NULL)) : NULL;
        if (!langs) { free(pdir); free(pat); return xgd_fail("study: activations.prompt_dir needs activations.languages"); }
    } else {
        char *l2;
        if (prompt_pattern(x, &pdir, &pat, &l2) != 0) { free(langs); return -1; }
        if (!langs) langs = l2;
        else free(l2);
    }
    char *dir = outp(x, "activations", NULL);
    args a = {{0}, 0};
    arg(&a, "activations");
    opt(&a, "--model", x->base); opt(&a, "--compare", x->tuned); opt(&a, "--neurons", neurons);
    opt(&a, "--prompt_dir", pdir);
    if (pat) opt(&a, "--prompt_pattern", pat);
    opt(&a, "--langs", langs);
    opt_num(&a, c, "steps", "--steps");
    opt_num(&a, c, "batch", "--batch");
    opt_num(&a, c, "max_prompts", "--max_prompts");
    opt_str(&a, x->study, "tokenizer", "--tokenizer");
    opt(&a, "--output", dir);
    inputs in = {{0}, 0};
    in_add(&in, neurons);
    in_add(&in, pdir);
    in_local(&in, x->base);
    in_local(&in, x->tuned);
    int rc = run(s, "activations", dir, &a, &in, -1);
    free(dir); free(pdir); free(pat); free(langs);
    return rc;
}

static int retrieval(xgd_steps *s, const xgd_analyses *x) {
    const json_t *r = json_object_get(x->study, "retrieval");
    const char *atd = xgd_json_str(r, "aligned_text_dir", NULL);
    if (!atd) { xgd_step_skip(s, "retrieval", "no parallel texts named (retrieval.aligned_text_dir)"); return 0; }
    char *l2 = list_str(json_object_get(r, "lang2"));
    if (!l2) return xgd_fail("study: retrieval.lang2 is required (the languages to align with lang1)");
    char *dir = outp(x, "retrieval", NULL);
    args a = {{0}, 0};
    arg(&a, "retrieval");
    opt(&a, "--model", x->base); opt(&a, "--aligned_text_dir", atd);
    opt(&a, "--lang1", xgd_json_str(r, "lang1", "en")); opt(&a, "--lang2", l2);
    opt_str(&a, r, "pattern", "--pattern");
    opt_str(&a, r, "pooling", "--pooling");
    opt_num(&a, r, "batch", "--batch");
    opt_num(&a, r, "max_sentences", "--max_sentences");
    opt_str(&a, x->study, "tokenizer", "--tokenizer");
    opt(&a, "--output", dir);
    inputs in = {{0}, 0};
    in_add(&in, atd);
    in_local(&in, x->base);
    int rc = run(s, "retrieval", dir, &a, &in, -1);
    free(dir); free(l2);
    return rc;
}

int xgd_study_analyses(xgd_steps *s, const xgd_analyses *x) {
    char *probe_file = NULL, *neurons = NULL;
    int rc = diversity(s, x);
    if (rc == 0) rc = perplexity(s, x);
    if (rc == 0) rc = probe(s, x, &probe_file);
    if (rc == 0) rc = vectors(s, x, probe_file, &neurons);
    if (rc == 0) rc = activations(s, x, neurons);
    if (rc == 0) rc = retrieval(s, x);
    free(probe_file);
    free(neurons);
    return rc;
}
