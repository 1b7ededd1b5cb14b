#include "train/dpo_trainer.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "base/rng.h"
#include "model/lora.h"
#include "train/save.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const xgd_dpo_args *a;
    xgd_model *m;
    xgd_tokenizer *tok;
    xgd_params p;          /* full fine-tuning */
    xgd_adapter *lora;     /* LoRA */
    xgd_tgraph *g;
    xgd_dpo_cfg cfg;
    xgd_dpo_tok *train, *eval;
    int64_t n_train, n_eval;
    double *ref_tc, *ref_tr, *ref_ec, *ref_er;   /* reference log-probs */
    xgd_optim opt;
    xgd_pseg *segs;
    int nseg;
    FILE *log;
} trainer;

/* Log-probs of pairs idx[0..n) of set under the current weights, in batches of bs. */
static int logps_of(trainer *t, const xgd_dpo_tok *set, const int64_t *idx, int64_t n, int bs, double *lc, double *lr,
                    xgd_dpo_metrics *sum, const double *ref_c, const double *ref_r) {
    const xgd_dpo_tok **pairs = xgd_malloc(sizeof(*pairs) * (size_t)bs);
    double *c = xgd_malloc(sizeof(double) * (size_t)bs), *r = xgd_malloc(sizeof(double) * (size_t)bs);
    int rc = 0;
    for (int64_t s = 0; s < n && rc == 0; s += bs) {
        int B = (int)(n - s < bs ? n - s : bs);
        for (int i = 0; i < B; i++) pairs[i] = &set[idx ? idx[s + i] : s + i];
        xgd_dpo_batch b;
        xgd_dpo_batch_build(&b, pairs, B, &t->cfg);
        double lgc, lgr;
        rc = xgd_dpo_logps(t->g, &b, &t->cfg, c, r, &lgc, &lgr);
        if (rc == 0) {
            if (lc) for (int i = 0; i < B; i++) { lc[s + i] = c[i]; lr[s + i] = r[i]; }
            if (sum) { /* eval metrics: per-example means */
                xgd_dpo_metrics m;
                double *rcs = xgd_malloc(sizeof(double) * (size_t)B), *rrs = xgd_malloc(sizeof(double) * (size_t)B);
                for (int i = 0; i < B; i++) { rcs[i] = ref_c[idx ? idx[s + i] : s + i]; rrs[i] = ref_r[idx ? idx[s + i] : s + i]; }
                xgd_dpo_objective(&t->cfg, B, c, r, rcs, rrs, &m, NULL, NULL);
                free(rcs);
                free(rrs);
                double w = (double)B / (double)n;
                sum->loss += m.loss * w; sum->reward_chosen += m.reward_chosen * w; sum->reward_rejected += m.reward_rejected * w;
                sum->accuracy += m.accuracy * w; sum->margin += m.margin * w; sum->logp_chosen += m.logp_chosen * w;
                sum->logp_rejected += m.logp_rejected * w; sum->logits_chosen += lgc * w; sum->logits_rejected += lgr * w;
            }
        }
        xgd_dpo_batch_free(&b);
    }
    free(pairs); free(c); free(r);
    return rc;
}

static int tokenize_set(trainer *t, const xgd_dpo_set *s, xgd_dpo_tok **out) {
    const xgd_dpo_args *a = t->a;
    xgd_dpo_tok_opts o = {a->max_length, a->max_prompt_length, a->keep_start, xgd_bos_id(t->tok), xgd_eos_id(t->tok)};
    *out = xgd_calloc((size_t)(s->n ? s->n : 1), sizeof(xgd_dpo_tok));
    for (int64_t i = 0; i < s->n; i++)
        if (xgd_dpo_tokenize(t->tok, &s->rows[i], &o, &(*out)[i]) != 0) return -1;
    return 0;
}

static void log_line(trainer *t, const char *prefix, int64_t step, double epoch, const xgd_dpo_metrics *m, double lr, double gnorm) {
    char line[2048];
    int n = snprintf(line, sizeof line, "{\"step\": %lld, \"epoch\": %.4f", (long long)step, epoch);
    if (!strcmp(prefix, "")) n += snprintf(line + n, sizeof line - n, ", \"learning_rate\": %.9g, \"grad_norm\": %.6g", lr, gnorm);
    n += snprintf(line + n, sizeof line - n,
                  ", \"%sloss\": %.6g, \"%srewards/chosen\": %.6g, \"%srewards/rejected\": %.6g, \"%srewards/accuracies\": %.6g, "
                  "\"%srewards/margins\": %.6g, \"%slogps/chosen\": %.6g, \"%slogps/rejected\": %.6g, \"%slogits/chosen\": %.6g, "
                  "\"%slogits/rejected\": %.6g}\n",
                  prefix, m->loss, prefix, m->reward_chosen, prefix, m->reward_rejected, prefix, m->accuracy, prefix, m->margin,
                  prefix, m->logp_chosen, prefix, m->logp_rejected, prefix, m->logits_chosen, prefix, m->logits_rejected);
    fputs(line, t->log);
    fflush(t->log);
}

/* The trained weights: a HF checkpoint folder (full) or a PEFT adapter folder (LoRA). */
static int save_weights(trainer *t, const char *dir, xgd_dtype dtype) {
    if (t->lora) return xgd_adapter_save(t->lora, t->m, dir, t->a->model);
    return xgd_save_hf_folder(&t->p, t->m->path, dir, dtype);
}

static int load_weights(trainer *t, const char *dir) {
    if (!t->lora) return xgd_load_params(&t->p, dir);
    xgd_adapter_attach(t->lora, 0);
    xgd_adapter *b = NULL;
    int rc = xgd_adapter_load(&b, t->m, dir);
    if (rc == 0 && (b->n != t->lora->n || b->nparams != t->lora->nparams)) rc = xgd_fail("%s: the saved adapter does not match", dir);
    for (int i = 0; rc == 0 && i < b->n; i++) {
        memcpy(t->lora->items[i].A, b->items[i].A, sizeof(float) * (size_t)(b->r * b->items[i].in));
        memcpy(t->lora->items[i].B, b->items[i].B, sizeof(float) * (size_t)(b->items[i].out * b->r));
    }
    xgd_adapter_free(b);
    xgd_adapter_attach(t->lora, 1);
    return rc;
}

/* Trainer state kept beside resumable checkpoints. */
typedef struct { int64_t step; double best; int64_t best_step, bad_evals; } run_state;

static int save_state(trainer *t, const run_state *rs) {
    const char *out = t->a->output_dir;
    char *tmp = xgd_path_join(out, "checkpoint-last.tmp"), *dst = xgd_path_join(out, "checkpoint-last");
    int rc = xgd_remove_tree(tmp);
    if (rc == 0) rc = save_weights(t, tmp, XGD_F32);
    if (rc == 0) rc = xgd_save_optim(&t->opt, tmp);
    if (rc == 0) {
        char text[512], best[40] = "null";
        if (isfinite(rs->best)) snprintf(best, sizeof best, "%.17g", rs->best);
        int n = snprintf(text, sizeof text, "{\"global_step\": %lld, \"best_metric\": %s, \"best_step\": %lld, \"bad_evals\": %lld}\n",
                         (long long)rs->step, best, (long long)rs->best_step, (long long)rs->bad_evals);
        char *f = xgd_path_join(tmp, "trainer_state.json");
        rc = xgd_write_file_atomic(f, text, (size_t)n);
        free(f);
    }
    /* swap in atomically: the old checkpoint stays until the new one is complete */
    if (rc == 0) {
        char *old = xgd_path_join(out, "checkpoint-last.old");
        rc = xgd_remove_tree(old);
        if (rc == 0 && xgd_is_dir(dst) && rename(dst, old) != 0) rc = xgd_fail("%s: cannot move the previous checkpoint aside", dst);
        if (rc == 0 && rename(tmp, dst) != 0) rc = xgd_fail("%s: cannot install the checkpoint", dst);
        if (rc == 0) rc = xgd_remove_tree(old);
        xgd_fsync_dir(out);
        free(old);
    }
    free(tmp);
    free(dst);
    return rc;
}

static int load_state(trainer *t, run_state *rs) {
    char *dir = xgd_path_join(t->a->output_dir, "checkpoint-last"), *f = xgd_path_join(dir, "trainer_state.json");
    int rc = 1;
    if (xgd_is_file(f)) {
        json_t *j = xgd_json_load(f);
        rc = j && load_weights(t, dir) == 0 && xgd_load_optim(&t->opt, dir) == 0 ? 0 : -1;
        if (rc == 0) {
            rs->step = xgd_json_int(j, "global_step", 0);
            rs->best = xgd_json_num(j, "best_metric", INFINITY);
            rs->best_step = xgd_json_int(j, "best_step", -1);
            rs->bad_evals = xgd_json_int(j, "bad_evals", 0);
        }
        json_decref(j);
    }
    free(dir);
    free(f);
    return rc;
}

/* On resume, drop the log lines of steps after the checkpoint (they will be logged again). */
static int trim_log(trainer *t, int64_t step) {
    char *path = xgd_path_join(t->a->output_dir, "log.jsonl"), *buf = NULL;
    size_t len = 0;
    int rc = 0;
    if (xgd_is_file(path) && xgd_read_file(path, &buf, &len) == 0) {
        size_t keep = 0;
        for (size_t i = 0; i < len;) {
            char *nl = memchr(buf + i, '\n', len - i);
            if (!nl) break;  /* a torn last line goes too */
            json_t *j = json_loadb(buf + i, (size_t)(nl - (buf + i)), 0, NULL);
            int64_t s = j ? xgd_json_int(j, "step", INT64_MAX) : INT64_MAX;
            json_decref(j);
            if (s > step) break;
            i = (size_t)(nl - buf) + 1;
            keep = i;
        }
        fflush(t->log);
        rc = xgd_write_file_atomic(path, buf, keep);
        free(buf);
        if (rc == 0) { fclose(t->log); t->log = fopen(path, "ab"); if (!t->log) rc = xgd_fail("%s: cannot reopen", path); }
    }
    free(path);
    return rc;
}

/* The order of training examples in an epoch: a seeded shuffle (seed, epoch). */
static void epoch_order(int64_t *idx, int64_t n, uint64_t seed, int64_t epoch) {
    xgd_rng r;
    xgd_rng_init(&r, seed, 0xE90C0000ull + (uint64_t)epoch);
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    for (int64_t i = n - 1; i > 0; i--) { int64_t j = (int64_t)xgd_rng_below(&r, (uint64_t)i + 1), x = idx[i]; idx[i] = idx[j]; idx[j] = x; }
}

static int train_loop(trainer *t) {
    const xgd_dpo_args *a = t->a;
    int64_t per_step = (int64_t)a->batch * a->grad_accum;
    int64_t spe = (t->n_train + per_step - 1) / per_step;
    int64_t max_steps = a->max_steps > 0 ? a->max_steps : spe * a->epochs;
    run_state rs = {0, INFINITY, -1, 0};
    int rl = a->resume ? load_state(t, &rs) : 1;
    if (rl < 0) return -1;
    if (rl == 0) xgd_info("dpo: resuming at step %lld of %lld", (long long)rs.step, (long long)max_steps);
    /* the log keeps only the steps the weights have (a run killed before its first checkpoint starts
     * afresh, so its lines go too) */
    if (trim_log(t, rs.step) != 0) return -1;
    int64_t *order = xgd_malloc(sizeof(int64_t) * (size_t)t->n_train);
    const xgd_dpo_tok **pairs = xgd_malloc(sizeof(*pairs) * (size_t)a->batch);
    double *lc = xgd_malloc(sizeof(double) * (size_t)a->batch), *lr = xgd_malloc(sizeof(double) * (size_t)a->batch);
    double *rc_ = xgd_malloc(sizeof(double) * (size_t)a->batch), *rr_ = xgd_malloc(sizeof(double) * (size_t)a->batch);
    double *dc = xgd_malloc(sizeof(double) * (size_t)a->batch), *dr = xgd_malloc(sizeof(double) * (size_t)a->batch);
    xgd_dpo_metrics win = {0};
    int64_t win_n = 0, cur_epoch = -1;
    int rc = 0, stopped = 0;
    xgd_progress bar;
    xgd_progress_start(&bar, "dpo", max_steps, "steps");
    xgd_progress_add(&bar, rs.step);
    for (int64_t step = rs.step; step < max_steps && rc == 0 && !stopped; step++) {
        if (t->lora) xgd_adapter_zero_grad(t->lora);
        else xgd_params_zero_grad(&t->p);
        xgd_dpo_metrics sm = {0};
        for (int k = 0; k < a->grad_accum && rc == 0; k++) {
            int64_t first = ((step % spe) * a->grad_accum + k) * a->batch, epoch = step / spe;
            if (epoch != cur_epoch) { epoch_order(order, t->n_train, a->seed, epoch); cur_epoch = epoch; }
            if (first >= t->n_train) break;
            int B = (int)(t->n_train - first < a->batch ? t->n_train - first : a->batch);
            for (int i = 0; i < B; i++) {
                int64_t ex = order[first + i];
                pairs[i] = &t->train[ex];
                rc_[i] = t->ref_tc[ex];
                rr_[i] = t->ref_tr[ex];
            }
            xgd_dpo_batch b;
            xgd_dpo_batch_build(&b, pairs, B, &t->cfg);
            double lgc, lgr;
            xgd_dpo_metrics m;
            rc = xgd_dpo_logps(t->g, &b, &t->cfg, lc, lr, &lgc, &lgr);
            if (rc == 0) {
                xgd_dpo_objective(&t->cfg, B, lc, lr, rc_, rr_, &m, dc, dr);
                rc = xgd_dpo_backward(t->g, &b, &t->cfg, dc, dr, 1.0 / a->grad_accum);
                m.logits_chosen = lgc;
                m.logits_rejected = lgr;
                double w = 1.0 / a->grad_accum;
                sm.loss += m.loss * w; sm.reward_chosen += m.reward_chosen * w; sm.reward_rejected += m.reward_rejected * w;
                sm.accuracy += m.accuracy * w; sm.margin += m.margin * w; sm.logp_chosen += m.logp_chosen * w;
                sm.logp_rejected += m.logp_rejected * w; sm.logits_chosen += lgc * w; sm.logits_rejected += lgr * w;
            }
            xgd_dpo_batch_free(&b);
        }
        if (rc != 0) break;
        double gnorm = xgd_clip_grad_norm(t->segs, t->nseg, a->max_grad_norm);
        double lrate = xgd_lr_at(a->schedule, a->lr, step, a->warmup_steps, max_steps);
        xgd_optim_step(&t->opt, t->segs, t->nseg, (float)lrate);
        int64_t done = step + 1;
        double epoch = (double)done / (double)spe;
        win.loss += sm.loss; win.reward_chosen += sm.reward_chosen; win.reward_rejected += sm.reward_rejected;
        win.accuracy += sm.accuracy; win.margin += sm.margin; win.logp_chosen += sm.logp_chosen;
        win.logp_rejected += sm.logp_rejected; win.logits_chosen += sm.logits_chosen; win.logits_rejected += sm.logits_rejected;
        win_n++;
        if (done % a->logging_steps == 0 || done == max_steps) {
            double w = 1.0 / (double)win_n;
            xgd_dpo_metrics avg = {win.loss * w, win.reward_chosen * w, win.reward_rejected * w, win.accuracy * w, win.margin * w,
                                   win.logp_chosen * w, win.logp_rejected * w, win.logits_chosen * w, win.logits_rejected * w};
            log_line(t, "", done, epoch, &avg, lrate, gnorm);
            memset(&win, 0, sizeof win);
            win_n = 0;
        }
        if (t->n_eval > 0 && (done % a->eval_steps == 0 || done == max_steps)) {
            xgd_dpo_metrics em = {0};
            rc = logps_of(t, t->eval, NULL, t->n_eval, a->eval_batch, NULL, NULL, &em, t->ref_ec, t->ref_er);
            if (rc != 0) break;
            log_line(t, "eval_", done, epoch, &em, lrate, gnorm);
            /* HF EarlyStoppingCallback: a strictly better eval_loss resets the count */
            if (em.loss < rs.best) {
                rs.best = em.loss;
                rs.best_step = done;
                rs.bad_evals = 0;
                char *best = xgd_path_join(a->output_dir, "best");
                rc = save_weights(t, best, XGD_F32);
                free(best);
            } else if (++rs.bad_evals >= a->patience && a->patience > 0) {
                xgd_info("dpo: early stopping at step %lld (eval_loss did not improve in %lld evaluations)", (long long)done, (long long)rs.bad_evals);
                stopped = 1;
            }
        }
        rs.step = done;
        if (rc == 0 && (done % a->save_steps == 0 || done == max_steps || stopped)) rc = save_state(t, &rs);
        xgd_progress_add(&bar, 1);
    }
    xgd_progress_end(&bar);
    if (rc == 0) {
        /* final_checkpoint: the best weights when evaluation ran (load_best_model_at_end), else the last */
        char *fin = xgd_path_join(a->output_dir, "final_checkpoint"), *best = xgd_path_join(a->output_dir, "best");
        if (rs.best_step >= 0 && rs.best_step != rs.step && xgd_is_dir(best)) rc = load_weights(t, best);  /* else in memory */
        if (rc == 0) rc = save_weights(t, fin, a->save_dtype);
        if (rc == 0) {
            char best_s[32] = "null";
            if (rs.best_step >= 0) snprintf(best_s, sizeof best_s, "%.6g", rs.best);
            if (a->summary_out) fprintf(a->summary_out, "{\"output\": \"%s\", \"steps\": %lld, \"best_step\": %lld, \"best_eval_loss\": %s, \"train_pairs\": %lld, \"eval_pairs\": %lld, \"early_stopped\": %s}\n",
                   fin, (long long)rs.step, (long long)rs.best_step, best_s, (long long)t->n_train, (long long)t->n_eval,
                   stopped ? "true" : "false");
        }
        free(fin);
        free(best);
    }
    free(order); free(pairs); free(lc); free(lr); free(rc_); free(rr_); free(dc); free(dr);
    return rc;
}

int xgd_dpo_train(const xgd_dpo_args *a) {
    trainer t;
    memset(&t, 0, sizeof t);
    t.a = a;
    xgd_dpo_set all = {0}, tr = {0}, ev = {0};
    int rc = xgd_mkdir_p(a->output_dir);
    if (rc == 0) rc = xgd_model_load(&t.m, a->model);
    if (rc == 0 && !(t.tok = xgd_tokenizer_load(a->tokenizer ? a->tokenizer : t.m->path))) rc = -1;
    if (rc == 0) rc = xgd_dpo_read(a->data_dir, a->max_chars, a->skip_bad, &all);
    if (rc == 0) {
        xgd_dpo_split(&all, a->eval_frac, a->seed, &tr, &ev);
        xgd_info("dpo: %lld pairs read, %lld dropped by the %d-character filter; %lld train, %lld eval",
                 (long long)all.read, (long long)all.filtered, a->max_chars, (long long)tr.n, (long long)ev.n);
        /* the seed sets pad_token = eos_token */
        t.cfg = (xgd_dpo_cfg){a->loss, (float)a->beta, (float)a->label_smoothing, xgd_eos_id(t.tok)};
        t.n_train = tr.n;
        t.n_eval = ev.n;
        rc = tokenize_set(&t, &tr, &t.train);
        if (rc == 0) rc = tokenize_set(&t, &ev, &t.eval);
    }
    if (rc == 0) {
        int bmax = a->batch > a->eval_batch ? a->batch : a->eval_batch;
        if (a->use_lora) {
            const char *targets = a->lora_targets ? a->lora_targets : xgd_lora_default_targets(t.m);
            rc = xgd_adapter_create(&t.lora, t.m, targets, a->lora_r, (float)a->lora_alpha, a->lora_rslora, a->seed);
            if (rc == 0) {
                xgd_info("dpo: LoRA r=%d alpha=%g on %d modules (%lld parameters; base weights frozen)", a->lora_r, a->lora_alpha,
                         t.lora->n, (long long)t.lora->nparams);
                /* the frozen base keeps its dtype: its products follow xgd's bf16 math mode */
                if (t.m->g.embed.dtype == XGD_BF16)
                    xgd_info("dpo: products with the bf16 base weights in %s math (xgd --bf16-math fast|exact)",
                             xgd_ops_fast_bf16() ? "fast bf16" : "exact f32");
                t.g = xgd_tgraph_new(t.m, NULL, 2 * bmax, a->max_length);
                /* LoRA factors are weight matrices: decayed in HF's grouping */
                t.segs = xgd_malloc(sizeof(xgd_pseg) * (size_t)(2 * t.lora->n));
                for (int i = 0; i < t.lora->n; i++) {
                    xgd_lora *lo = &t.lora->items[i];
                    t.segs[t.nseg++] = (xgd_pseg){lo->A, lo->dA, (int64_t)lo->r * lo->in, 1};
                    t.segs[t.nseg++] = (xgd_pseg){lo->B, lo->dB, lo->out * lo->r, 1};
                }
            }
        } else {
            xgd_params_init(&t.p, t.m);
            t.g = xgd_tgraph_new(t.m, &t.p, 2 * bmax, a->max_length);
            /* parameter groups: weight decay on matrices, none on biases and norm weights */
            t.segs = xgd_malloc(sizeof(xgd_pseg) * (size_t)t.p.n_info);
            for (int i = 0; i < t.p.n_info; i++)
                t.segs[t.nseg++] = (xgd_pseg){t.p.data + t.p.info[i].offset, t.p.grad + t.p.info[i].offset, t.p.info[i].numel, t.p.info[i].is_matrix};
        }
    }
    if (rc == 0) {
        xgd_optim_init(&t.opt, a->optimizer, (float)a->weight_decay, t.segs, t.nseg);
        /* reference log-probs of every pair, once, with the initial weights */
        t.ref_tc = xgd_malloc(sizeof(double) * (size_t)(t.n_train + 1));
        t.ref_tr = xgd_malloc(sizeof(double) * (size_t)(t.n_train + 1));
        t.ref_ec = xgd_malloc(sizeof(double) * (size_t)(t.n_eval + 1));
        t.ref_er = xgd_malloc(sizeof(double) * (size_t)(t.n_eval + 1));
        xgd_info("dpo: reference log-probs of %lld pairs", (long long)(t.n_train + t.n_eval));
        if (t.lora) xgd_adapter_attach(t.lora, 0);   /* the reference is the base model */
        rc = logps_of(&t, t.train, NULL, t.n_train, a->eval_batch > a->batch ? a->eval_batch : a->batch, t.ref_tc, t.ref_tr, NULL, NULL, NULL);
        if (rc == 0) rc = logps_of(&t, t.eval, NULL, t.n_eval, a->eval_batch, t.ref_ec, t.ref_er, NULL, NULL, NULL);
        if (t.lora) xgd_adapter_attach(t.lora, 1);
    }
    if (rc == 0) {
        char *lp = xgd_path_join(a->output_dir, "log.jsonl");
        t.log = fopen(lp, "ab");
        if (!t.log) rc = xgd_fail("%s: cannot open the training log", lp);
        free(lp);
    }
    if (rc == 0) rc = train_loop(&t);
    if (t.log) fclose(t.log);
    for (int64_t i = 0; i < t.n_train && t.train; i++) xgd_dpo_tok_free(&t.train[i]);
    for (int64_t i = 0; i < t.n_eval && t.eval; i++) xgd_dpo_tok_free(&t.eval[i]);
    free(t.train); free(t.eval); free(t.ref_tc); free(t.ref_tr); free(t.ref_ec); free(t.ref_er); free(t.segs);
    free(tr.rows); free(ev.rows);
    xgd_dpo_set_free(&all);
    xgd_optim_free(&t.opt);
    xgd_tgraph_free(t.g);
    if (t.p.data) xgd_params_free(&t.p);
    xgd_adapter_free(t.lora);
    xgd_tokenizer_free(t.tok);
    xgd_model_free(t.m);
    return rc;
}
