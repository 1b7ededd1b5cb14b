#include "study/analyses.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/json.h"
#include "eval/metrics.h"
#include "train/dpo_data.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The end of every analysis command: the study's tokenizer (when it names one) and the output folder. */
static void study_tail(xgd_argv *a, const xgd_analyses *x, const char *dir) {
    xgd_argv_keys(a, x->study, "tokenizer");
    xgd_argv_opt(a, "--output", dir);
}

static char *outp(const xgd_analyses *x, const char *a, const char *b) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s%s%s", x->out, a, b ? "/" : "", b ? b : "");
    return xgd_strdup(buf);
}

/* One `xgd metrics METRIC` step per model ("METRIC base", "METRIC dpo") on its generation folder,
 * with the flags in extra, writing DIR/METRIC.json (perplexity also keeps its values in DIR). */
static int per_model(xgd_steps *s, const xgd_analyses *x, const char *metric, const xgd_argv *extra, const char *model_input) {
    const char *tags[2] = {"base", "dpo"}, *gens[2] = {x->gen_base, x->gen_tuned};
    int rc = 0;
    for (int k = 0; k < 2 && rc == 0; k++) {
        char *dir = outp(x, metric, tags[k]), file[64], name[64];
        snprintf(file, sizeof file, "%s.json", metric);
        char *json = xgd_path_join(dir, file);
        xgd_argv a = {{0}, 0};
        xgd_argv_add(&a, "metrics"); xgd_argv_add(&a, metric);
        xgd_argv_opt(&a, "--model_outputs_folder", gens[k]);
        for (int i = 0; i < extra->n; i++) xgd_argv_add(&a, extra->v[i]);
        if (!strcmp(metric, "perplexity")) xgd_argv_opt(&a, "--values_folder", dir);
        xgd_argv_opt(&a, "--output", json);
        xgd_inputs in = {{0}, 0};
        xgd_inputs_add(&in, gens[k]);
        xgd_inputs_local(&in, model_input);
        snprintf(name, sizeof name, "%s %s", metric, tags[k]);
        rc = xgd_step_cmd(s, name, dir, &a, &in, -1);
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
    xgd_argv e = {{0}, 0};
    xgd_argv_opt(&e, "--tokenizer", tok); xgd_argv_opt(&e, "--sample", n); xgd_argv_opt(&e, "--group_by", "index");
    xgd_argv_keys(&e, d, "standard");
    int rc = per_model(s, x, "diversity", &e, tok);
    xgd_argv_free(&e);
    return rc;
}

static int perplexity(xgd_steps *s, const xgd_analyses *x) {
    const json_t *p = json_object_get(x->study, "perplexity");
    if (!p || json_is_false(p)) { skip_both(s, "perplexity"); return 0; }
    int corrected = xgd_json_bool(p, "corrected", 0);
    /* the seed's metric needs an mT5 model; the causal-LM variant defaults to the base model */
    const char *model = xgd_json_str(p, "model", corrected ? x->base : NULL);
    if (!model) return xgd_fail("study: perplexity.model is required (an mT5 model such as google/mt5-xl), or set perplexity.corrected");
    xgd_argv e = {{0}, 0};
    xgd_argv_opt(&e, "--eval_model_id", model);
    if (corrected) xgd_argv_add(&e, "--corrected");
    xgd_argv_keys(&e, p, "tokenizer,max_ppl");
    int rc = per_model(s, x, "perplexity", &e, model);
    xgd_argv_free(&e);
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
    xgd_argv a = {{0}, 0};
    xgd_argv_add(&a, "probe");
    xgd_argv_opt(&a, "--model", x->base); xgd_argv_opt(&a, "--train_fp", train);
    xgd_argv_keys(&a, p, "val_fp");
    xgd_argv_opt(&a, "--text_column", xgd_json_str(p, "text_column", csv ? "text" : "comment_text"));
    xgd_argv_opt(&a, "--label_column", xgd_json_str(p, "label_column", csv ? "label" : "toxic"));
    xgd_argv_keys(&a, p, "pooling,layer,epochs,batch_size,learning_rate,max_length");
    long long seed = xgd_argv_seed(&a, p, "seed", 99);
    study_tail(&a, x, dir);
    xgd_inputs in = {{0}, 0};
    xgd_inputs_add(&in, train);
    xgd_inputs_add(&in, xgd_json_str(p, "val_fp", NULL));
    xgd_inputs_local(&in, x->base);
    int rc = xgd_step_cmd(s, "probe", dir, &a, &in, seed);
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
    xgd_argv a = {{0}, 0};
    xgd_argv_add(&a, "vectors");
    xgd_argv_opt(&a, "--model", x->base); xgd_argv_opt(&a, "--probe", probe_file);
    xgd_argv_keys(&a, v, "topk,project");
    /* the kept filter: prompts named, else the DPO language's evaluation prompts; false: no filter */
    json_t *pv = json_object_get(v, "prompts");
    const char *prompts = json_is_false(pv) ? NULL : json_is_string(pv) ? json_string_value(pv) : dpo_language_prompts(x);
    if (prompts) {
        xgd_argv_opt(&a, "--prompts", prompts);
        xgd_argv_keys(&a, v, "steps,max_prompts");
    }
    study_tail(&a, x, dir);
    xgd_inputs in = {{0}, 0};
    xgd_inputs_add(&in, probe_file);
    xgd_inputs_add(&in, prompts);
    xgd_inputs_local(&in, x->base);
    int rc = xgd_step_cmd(s, "vectors", dir, &a, &in, -1);
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
    xgd_argv a = {{0}, 0};
    xgd_argv_add(&a, "activations");
    xgd_argv_opt(&a, "--model", x->base); xgd_argv_opt(&a, "--compare", x->tuned); xgd_argv_opt(&a, "--neurons", neurons);
    xgd_argv_opt(&a, "--prompt_dir", pdir);
    if (pat) xgd_argv_opt(&a, "--prompt_pattern", pat);
    xgd_argv_opt(&a, "--langs", langs);
    xgd_argv_keys(&a, c, "steps,batch,max_prompts");
    study_tail(&a, x, dir);
    xgd_inputs in = {{0}, 0};
    xgd_inputs_add(&in, neurons);
    xgd_inputs_add(&in, pdir);
    xgd_inputs_local(&in, x->base);
    xgd_inputs_local(&in, x->tuned);
    int rc = xgd_step_cmd(s, "activations", dir, &a, &in, -1);
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
    xgd_argv a = {{0}, 0};
    xgd_argv_add(&a, "retrieval");
    xgd_argv_opt(&a, "--model", x->base); xgd_argv_opt(&a, "--aligned_text_dir", atd);
    xgd_argv_opt(&a, "--lang1", xgd_json_str(r, "lang1", "en")); xgd_argv_opt(&a, "--lang2", l2);
    xgd_argv_keys(&a, r, "pattern,pooling,batch,max_sentences");
    study_tail(&a, x, dir);
    xgd_inputs in = {{0}, 0};
    xgd_inputs_add(&in, atd);
    xgd_inputs_local(&in, x->base);
    int rc = xgd_step_cmd(s, "retrieval", dir, &a, &in, -1);
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
