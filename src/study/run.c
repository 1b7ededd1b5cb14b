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
#include "interp/report.h"
#include "study/analyses.h"
#include "study/step.h"
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    json_t *study;
    xgd_steps st;
    const char *out;
    int dry;
    double t0;
} runner;

static void record(runner *r, const char *step, const char *state, double seconds, json_t *extra) {
    xgd_step_record(&r->st, step, state, seconds, extra);
}

/* The standalone command a library step equals (DPO and merge run in-process: their models stay
 * in memory between steps), recorded in the provenance as {"command", "argv"}. */
static json_t *equivalent(const char *const *argv) {
    char *cmd = xgd_command_line(argv);
    json_t *a = json_array();
    for (int i = 0; argv[i]; i++) json_array_append_new(a, json_string(argv[i]));
    json_t *j = json_pack("{s:s, s:o}", "command", cmd, "argv", a);
    free(cmd);
    return j;
}

/* xgd dpo's flags are the study's dpo keys (same names, same defaults). */
static json_t *dpo_command(const json_t *d, const char *base, const char *dir) {
    const char *argv[136];
    char flags[64][80], nums[64][32];
    int n = 0, nv = 0;
    argv[n++] = "dpo";
    argv[n++] = "--model_name_or_path"; argv[n++] = base;
    argv[n++] = "--output_dir"; argv[n++] = dir;
    argv[n++] = "--save_dtype"; argv[n++] = "f32";
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)d, k, v) {
        if (!strcmp(k, "language") || json_is_false(v) || nv >= 64) continue;   /* language: the study's own key */
        snprintf(flags[nv], sizeof flags[nv], "--%s", k);
        argv[n++] = flags[nv];
        if (json_is_string(v)) argv[n++] = json_string_value(v);
        else if (!json_is_true(v)) {
            xgd_arg_num(nums[nv], sizeof nums[nv], v);
            argv[n++] = nums[nv];
        }
        nv++;
    }
    argv[n] = NULL;
    return equivalent(argv);
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
    json_t *extra = dpo_command(d, base, dir);
    json_object_set_new(extra, "seed", json_integer(xgd_json_int(d, "seed", 0)));
    if (xgd_is_file(marker)) record(r, "dpo", "complete (skipped)", 0, extra);
    else if (r->dry) record(r, "dpo", xgd_is_dir(dir) ? "would resume (interrupted)" : "would run (missing)", 0, extra);
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
        if (!a.data_dir) { json_decref(extra); return xgd_fail("study: dpo.data_dir is required"); }
        if (xgd_optim_parse(xgd_json_str(d, "optimizer_type", "rmsprop"), &a.optimizer) ||
            xgd_sched_parse(xgd_json_str(d, "lr_scheduler_type", "constant_with_warmup"), &a.schedule) ||
            xgd_dpo_loss_parse(xgd_json_str(d, "loss_type", "sigmoid"), &a.loss) || xgd_dpo_train(&a) != 0) {
            json_decref(extra);
            return xgd_err_context("study: dpo");
        }
        record(r, "dpo", "done", xgd_now() - t, extra);
    }
    if (lora) {
        char cfg[8192];
        snprintf(cfg, sizeof cfg, "%s/config.json", tuned);
        int n = 0;
        const char *argv[] = {"merge", "--base_model_name", base, "--lora_adapter", fin, "--output_path", tuned, NULL};
        if (xgd_is_file(cfg)) record(r, "merge", "complete (skipped)", 0, equivalent(argv));
        else if (r->dry) record(r, "merge", "would run (missing)", 0, equivalent(argv));
        else {
            t = xgd_now();
            if (xgd_merge_adapter(base, fin, tuned, XGD_DTYPE_COUNT, &n) != 0) return xgd_err_context("study: merge");
            record(r, "merge", "done", xgd_now() - t, equivalent(argv));
        }
    }
    return 0;
}

/* The folder the generations of one model go to (the generator names files by model tag). */
static void gen_folder(const char *out, const char *tag, const char *prompt_file, char *buf, size_t n) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/generations/%s", out, tag);
    char *gf = xgd_gen_output_path(dir, tag, prompt_file);
    *strrchr(gf, '/') = 0;
    snprintf(buf, n, "%s", gf);
    free(gf);
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
            const json_t *mo = json_object_get(r->study, "metrics");
            xgd_tox_opts to = {.threshold = xgd_json_num(mo, "threshold", 0.5), .bootstrap = (int)xgd_json_int(mo, "bootstrap", 1000),
                               .seed = (uint64_t)xgd_json_int(mo, "seed", 0), .level = 0.95};
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
        xgd_fingerprint(files[i], fp);
        char name[300];
        snprintf(name, sizeof name, "evaluate %s %.40s", tag, strrchr(files[i], '/') ? strrchr(files[i], '/') + 1 : files[i]);
        if (rc == 0) record(r, name, "done", xgd_now() - t0, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "prompt_file", files[i], "fnv1a64", fp,
                                                                        "generations", gf, "scores", sf, "resumed_prompts", (json_int_t)gs.resumed_after,
                                                                        "seed", (json_int_t)go.o.seed));
        xgd_score_stats_free(&st);
        free(sf);
        free(gf);
    }
    xgd_scorer_free(s);
    xgd_tokenizer_free(t);
    xgd_model_free(m);
    return rc;
}

/* The summary, in the layout `xgd report` reads: per language before/after, and how many other
 * languages than the DPO language saw toxicity fall (the upper end of the 95% interval after DPO
 * below the value before) or rise. */
static int write_summary(runner *r, const json_t *before, const json_t *after) {
    json_t *langs = json_object(), *j = json_object();
    const char *lang;
    json_t *b;
    int transferred = 0, others = 0, rose = 0;
    const char *dpo_lang = xgd_json_str(json_object_get(r->study, "dpo"), "language", "en");
    json_object_foreach((json_t *)before, lang, b) {
        json_t *a = json_object_get(after, lang);
        if (!a) continue;
        double ab = xgd_json_num(b, "avg", NAN), aa = xgd_json_num(a, "avg", NAN);
        json_t *ci = json_object_get(a, "avg_ci");
        double lo = json_number_value(json_array_get(ci, 0)), hi = json_number_value(json_array_get(ci, 1));
        json_object_set_new(langs, lang, json_pack("{s:f, s:f, s:[f,f], s:f, s:f, s:f, s:f, s:i, s:s, s:s}", "avg_before", ab, "avg_after", aa,
                                                   "avg_after_ci", lo, hi, "toxicity_prob_before", xgd_json_num(b, "prob", NAN),
                                                   "toxicity_prob_after", xgd_json_num(a, "prob", NAN), "emt_before",
                                                   xgd_json_num(b, "emt", NAN), "emt_after", xgd_json_num(a, "emt", NAN), "prompts",
                                                   (int)xgd_json_int(a, "prompts", 0), "scores_before", xgd_json_str(b, "scores", ""),
                                                   "scores_after", xgd_json_str(a, "scores", "")));
        if (strcasecmp(lang, dpo_lang) != 0) { others++; transferred += hi < ab; rose += lo > ab; }
    }
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
    json_t *prov = json_pack("{s:O, s:o, s:s, s:s, s:O, s:O, s:s}", "xgd_version", json_object_get(v, "xgd"), "versions", v, "study_file", path, "study_fnv1a64", fp, "study", r->study,
                             "steps", r->st.steps, "status", rc == 0 ? "complete" : xgd_errmsg());
    char *pp = xgd_path_join(r->out, "provenance.json");
    int w = xgd_json_write(pp, prov);
    free(pp);
    json_decref(prov);
    return w;
}

int xgd_study_run(const char *path, int dry) {
    json_t *study = xgd_json_load(path);
    if (!study) return -1;
    runner r = {study, {json_array(), dry}, xgd_json_str(study, "output_dir", NULL), dry, xgd_now()};
    int rc = 0;
    const char *base = xgd_json_str(study, "base_model", NULL);
    if (!r.out || !base) rc = xgd_fail("%s: output_dir and base_model are required", path);
    char **files = NULL;
    int nf = 0;
    if (rc == 0) rc = prompt_files(json_object_get(study, "prompts"), &files, &nf);
    if (rc == 0 && !dry) rc = xgd_mkdir_p(r.out);
    int started = rc == 0 && !dry;
    char tuned[4096];
    if (rc == 0) rc = step_dpo(&r, tuned, sizeof tuned);
    json_t *before = json_object(), *after = json_object();
    if (rc == 0) rc = step_eval(&r, "base", base, files, nf, before);
    if (rc == 0) rc = step_eval(&r, "dpo", tuned, files, nf, after);
    if (rc == 0 && !dry) rc = write_summary(&r, before, after);
    if (rc == 0) {
        char gen_base[4096], gen_tuned[4096];
        int N = (int)xgd_json_int(json_object_get(study, "generation"), "N", 25);
        gen_folder(r.out, "base", files[0], gen_base, sizeof gen_base);
        gen_folder(r.out, "dpo", files[0], gen_tuned, sizeof gen_tuned);
        xgd_analyses an = {study, r.out, base, tuned, gen_base, gen_tuned, files, nf, N};
        rc = xgd_study_analyses(&r.st, &an);
    }
    if (started && write_provenance(&r, path, rc) != 0 && rc == 0) rc = -1;
    json_decref(before);
    json_decref(after);
    for (int i = 0; i < nf; i++) free(files[i]);
    free(files);
    json_decref(r.st.steps);
    json_decref(study);
    return rc;
}
