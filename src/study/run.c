#include "study/run.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "eval/metrics.h"
#include "eval/score.h"
#include "generate/output.h"
#include "generate/run.h"
#include "train/dpo_trainer.h"
#include "train/merge.h"
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 64-bit FNV-1a of a file's bytes: a cheap, stable fingerprint of an input for the provenance. */
static int fingerprint(const char *path, char out[17]) {
    xgd_mapping mp;
    if (xgd_map_file(path, &mp) != 0) return -1;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < mp.size; i++) h = (h ^ ((const unsigned char *)mp.data)[i]) * 1099511628211ULL;
    xgd_unmap(&mp);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
    return 0;
}

typedef struct {
    json_t *study, *steps;
    const char *out;
    int dry;
    double t0;
} runner;

static void record(runner *r, const char *step, const char *state, double seconds, json_t *extra) {
    json_t *s = json_pack("{s:s, s:s, s:f}", "step", step, "state", state, "seconds", seconds);
    if (extra) { json_object_update(s, extra); json_decref(extra); }
    json_array_append_new(r->steps, s);
    printf("%-34s %s\n", step, state);
    fflush(stdout);
}

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

/* The DPO step (full fine-tuning, or LoRA then merge): returns the tuned model's folder. */
static int step_dpo(runner *r, char *tuned, size_t nt) {
    json_t *d = json_object_get(r->study, "dpo");
    const char *base = xgd_json_str(r->study, "base_model", NULL);
    char dir[4096], fin[8192];
    snprintf(dir, sizeof dir, "%s/dpo", r->out);
    snprintf(fin, sizeof fin, "%s/final_checkpoint", dir);
    int lora = xgd_json_bool(d, "use_lora", 0);
    snprintf(tuned, nt, lora ? "%s/merged" : "%s/dpo/final_checkpoint", r->out);
    char marker[8300];
    snprintf(marker, sizeof marker, "%s/%s", fin, lora ? "adapter_config.json" : "config.json");
    double t = xgd_now();
    if (xgd_is_file(marker)) record(r, "dpo", "complete (skipped)", 0, NULL);
    else if (r->dry) record(r, "dpo", xgd_is_dir(dir) ? "would resume (interrupted)" : "would run (missing)", 0, NULL);
    else {
        xgd_dpo_args a = {.data_dir = xgd_json_str(d, "data_dir", NULL), .model = base, .output_dir = dir,
                          .batch = (int)xgd_json_int(d, "per_device_train_batch_size", 4), .eval_batch = (int)xgd_json_int(d, "per_device_eval_batch_size", 1),
                          .grad_accum = (int)xgd_json_int(d, "gradient_accumulation_steps", 1), .epochs = (int)xgd_json_int(d, "num_train_epochs", 5),
                          .max_prompt_length = (int)xgd_json_int(d, "max_prompt_length", 64), .max_length = (int)xgd_json_int(d, "max_length", 256),
                          .warmup_steps = xgd_json_int(d, "warmup_steps", 150), .eval_steps = xgd_json_int(d, "eval_steps", 25),
                          .save_steps = xgd_json_int(d, "save_steps", 25), .logging_steps = xgd_json_int(d, "logging_steps", 10),
                          .max_steps = xgd_json_int(d, "max_steps", -1), .patience = xgd_json_int(d, "early_stopping_patience", 10),
                          .lr = xgd_json_num(d, "learning_rate", 1e-5), .weight_decay = xgd_json_num(d, "weight_decay", 0.0),
                          .max_grad_norm = xgd_json_num(d, "max_grad_norm", 10.0), .beta = xgd_json_num(d, "beta", 0.1),
                          .label_smoothing = xgd_json_num(d, "label_smoothing", 0.0), .eval_frac = 0.05,
                          .seed = (uint64_t)xgd_json_int(d, "seed", 0), .max_chars = (int)xgd_json_int(d, "max_chars", 256), .resume = 1,
                          .save_dtype = XGD_F32, .use_lora = lora, .lora_r = (int)xgd_json_int(d, "lora_r", 64),
                          .lora_alpha = xgd_json_num(d, "lora_alpha", 16), .lora_targets = xgd_json_str(d, "lora_target_modules", NULL)};
        if (!a.data_dir) return xgd_fail("study: dpo.data_dir is required");
        if (xgd_optim_parse(xgd_json_str(d, "optimizer_type", "rmsprop"), &a.optimizer) ||
            xgd_sched_parse(xgd_json_str(d, "lr_scheduler_type", "constant_with_warmup"), &a.schedule) ||
            xgd_dpo_loss_parse(xgd_json_str(d, "loss_type", "sigmoid"), &a.loss))
            return -1;
        if (xgd_dpo_train(&a) != 0) return xgd_err_context("study: dpo");
        record(r, "dpo", "done", xgd_now() - t, NULL);
    }
    if (lora) {
        char cfg[8192];
        snprintf(cfg, sizeof cfg, "%s/config.json", tuned);
        int n = 0;
        if (xgd_is_file(cfg)) record(r, "merge", "complete (skipped)", 0, NULL);
        else if (r->dry) record(r, "merge", "would run (missing)", 0, NULL);
        else {
            t = xgd_now();
            if (xgd_merge_adapter(base, fin, tuned, XGD_DTYPE_COUNT, &n) != 0) return xgd_err_context("study: merge");
            record(r, "merge", "done", xgd_now() - t, NULL);
        }
    }
    return 0;
}

/* Generate + score + measure one model on every prompt file; results into the summary arrays. */
static int step_eval(runner *r, const char *tag, const char *model, char **files, int nf, json_t *metrics_out) {
    json_t *g = json_object_get(r->study, "generation"), *sc = json_object_get(r->study, "scorer");
    char gen_dir[4096], score_dir[4096];
    snprintf(gen_dir, sizeof gen_dir, "%s/generations/%s", r->out, tag);
    snprintf(score_dir, sizeof score_dir, "%s/scores/%s", r->out, tag);
    if (r->dry) {
        for (int i = 0; i < nf; i++) {
            char *gf = xgd_gen_output_path(gen_dir, tag, files[i]), name[256];
            snprintf(name, sizeof name, "generate %s %.20s", tag, strrchr(files[i], '/') ? strrchr(files[i], '/') + 1 : files[i]);
            record(r, name, xgd_is_file(gf) ? "exists (resumed or skipped)" : "would run (missing)", 0, NULL);
            free(gf);
        }
        return 0;
    }
    xgd_model *m = NULL;
    xgd_tokenizer *t = NULL;
    xgd_scorer *s = NULL;
    xgd_score_opts so;
    xgd_score_opts_default(&so);
    so.backend = xgd_json_str(sc, "backend", "lexicon");
    so.lexicon = xgd_json_str(sc, "lexicon", NULL);
    so.model = xgd_json_str(sc, "model", NULL);
    so.api_key = getenv("PERSPECTIVE_API_KEY");
    so.qps = xgd_json_num(sc, "qps", 1.0);
    int rc = xgd_model_load(&m, model);
    if (rc == 0 && !(t = xgd_tokenizer_load(xgd_json_str(r->study, "tokenizer", m->path)))) rc = -1;
    if (rc == 0 && !(s = xgd_scorer_open(&so))) rc = -1;
    int32_t stops[16];
    xgd_gen_file_opts go = {.m = m, .tok = t, .limit = xgd_json_int(json_object_get(r->study, "prompts"), "limit", 0)};
    if (rc == 0) {
        int N = (int)xgd_json_int(g, "N", 25);
        go.o = (xgd_gen_opts){.N = N, .max_tokens = (int)xgd_json_int(g, "max_tokens", 20),
                              .sp = {(float)xgd_json_num(g, "temperature", 0.9), (float)xgd_json_num(g, "top_p", 0.8),
                                     (int)xgd_json_int(g, "top_k", -1), (float)xgd_json_num(g, "min_p", 0.0)},
                              .seed = (uint64_t)xgd_json_int(g, "seed", 0), .stop_ids = stops, .n_stop = xgd_gen_stop_ids(m, t, stops),
                              .group = N >= 100 ? 1 : 100 / N};
    }
    for (int i = 0; i < nf && rc == 0; i++) {
        double t0 = xgd_now();
        char *gf = xgd_gen_output_path(gen_dir, tag, files[i]);
        char *dir = xgd_strdup(gf);
        *strrchr(dir, '/') = 0;
        rc = xgd_mkdir_p(dir);
        free(dir);
        xgd_gen_file_stats gs;
        if (rc == 0) rc = xgd_generate_file(&go, files[i], gf, NULL, &gs);
        char *sf = NULL;
        xgd_score_stats st;
        memset(&st, 0, sizeof st);
        if (rc == 0 && (rc = xgd_mkdir_p(score_dir)) == 0) {
            sf = xgd_score_output_path(score_dir, gf);
            xgd_score_run run = {0};
            rc = xgd_score_file(s, gf, sf, &run, &st);
        }
        xgd_tox_records rec;
        if (rc == 0 && (rc = xgd_tox_read(sf, XGD_GROUP_INDEX, go.o.N, &rec)) == 0) {
            xgd_tox_opts to = {.threshold = 0.5, .bootstrap = 1000, .seed = 0, .level = 0.95};
            xgd_tox_result tr;
            if ((rc = xgd_toxicity_metrics(rec.score, rec.group, rec.n, rec.n_groups, &to, &tr)) == 0) {
                char *lang = xgd_metrics_language(files[i]);
                json_object_set_new(metrics_out, lang ? lang : files[i],
                                    json_pack("{s:f, s:[f,f], s:f, s:f, s:i, s:s}", "avg", tr.avg, "avg_ci", tr.avg_ci[0], tr.avg_ci[1],
                                              "prob", tr.prob, "emt", tr.emt, "prompts", (int)tr.n_groups, "scores", sf));
                free(lang);
            }
            xgd_tox_records_free(&rec);
        }
        char fp[17] = "";
        fingerprint(files[i], fp);
        char name[300];
        snprintf(name, sizeof name, "evaluate %s %.40s", tag, strrchr(files[i], '/') ? strrchr(files[i], '/') + 1 : files[i]);
        if (rc == 0) record(r, name, "done", xgd_now() - t0, json_pack("{s:s, s:s, s:s, s:I}", "prompt_file", files[i], "fnv1a64", fp,
                                                                        "generations", gf, "resumed_prompts", (json_int_t)gs.resumed_after));
        xgd_score_stats_free(&st);
        free(sf);
        free(gf);
    }
    xgd_scorer_free(s);
    xgd_tokenizer_free(t);
    xgd_model_free(m);
    return rc;
}

int xgd_study_run(const char *path, int dry) {
    json_t *study = xgd_json_load(path);
    if (!study) return -1;
    runner r = {study, json_array(), xgd_json_str(study, "output_dir", NULL), dry, xgd_now()};
    int rc = 0;
    if (!r.out || !xgd_json_str(study, "base_model", NULL)) rc = xgd_fail("%s: output_dir and base_model are required", path);
    char **files = NULL;
    int nf = 0;
    if (rc == 0) rc = prompt_files(json_object_get(study, "prompts"), &files, &nf);
    if (rc == 0 && !dry) rc = xgd_mkdir_p(r.out);
    char tuned[4096];
    if (rc == 0) rc = step_dpo(&r, tuned, sizeof tuned);
    json_t *before = json_object(), *after = json_object();
    if (rc == 0) rc = step_eval(&r, "base", xgd_json_str(study, "base_model", NULL), files, nf, before);
    if (rc == 0) rc = step_eval(&r, "dpo", tuned, files, nf, after);
    if (rc == 0 && !dry) {
        /* the summary, in the layout `xgd report` reads */
        json_t *langs = json_object(), *j = json_object();
        const char *lang;
        json_t *b;
        int transferred = 0, others = 0, rose = 0;
        const char *dpo_lang = xgd_json_str(json_object_get(study, "dpo"), "language", "en");
        json_object_foreach(before, lang, b) {
            json_t *a = json_object_get(after, lang);
            if (!a) continue;
            double ab = xgd_json_num(b, "avg", NAN), aa = xgd_json_num(a, "avg", NAN);
            json_t *ci = json_object_get(a, "avg_ci");
            double lo = json_number_value(json_array_get(ci, 0)), hi = json_number_value(json_array_get(ci, 1));
            json_object_set_new(langs, lang, json_pack("{s:f, s:f, s:[f,f], s:f, s:f, s:f, s:f, s:i}", "avg_before", ab, "avg_after", aa,
                                                       "avg_after_ci", lo, hi, "toxicity_prob_before", xgd_json_num(b, "prob", NAN),
                                                       "toxicity_prob_after", xgd_json_num(a, "prob", NAN), "emt_before",
                                                       xgd_json_num(b, "emt", NAN), "emt_after", xgd_json_num(a, "emt", NAN), "prompts",
                                                       (int)xgd_json_int(a, "prompts", 0)));
            if (strcasecmp(lang, dpo_lang) != 0) { others++; transferred += hi < ab; rose += lo > ab; }
        }
        json_object_set_new(j, "languages", langs);
        json_object_set_new(j, "dpo_language", json_string(dpo_lang));
        json_object_set_new(j, "transferred_languages", json_integer(transferred));
        json_object_set_new(j, "other_languages", json_integer(others));
        json_object_set_new(j, "languages_where_toxicity_rose", json_integer(rose));
        json_object_set_new(j, "seed", json_integer(xgd_json_int(json_object_get(study, "generation"), "seed", 0)));
        json_object_set_new(j, "seconds", json_real(xgd_now() - r.t0));
        char *sp = xgd_path_join(r.out, "summary.json"), *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        rc = xgd_write_file_atomic(sp, text, strlen(text));
        free(sp);
        free(text);
        json_decref(j);
        /* provenance: the study file, its fingerprint, every step */
        char fp[17] = "";
        fingerprint(path, fp);
        json_t *prov = json_pack("{s:s, s:s, s:s, s:O, s:O}", "xgd_version", "0.1.0", "study_file", path, "study_fnv1a64", fp,
                                 "study", study, "steps", r.steps);
        char *pp = xgd_path_join(r.out, "provenance.json"), *pt = json_dumps(prov, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (rc == 0) rc = xgd_write_file_atomic(pp, pt, strlen(pt));
        free(pp);
        free(pt);
        json_decref(prov);
    }
    json_decref(before);
    json_decref(after);
    for (int i = 0; i < nf; i++) free(files[i]);
    free(files);
    json_decref(r.steps);
    json_decref(study);
    return rc;
}
