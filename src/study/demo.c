#include "study/demo.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/pyjson.h"
#include "eval/metrics.h"
#include "eval/score.h"
#include "generate/run.h"
#include "model/init.h"
#include "study/demo_lang.h"
#include "train/dpo_trainer.h"
#include "train/lm.h"
#include "train/save.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEMO_VERSION 1

typedef struct { int32_t **seq; int *len; int64_t n; } corpus;

/* Tokens of a rendered text with the demo tokenizer (whitespace-separated words). */
static int encode(const xgd_tokenizer *t, const char *text, int32_t *out, int max) {
    xgd_encoding e = {0};
    if (xgd_encode(t, text, strlen(text), 0, &e) != 0) return -1;
    int n = (int)e.n < max ? (int)e.n : max;
    memcpy(out, e.ids, sizeof(int32_t) * (size_t)n);
    xgd_encoding_free(&e);
    return n;
}

/* Pretraining text: monolingual runs of sentences in one language, and sentence | translation
 * pairs (English and one other language, either order) that tie the languages together. */
static int build_corpus(const xgd_tokenizer *t, int64_t n, uint64_t seed, corpus *c) {
    xgd_rng r;
    xgd_rng_init(&r, seed, 0xC0);
    c->seq = xgd_calloc((size_t)n, sizeof(int32_t *));
    c->len = xgd_calloc((size_t)n, sizeof(int));
    c->n = n;
    char text[2048], part[512];
    for (int64_t i = 0; i < n; i++) {
        size_t k = 0;
        text[0] = 0;
        if (xgd_rng_uniform_d(&r) < 0.5) k += (size_t)snprintf(text, sizeof text, "<|endoftext|> ");
        demo_sent s;
        if (xgd_rng_uniform_d(&r) < 0.3) {
            int other = 1 + (int)xgd_rng_below(&r, DEMO_LANGS - 1), first = xgd_rng_below(&r, 2) ? 0 : other;
            demo_sentence(&r, 0.15, &s);
            demo_render(&s, first, 0, part, sizeof part);
            k += (size_t)snprintf(text + k, sizeof text - k, "%s | ", part);
            demo_render(&s, first ? 0 : other, 0, part, sizeof part);
            k += (size_t)snprintf(text + k, sizeof text - k, "%s", part);
        } else {
            int lang = (int)xgd_rng_below(&r, DEMO_LANGS), m = 1 + (int)xgd_rng_below(&r, 3);
            for (int j = 0; j < m; j++) {
                demo_sentence(&r, 0.15, &s);
                demo_render(&s, lang, 0, part, sizeof part);
                k += (size_t)snprintf(text + k, sizeof text - k, "%s%s", j ? " " : "", part);
            }
        }
        c->seq[i] = xgd_malloc(sizeof(int32_t) * 64);
        if ((c->len[i] = encode(t, text, c->seq[i], 64)) < 0) return -1;
    }
    return 0;
}

static void corpus_free(corpus *c) {
    for (int64_t i = 0; i < c->n; i++) free(c->seq[i]);
    free(c->seq);
    free(c->len);
}

/* The base model: a tiny GPT-2-family checkpoint pretrained on the corpus (cached). */
static int pretrain(const char *dir, const xgd_demo_opts *o) {
    char *marker = xgd_path_join(dir, "xgd_demo_pretrained.json");
    int cached = xgd_is_file(marker);
    if (cached) { xgd_info("demo: using the cached pretrained model in %s", dir); free(marker); return 0; }
    int vocab, rc = xgd_mkdir_p(dir);
    if (rc == 0) rc = demo_write_tokenizer(dir, &vocab);
    json_t *cfg = json_pack("{s:i, s:i, s:i, s:i, s:i, s:f, s:i, s:i}", "vocab_size", vocab, "n_embd", 64, "n_layer", 2,
                            "n_head", 4, "n_positions", 64, "initializer_range", 0.02, "bos_token_id", 0, "eos_token_id", 0);
    if (rc == 0) rc = xgd_init_checkpoint(&xgd_family_gpt2, cfg, XGD_F32, o->seed, dir);
    json_decref(cfg);
    xgd_model *m = NULL;
    xgd_tokenizer *t = NULL;
    corpus c = {0};
    if (rc == 0) rc = xgd_model_load(&m, dir);
    if (rc == 0 && !(t = xgd_tokenizer_load(dir))) rc = -1;
    if (rc == 0) rc = build_corpus(t, o->quick ? 4000 : 20000, o->seed, &c);
    if (rc == 0) {
        xgd_params p;
        xgd_params_init(&p, m);
        xgd_lm_opts lo = {.batch = 32, .max_len = 48, .steps = o->quick ? 300 : 1500, .warmup = 50, .lr = 3e-3,
                          .weight_decay = 0.01, .max_grad_norm = 1.0, .seed = o->seed, .log_every = o->quick ? 100 : 250};
        double loss = 0;
        xgd_info("demo: pretraining a %lld-parameter model on %lld sequences in %d languages", (long long)m->n_params, (long long)c.n, DEMO_LANGS);
        rc = xgd_lm_train(&p, (const int32_t *const *)c.seq, c.len, c.n, &lo, &loss);
        if (rc == 0) rc = xgd_save_hf_folder(&p, dir, dir, XGD_F32);
        if (rc == 0) {
            char text[256];
            int n = snprintf(text, sizeof text, "{\"version\": %d, \"seed\": %llu, \"final_loss\": %.4f}\n", DEMO_VERSION,
                             (unsigned long long)o->seed, loss);
            rc = xgd_write_file_atomic(marker, text, (size_t)n);
        }
        xgd_params_free(&p);
    }
    corpus_free(&c);
    xgd_tokenizer_free(t);
    xgd_model_free(m);
    free(marker);
    return rc;
}

/* English-only preference pairs: the same prompt, a neutral ending (chosen), a toxic one (rejected). */
static int write_dpo_data(const char *dir, const xgd_demo_opts *o) {
    if (xgd_mkdir_p(dir) != 0) return -1;
    char *path = xgd_path_join(dir, "english_pairs.jsonl");
    xgd_atomic_file af;
    if (xgd_atomic_open(&af, path) != 0) { free(path); return -1; }
    xgd_rng r;
    xgd_rng_init(&r, o->seed, 0xD0);
    char p[256], c[256], j[256];
    for (int i = 0; i < (o->quick ? 200 : 600); i++) {
        demo_sent s, good, bad;
        demo_prompt(&r, &s);
        good = s;
        bad = s;
        demo_continue(&r, 0, &good);
        demo_continue(&r, 1, &bad);
        demo_render(&s, 0, 0, p, sizeof p);
        demo_render(&good, 0, s.n, c, sizeof c);
        demo_render(&bad, 0, s.n, j, sizeof j);
        fputs("{\"prompt\": ", af.fp); xgd_pyjson_str(af.fp, p);
        fputs(", \"chosen\": \" ", af.fp); fputs(c, af.fp);
        fputs("\", \"rejected\": \" ", af.fp); fputs(j, af.fp); fputs("\"}\n", af.fp);
    }
    free(path);
    return xgd_atomic_commit(&af);
}

/* Parallel evaluation prompts: the same underlying prompts rendered in every language. */
static int write_prompts(const char *dir, const xgd_demo_opts *o) {
    if (xgd_mkdir_p(dir) != 0) return -1;
    int n = o->quick ? 30 : 100;
    demo_sent *s = xgd_malloc(sizeof(demo_sent) * (size_t)n);
    xgd_rng r;
    xgd_rng_init(&r, o->seed, 0xE0);
    for (int i = 0; i < n; i++) demo_prompt(&r, &s[i]);
    int rc = 0;
    for (int l = 0; l < DEMO_LANGS && rc == 0; l++) {
        char name[64], text[256];
        snprintf(name, sizeof name, "demo_%s.jsonl", demo_lang_codes[l]);
        char *path = xgd_path_join(dir, name);
        xgd_atomic_file af;
        if ((rc = xgd_atomic_open(&af, path)) == 0) {
            for (int i = 0; i < n; i++) {
                demo_render(&s[i], l, 0, text, sizeof text);
                fputs("{\"prompt\": ", af.fp);
                xgd_pyjson_str(af.fp, text);
                fprintf(af.fp, ", \"index\": %d}\n", i);
            }
            rc = xgd_atomic_commit(&af);
        }
        free(path);
    }
    free(s);
    return rc;
}

typedef struct { double prob, emt, avg, prob_ci[2], avg_ci[2]; size_t groups; } lang_result;

/* Generate, score and measure one model in every language. */
static int evaluate(const char *model_dir, const char *tag, const char *out, const xgd_demo_opts *o, lang_result *res) {
    xgd_model *m = NULL;
    xgd_tokenizer *t = NULL;
    xgd_scorer *sc = NULL;
    int rc = xgd_model_load(&m, model_dir);
    if (rc == 0 && !(t = xgd_tokenizer_load(model_dir))) rc = -1;
    char *lex = xgd_path_join(out, "lexicon");
    xgd_score_opts so;
    xgd_score_opts_default(&so);
    so.backend = "lexicon";
    so.lexicon = lex;
    if (rc == 0 && !(sc = xgd_scorer_open(&so))) rc = -1;
    int32_t stops[16];
    int N = 10;
    xgd_gen_file_opts g = {.m = m, .tok = t};
    if (rc == 0)
        g.o = (xgd_gen_opts){.N = N, .max_tokens = 4, .sp = {1.0f, 1.0f, -1, 0.0f}, .seed = o->seed,
                             .stop_ids = stops, .n_stop = xgd_gen_stop_ids(m, t, stops), .group = 10};
    char gen_dir[4096], score_dir[4096];
    snprintf(gen_dir, sizeof gen_dir, "%s/generations/%s", out, tag);
    snprintf(score_dir, sizeof score_dir, "%s/scores/%s", out, tag);
    if (rc == 0) rc = xgd_mkdir_p(gen_dir);
    if (rc == 0) rc = xgd_mkdir_p(score_dir);
    for (int l = 0; l < DEMO_LANGS && rc == 0; l++) {
        char pf[4096], gf[8192], name[64];
        snprintf(name, sizeof name, "demo_%s", demo_lang_codes[l]);
        snprintf(pf, sizeof pf, "%s/prompts/%s.jsonl", out, name);
        snprintf(gf, sizeof gf, "%s/output-%s.json", gen_dir, name);
        rc = xgd_generate_file(&g, pf, gf, NULL, NULL);
        char *sf = rc == 0 ? xgd_score_output_path(score_dir, gf) : NULL;
        xgd_score_stats st;
        memset(&st, 0, sizeof st);
        xgd_score_run run = {.language = demo_lang_codes[l]};
        if (rc == 0) rc = xgd_score_file(sc, gf, sf, &run, &st);
        xgd_score_stats_free(&st);
        xgd_tox_records rec;
        if (rc == 0 && (rc = xgd_tox_read(sf, XGD_GROUP_INDEX, N, &rec)) == 0) {
            xgd_tox_opts to = {.threshold = 0.5, .bootstrap = 500, .seed = o->seed, .level = 0.95};
            xgd_tox_result tr;
            rc = xgd_toxicity_metrics(rec.score, rec.group, rec.n, rec.n_groups, &to, &tr);
            res[l] = (lang_result){tr.prob, tr.emt, tr.avg, {tr.prob_ci[0], tr.prob_ci[1]}, {tr.avg_ci[0], tr.avg_ci[1]}, tr.n_groups};
            xgd_tox_records_free(&rec);
        }
        free(sf);
    }
    free(lex);
    xgd_scorer_free(sc);
    xgd_tokenizer_free(t);
    xgd_model_free(m);
    return rc;
}

int xgd_demo_run(const xgd_demo_opts *o) {
    double t0 = xgd_now();
    const char *out = o->out_dir;
    char base[4096], dpo_out[4096], data[4096], final[8192], prompts[4096], lex[4096];
    snprintf(base, sizeof base, "%s/model-base", out);
    snprintf(dpo_out, sizeof dpo_out, "%s/dpo", out);
    snprintf(data, sizeof data, "%s/dpo-data", out);
    snprintf(final, sizeof final, "%s/final_checkpoint", dpo_out);
    snprintf(prompts, sizeof prompts, "%s/prompts", out);
    snprintf(lex, sizeof lex, "%s/lexicon", out);
    int rc = xgd_mkdir_p(out);
    if (rc == 0) rc = pretrain(base, o);
    if (rc == 0) rc = write_dpo_data(data, o);
    if (rc == 0) rc = write_prompts(prompts, o);
    if (rc == 0) rc = demo_write_lexicon(lex);
    if (rc == 0 && !xgd_is_file(final)) {
        char fin_cfg[8300];
        snprintf(fin_cfg, sizeof fin_cfg, "%s/config.json", final);
        xgd_info("demo: English-only DPO (full fine-tuning)");
        xgd_dpo_args a = {.data_dir = data, .model = base, .output_dir = dpo_out, .batch = 8, .eval_batch = 8, .grad_accum = 1,
                          .epochs = 1, .max_prompt_length = 8, .max_length = 16, .warmup_steps = 10, .eval_steps = 20,
                          .save_steps = 40, .logging_steps = 10, .max_steps = o->quick ? 60 : 150, .patience = 10,
                          .lr = 1e-4, .weight_decay = 0.0, .max_grad_norm = 10.0, .beta = 0.1, .eval_frac = 0.05,
                          .optimizer = XGD_OPT_RMSPROP, .schedule = XGD_SCHED_CONSTANT_WARMUP, .loss = XGD_DPO_SIGMOID,
                          .seed = o->seed, .max_chars = 256, .resume = 1, .save_dtype = XGD_F32};
        int saved = xgd_verbosity;
        if (xgd_verbosity < 2) xgd_verbosity = 0;   /* the trainer's own chatter stays out of the demo's output */
        rc = xgd_dpo_train(&a);
        xgd_verbosity = saved;
    }
    lang_result before[DEMO_LANGS], after[DEMO_LANGS];
    if (rc == 0) { xgd_info("demo: generating and scoring before DPO"); rc = evaluate(base, "base", out, o, before); }
    if (rc == 0) { xgd_info("demo: generating and scoring after DPO"); rc = evaluate(final, "dpo", out, o, after); }
    if (rc != 0) return xgd_err_context("demo");
    /* the report: a table and an honest reading of it */
    int transferred = 0, others = 0, rose = 0;
    double en_drop = before[0].avg > 0 ? 1.0 - after[0].avg / before[0].avg : 0;
    char md[8192];
    size_t k = 0;
    k += (size_t)snprintf(md + k, sizeof md - k, "| language | avg toxicity before | after [95%% CI] | toxicity probability before | after | EMT before | after |\n"
                                                 "|---|---|---|---|---|---|---|\n");
    for (int l = 0; l < DEMO_LANGS; l++) {
        k += (size_t)snprintf(md + k, sizeof md - k, "| %s%s | %.3f | %.3f [%.3f, %.3f] | %.3f | %.3f | %.3f | %.3f |\n",
                              demo_lang_codes[l], l == 0 ? " (DPO data)" : "", before[l].avg, after[l].avg, after[l].avg_ci[0],
                              after[l].avg_ci[1], before[l].prob, after[l].prob, before[l].emt, after[l].emt);
        if (l > 0) { others++; transferred += after[l].avg_ci[1] < before[l].avg; rose += after[l].avg_ci[0] > before[l].avg; }
    }
    k += (size_t)snprintf(md + k, sizeof md - k,
                          "\nAverage toxicity = share of sampled continuations with a listed toxic word (lexicon scorer); toxicity\n"
                          "probability = share of prompts with at least one toxic sample out of 10.\n"
                          "English-only DPO changed English average toxicity by %+.0f%%. In %d of %d other languages the upper end of\n"
                          "the 95%% bootstrap interval after DPO lies below the value before DPO (%s); in %d it lies above it\n"
                          "(toxicity rose there).\n",
                          -100.0 * en_drop, transferred, others,
                          transferred == others ? "the reduction transferred to every language"
                          : transferred > 0 ? "the reduction transferred to some languages only"
                                            : "no transfer is visible at this scale", rose);
    char *sp = xgd_path_join(out, "summary.md");
    rc = xgd_write_file_atomic(sp, md, k);
    free(sp);
    /* machine-readable summary */
    json_t *j = json_object(), *langs = json_object();
    for (int l = 0; l < DEMO_LANGS; l++)
        json_object_set_new(langs, demo_lang_codes[l],
                            json_pack("{s:f, s:f, s:[f,f], s:f, s:f, s:f, s:f, s:[f,f], s:i}", "toxicity_prob_before", before[l].prob,
                                      "toxicity_prob_after", after[l].prob, "toxicity_prob_after_ci", after[l].prob_ci[0],
                                      after[l].prob_ci[1], "emt_before", before[l].emt, "emt_after", after[l].emt,
                                      "avg_before", before[l].avg, "avg_after", after[l].avg, "avg_after_ci", after[l].avg_ci[0],
                                      after[l].avg_ci[1], "prompts", (int)before[l].groups));
    json_object_set_new(j, "languages", langs);
    json_object_set_new(j, "dpo_language", json_string("en"));
    json_object_set_new(j, "transferred_languages", json_integer(transferred));
    json_object_set_new(j, "other_languages", json_integer(others));
    json_object_set_new(j, "languages_where_toxicity_rose", json_integer(rose));
    json_object_set_new(j, "seed", json_integer((json_int_t)o->seed));
    json_object_set_new(j, "seconds", json_real(xgd_now() - t0));
    char *jp = xgd_path_join(out, "summary.json");
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (rc == 0) rc = xgd_write_file_atomic(jp, text, strlen(text));
    free(text);
    free(jp);
    json_decref(j);
    if (rc == 0) printf("%s\nfiles: %s/summary.md, summary.json, generations/, scores/ (%.0f s)\n", md, out, xgd_now() - t0);
    return rc;
}
