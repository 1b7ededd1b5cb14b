#include "study/demo.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/pyjson.h"
#include "interp/report.h"
#include "study/report.h"
#include "study/run.h"
#include "model/init.h"
#include "model/model.h"
#include "tokenize/tokenizer.h"
#include "study/demo_lang.h"
#include "train/lm.h"
#include "train/save.h"
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

/* The miniature as a study file for `xgd run`: the same steps, settings scaled to the tiny model
 * (short continuations, a learning rate a tiny probe can use, every analysis switched on). */
static json_t *demo_study(const char *out, const xgd_demo_opts *o) {
    char base[4096], data[4096], prompts[4096], lex[4096];
    snprintf(base, sizeof base, "%s/model-base", out);
    snprintf(data, sizeof data, "%s/dpo-data", out);
    snprintf(prompts, sizeof prompts, "%s/prompts", out);
    snprintf(lex, sizeof lex, "%s/lexicon", out);
    json_int_t seed = (json_int_t)o->seed;
    json_t *others = json_array();
    for (int l = 1; l < DEMO_LANGS; l++) json_array_append_new(others, json_string(demo_lang_codes[l]));
    return json_pack("{s:s, s:s,"
                     " s:{s:s, s:s, s:b, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:I, s:i, s:f, s:f, s:f, s:s, s:s, s:s, s:I},"
                     " s:{s:s}, s:{s:i, s:i, s:f, s:f, s:I}, s:{s:s, s:s}, s:{s:i, s:I},"
                     " s:{}, s:{s:b}, s:{s:i, s:f, s:I}, s:{s:i, s:i, s:i}, s:{s:i},"
                     " s:{s:s, s:s, s:s, s:o}}",
                     "output_dir", out, "base_model", base,
                     "dpo", "data_dir", data, "language", "en", "use_lora", 0, "per_device_train_batch_size", 8,
                     "per_device_eval_batch_size", 8, "num_train_epochs", 1, "max_prompt_length", 8, "max_length", 16, "warmup_steps", 10,
                     "eval_steps", 20, "save_steps", 40, "logging_steps", 10, "max_steps", (json_int_t)(o->quick ? 60 : 150),
                     "early_stopping_patience", 10, "learning_rate", 1e-4, "beta", 0.1, "max_grad_norm", 10.0, "optimizer_type", "rmsprop",
                     "lr_scheduler_type", "constant_with_warmup", "loss_type", "sigmoid", "seed", seed,
                     "prompts", "path", prompts,
                     "generation", "N", 10, "max_tokens", 4, "temperature", 1.0, "top_p", 1.0, "seed", seed,
                     "scorer", "backend", "lexicon", "lexicon", lex,
                     "metrics", "bootstrap", 500, "seed", seed,
                     "diversity", "perplexity", "corrected", 1,
                     "probe", "epochs", 20, "learning_rate", 0.01, "seed", seed,
                     "vectors", "topk", 20, "project", 5, "steps", 4,
                     "activations", "steps", 4,
                     "retrieval", "aligned_text_dir", prompts, "pattern", "demo_{lang}.jsonl", "lang1", "en", "lang2", others);
}

int xgd_demo_run(const xgd_demo_opts *o) {
    double t0 = xgd_now();
    const char *out = o->out_dir;
    char base[4096], data[4096], prompts[4096], lex[4096];
    snprintf(base, sizeof base, "%s/model-base", out);
    snprintf(data, sizeof data, "%s/dpo-data", out);
    snprintf(prompts, sizeof prompts, "%s/prompts", out);
    snprintf(lex, sizeof lex, "%s/lexicon", out);
    int rc = xgd_mkdir_p(out);
    if (rc == 0) rc = pretrain(base, o);
    if (rc == 0) rc = write_dpo_data(data, o);
    if (rc == 0) rc = write_prompts(prompts, o);
    if (rc == 0) rc = demo_write_lexicon(lex);
    char *sp = xgd_path_join(out, "study.json");
    if (rc == 0) {
        json_t *study = demo_study(out, o);
        rc = xgd_json_write(sp, study);
        json_decref(study);
    }
    if (rc == 0) {
        xgd_info("demo: the study (%s): English-only DPO, generation and scoring in every language before and after, analyses", sp);
        int saved = xgd_verbosity;
        if (xgd_verbosity < 2) xgd_verbosity = 0;   /* the steps' own chatter stays out of the demo's output */
        rc = xgd_study_run(sp, 0);
        xgd_verbosity = saved;
    }
    free(sp);
    if (rc == 0) rc = xgd_report_write(out);
    if (rc != 0) return xgd_err_context("demo");
    /* the report's markdown is the demo's answer: the tables and the readings of them */
    char *mp = xgd_path_join(out, "report.md"), *md = NULL;
    size_t len = 0;
    rc = xgd_read_file(mp, &md, &len);
    free(mp);
    if (rc == 0) {
        fwrite(md, 1, len, stdout);
        printf("\nfiles: %s/report.html, report.md, summary.json, provenance.json, study.json (%.0f s)\n", out, xgd_now() - t0);
    }
    free(md);
    return rc;
}
