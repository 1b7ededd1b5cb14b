#include "study/run.h"
#include "ops/ops.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "eval/metrics.h"
#include "generate/output.h"
#include "interp/report.h"
#include "study/analyses.h"
#include "study/step.h"
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    json_t *study;
    xgd_steps st;
    const char *out, *base;
    char **files;                /* the evaluation prompt files */
    int nf, N;
    double t0;
} runner;

/* Prompt files: a folder's *.json / *.jsonl (sorted), kept when their language (the stem's last
 * "_" part, lower case) is listed, or every file when no languages are given. */
static int prompt_files(const json_t *p, char ***files, int *n) {
    const char *src = xgd_json_str(p, "path", NULL);
    json_t *langs = json_object_get(p, "languages");
    *files = NULL;
    *n = 0;
    if (!src) return xgd_fail("study: prompts.path is required");
    char **all = NULL;
    size_t na = 0;
    if (xgd_is_dir(src)) {
        static const char *const sfx[] = {".json", ".jsonl", NULL};
        if (xgd_list_files(src, sfx, &all, &na) != 0) return -1;
    } else {
        all = xgd_malloc(sizeof(char *));
        all[na++] = xgd_strdup(src);
    }
    for (size_t i = 0; i < na; i++) {
        char *lang = xgd_metrics_language(all[i]);
        for (char *c = lang; c && *c; c++) *c = (char)tolower((unsigned char)*c);
        int keep = !json_array_size(langs);
        size_t k;
        json_t *v;
        json_array_foreach(langs, k, v) {
            char want[64];
            snprintf(want, sizeof want, "%s", json_string_value(v) ? json_string_value(v) : "");
            for (char *c = want; *c; c++) *c = (char)tolower((unsigned char)*c);
            if (lang && !strcmp(lang, want)) keep = 1;
        }
        free(lang);
        if (keep) { *files = xgd_realloc(*files, sizeof(char *) * (size_t)(*n + 1)); (*files)[(*n)++] = all[i]; }
        else free(all[i]);
    }
    free(all);
    if (*n == 0) return xgd_fail("study: no prompt files in %s for the languages asked", src);
    return 0;
}

/* DPO (xgd dpo: its flags are the study's dpo keys, same names and defaults), then for LoRA the
 * merge. tuned gets the tuned model's folder. Both resume or skip as every step does. */
static int step_dpo(runner *r, char *tuned, size_t nt) {
    json_t *d = json_object_get(r->study, "dpo");
    if (!xgd_json_str(d, "data_dir", NULL)) return xgd_fail("study: dpo.data_dir is required");
    char dir[4096], fin[8192];
    snprintf(dir, sizeof dir, "%s/dpo", r->out);
    snprintf(fin, sizeof fin, "%s/final_checkpoint", dir);
    int lora = xgd_json_bool(d, "use_lora", 0);
    snprintf(tuned, nt, lora ? "%s/merged" : "%s/dpo/final_checkpoint", r->out);
    xgd_argv a = {{0}, 0};
    xgd_argv_add(&a, "dpo");
    xgd_argv_opt(&a, "--model_name_or_path", r->base);
    xgd_argv_opt(&a, "--output_dir", dir);
    xgd_argv_opt(&a, "--save_dtype", "f32");
    xgd_argv_keys(&a, r->study, "tokenizer");
    const char *k;
    json_t *v;
    json_object_foreach(d, k, v)
        if (strcmp(k, "language") != 0) xgd_argv_keys(&a, d, k);   /* language: the study's own key */
    xgd_inputs in = {{0}, 0};
    xgd_inputs_add(&in, xgd_json_str(d, "data_dir", NULL));
    xgd_inputs_local(&in, r->base);
    const char *const *cmd = (const char *const *)a.v;
    xgd_step st = {"dpo", dir, &cmd, 1, (const char *const *)in.v, xgd_json_int(d, "seed", 0), 1};
    int rc = xgd_step_run(&r->st, &st);
    xgd_argv_free(&a);
    xgd_inputs_free(&in);
    if (rc != 0 || !lora) return rc;
    xgd_argv m = {{0}, 0};
    xgd_argv_add(&m, "merge");
    xgd_argv_opt(&m, "--base_model_name", r->base);
    xgd_argv_opt(&m, "--lora_adapter", fin);
    xgd_argv_opt(&m, "--output_path", tuned);
    xgd_inputs mi = {{0}, 0};
    xgd_inputs_add(&mi, fin);
    xgd_inputs_local(&mi, r->base);
    return xgd_step_cmd(&r->st, "merge", tuned, &m, &mi, -1);
}

/* The folder xgd generate writes a model's files into under OUT/generations/TAG. */
static void gen_folder(const runner *r, const char *tag, const char *model, char *buf, size_t n) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/generations/%s", r->out, tag);
    char *gf = xgd_gen_output_path(dir, model, r->files[0]);
    *strrchr(gf, '/') = 0;
    snprintf(buf, n, "%s", gf);
    free(gf);
}

/* One model: generation on every prompt file (one xgd generate: the model loads once), scoring of
 * every generation file (one xgd score: the scorer loads once), the toxicity metrics of the score folder. */
static int step_eval(runner *r, const char *tag, const char *model, const char *gen) {
    json_t *g = json_object_get(r->study, "generation"), *sc = json_object_get(r->study, "scorer"), *mo = json_object_get(r->study, "metrics");
    char gdir[4096], sdir[4096], tdir[4096], name[64], n[32];
    snprintf(gdir, sizeof gdir, "%s/generations/%s", r->out, tag);
    snprintf(sdir, sizeof sdir, "%s/scores/%s", r->out, tag);
    snprintf(tdir, sizeof tdir, "%s/toxicity/%s", r->out, tag);
    snprintf(n, sizeof n, "%d", r->N);
    /* generate */
    size_t len = 1;
    for (int i = 0; i < r->nf; i++) len += strlen(r->files[i]) + 1;
    char *list = xgd_calloc(len, 1);
    for (int i = 0; i < r->nf; i++) { if (i) strcat(list, ","); strcat(list, r->files[i]); }
    xgd_argv a = {{0}, 0};
    xgd_argv_add(&a, "generate");
    xgd_argv_opt(&a, "--prompt_file", list);
    xgd_argv_opt(&a, "--model", model);
    xgd_argv_opt(&a, "--output_dir", gdir);
    xgd_argv_opt(&a, "--N", n);
    xgd_argv_keys(&a, g, "max_tokens,temperature,top_p,top_k,min_p");
    long long seed = xgd_argv_seed(&a, g, "seed", 0);
    xgd_argv_keys(&a, json_object_get(r->study, "prompts"), "limit");
    xgd_argv_keys(&a, r->study, "tokenizer");
    xgd_inputs in = {{0}, 0};
    xgd_inputs_add(&in, xgd_json_str(json_object_get(r->study, "prompts"), "path", NULL));   /* the folder covers every file */
    xgd_inputs_local(&in, model);
    const char *const *cmd = (const char *const *)a.v;
    snprintf(name, sizeof name, "generate %s", tag);
    xgd_step st = {name, gdir, &cmd, 1, (const char *const *)in.v, seed, 1};
    int rc = xgd_step_run(&r->st, &st);
    xgd_argv_free(&a);
    xgd_inputs_free(&in);
    free(list);
    if (rc) return rc;
    /* score: one command over every generation file (the scorer, e.g. a classifier, loads once),
     * a resumable step: each file's records resume where they stopped */
    len = 1;
    char **gfs = xgd_calloc((size_t)r->nf, sizeof(char *));
    for (int i = 0; i < r->nf; i++) { gfs[i] = xgd_gen_output_path(gdir, model, r->files[i]); len += strlen(gfs[i]) + 1; }
    char *glist = xgd_calloc(len, 1);
    for (int i = 0; i < r->nf; i++) { if (i) strcat(glist, ","); strcat(glist, gfs[i]); free(gfs[i]); }
    free(gfs);
    xgd_argv sa = {{0}, 0};
    xgd_argv_add(&sa, "score");
    xgd_argv_opt(&sa, "--backend", xgd_json_str(sc, "backend", "lexicon"));
    xgd_argv_opt(&sa, "--datapath", glist);
    xgd_argv_opt(&sa, "--output_folder", sdir);
    xgd_argv_keys(&sa, sc, "lexicon,model,probe,qps");
    free(glist);
    const char *const *scmd = (const char *const *)sa.v;
    xgd_inputs si = {{0}, 0};
    xgd_inputs_add(&si, gen);
    xgd_inputs_local(&si, xgd_json_str(sc, "lexicon", NULL));
    xgd_inputs_local(&si, xgd_json_str(sc, "model", NULL));
    snprintf(name, sizeof name, "score %s", tag);
    xgd_step ss = {name, sdir, &scmd, 1, (const char *const *)si.v, -1, 1};
    rc = xgd_step_run(&r->st, &ss);
    xgd_inputs_free(&si);
    xgd_argv_free(&sa);
    if (rc) return rc;
    /* the toxicity metrics, grouped by prompt index (N samples per prompt) */
    xgd_argv t = {{0}, 0};
    char *tj = xgd_path_join(tdir, "toxicity.json");
    xgd_argv_add(&t, "metrics");
    xgd_argv_add(&t, "toxicity");
    xgd_argv_opt(&t, "--perspective_outputs_folder", sdir);
    xgd_argv_opt(&t, "--group_by", "index");
    xgd_argv_opt(&t, "--sample", n);
    xgd_argv_keys(&t, mo, "threshold,bootstrap");
    long long ms = xgd_argv_seed(&t, mo, "seed", 0);
    xgd_argv_opt(&t, "--output", tj);
    xgd_inputs ti = {{0}, 0};
    xgd_inputs_add(&ti, sdir);
    snprintf(name, sizeof name, "toxicity %s", tag);
    rc = xgd_step_cmd(&r->st, name, tdir, &t, &ti, ms);
    free(tj);
    return rc;
}

/* A number of a toxicity.json entry's "unrounded" object (the summary keeps full precision). */
static double unr(const json_t *e, const char *key, int ci_end) {
    json_t *v = json_object_get(json_object_get(e, "unrounded"), key);
    if (ci_end >= 0) v = json_array_get(v, (size_t)ci_end);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* The summary, in the layout `xgd report` reads: per language before/after from the two toxicity
 * steps, and how many languages other than the DPO language saw toxicity fall (the upper end of
 * the 95% interval after DPO below the value before) or rise. */
static int write_summary(runner *r) {
    char *bp = xgd_path_join(r->out, "toxicity/base/toxicity.json"), *ap = xgd_path_join(r->out, "toxicity/dpo/toxicity.json");
    json_t *before = xgd_json_load(bp), *after = before ? xgd_json_load(ap) : NULL;
    free(bp);
    free(ap);
    if (!after) { json_decref(before); return -1; }
    json_t *langs = json_object(), *j = json_object();
    int transferred = 0, others = 0, rose = 0;
    const char *dpo_lang = xgd_json_str(json_object_get(r->study, "dpo"), "language", "en");
    size_t i, k;
    json_t *b, *a;
    json_array_foreach(json_object_get(before, "languages"), i, b) {
        const char *lang = xgd_json_str(b, "language", "?");
        json_array_foreach(json_object_get(after, "languages"), k, a) {
            if (strcmp(xgd_json_str(a, "language", ""), lang)) continue;
            double ab = unr(b, "average_toxicity", -1), lo = unr(a, "average_toxicity_ci", 0), hi = unr(a, "average_toxicity_ci", 1);
            /* each metric before and after with its 95% interval: key_before, key_before_ci, key_after, key_after_ci */
            static const char *const keys[3][2] = {{"avg", "average_toxicity"}, {"toxicity_prob", "toxicity_probability"}, {"emt", "emt"}};
            json_t *o = json_object();
            for (int m = 0; m < 3; m++)
                for (int w = 0; w < 2; w++) {
                    const json_t *src = w ? a : b;
                    char key[64], ci[64];
                    snprintf(key, sizeof key, "%s_%s", keys[m][0], w ? "after" : "before");
                    snprintf(ci, sizeof ci, "%s_ci", keys[m][1]);
                    json_object_set_new(o, key, xgd_jreal(unr(src, keys[m][1], -1)));
                    snprintf(key, sizeof key, "%s_%s_ci", keys[m][0], w ? "after" : "before");
                    json_object_set_new(o, key, json_pack("[o,o]", xgd_jreal(unr(src, ci, 0)), xgd_jreal(unr(src, ci, 1))));
                }
            json_object_set_new(o, "prompts", json_integer(xgd_json_int(a, "prompts", 0)));
            json_object_set_new(o, "scores_before", json_string(xgd_json_str(b, "file", "")));
            json_object_set_new(o, "scores_after", json_string(xgd_json_str(a, "file", "")));
            json_object_set_new(langs, lang, o);
            if (strcasecmp(lang, dpo_lang) != 0) { others++; transferred += hi < ab; rose += lo > ab; }
        }
    }
    json_decref(before);
    json_decref(after);
    json_object_set_new(j, "languages", langs);
    json_object_set_new(j, "dpo_language", json_string(dpo_lang));
    json_object_set_new(j, "transferred_languages", json_integer(transferred));
    json_object_set_new(j, "other_languages", json_integer(others));
    json_object_set_new(j, "languages_where_toxicity_rose", json_integer(rose));
    json_object_set_new(j, "seed", json_integer(xgd_json_int(json_object_get(r->study, "generation"), "seed", 0)));
    json_object_set_new(j, "seconds", json_real(xgd_now() - r->t0));
    char *sp = xgd_path_join(r->out, "summary.json");
    int rc = xgd_json_write(sp, j);
    free(sp);
    json_decref(j);
    return rc;
}

/* provenance.json: versions, the study file and its fingerprint, every step so far (also after a
 * failure, which it names). */
static int write_provenance(runner *r, const char *path, int rc) {
    char fp[17] = "";
    xgd_fingerprint(path, fp);
    json_t *v = xgd_versions();
    char cwd[4096] = "?";
    if (!getcwd(cwd, sizeof cwd)) snprintf(cwd, sizeof cwd, "?");
    /* cwd: the folder the recorded commands ran in (relative paths in them are relative to it) */
    json_t *prov = json_pack("{s:O, s:o, s:s, s:s, s:s, s:O, s:O, s:s}", "xgd_version", json_object_get(v, "xgd"), "versions", v,
                             "cwd", cwd, "study_file", path, "study_fnv1a64", fp, "study", r->study, "steps", r->st.steps, "status",
                             rc == 0 ? "complete" : xgd_errmsg());
    /* how products with bf16 weights were computed (XGD_BF16_DOT, inherited by every step) */
    json_object_set_new(prov, "bf16_math", json_string(xgd_ops_fast_bf16() ? "fast" : "exact"));
    char *pp = xgd_path_join(r->out, "provenance.json");
    int w = xgd_json_write(pp, prov);
    free(pp);
    json_decref(prov);
    return w;
}

int xgd_study_run(const char *path, int dry) {
    json_t *study = xgd_json_load(path);
    if (!study) return -1;
    runner r = {study, {json_array(), dry}, xgd_json_str(study, "output_dir", NULL), xgd_json_str(study, "base_model", NULL), NULL, 0,
                (int)xgd_json_int(json_object_get(study, "generation"), "N", 25), xgd_now()};
    int rc = 0;
    if (!r.out || !r.base) rc = xgd_fail("%s: output_dir and base_model are required", path);
    if (rc == 0) rc = prompt_files(json_object_get(study, "prompts"), &r.files, &r.nf);
    if (rc == 0 && !dry) rc = xgd_mkdir_p(r.out);
    int started = rc == 0 && !dry;
    char tuned[4096], gen_base[4096], gen_tuned[4096];
    if (rc == 0) rc = step_dpo(&r, tuned, sizeof tuned);
    if (rc == 0) {
        gen_folder(&r, "base", r.base, gen_base, sizeof gen_base);
        gen_folder(&r, "dpo", tuned, gen_tuned, sizeof gen_tuned);
        rc = step_eval(&r, "base", r.base, gen_base);
    }
    if (rc == 0) rc = step_eval(&r, "dpo", tuned, gen_tuned);
    if (rc == 0 && !dry) rc = write_summary(&r);
    if (rc == 0) {
        xgd_analyses an = {study, r.out, r.base, tuned, gen_base, gen_tuned, r.files, r.nf, r.N};
        rc = xgd_study_analyses(&r.st, &an);
    }
    if (started && write_provenance(&r, path, rc) != 0 && rc == 0) rc = -1;
    for (int i = 0; i < r.nf; i++) free(r.files[i]);
    free(r.files);
    json_decref(r.st.steps);
    json_decref(study);
    return rc;
}
