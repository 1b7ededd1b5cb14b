/* One DPO training step of the engine: 4 pairs, 64-token prompts, 20-64-token answers (synthetic
 * ids), the reference log-probs precomputed (not timed); timed: policy log-probs, the loss,
 * backward, clipping and the optimizer step. Full fine-tuning (f32 trainable copy, RMSprop) and
 * LoRA (r=64 on the family's default targets, base frozen in its stored dtype; as `xgd dpo`, products
 * with a bf16 base follow the bf16 math mode: the process default, fast where the CPU has AMX-BF16,
 * or --bf16_math fast|exact as `xgd --bf16-math`). Prints JSON with
 * the best step time and two peaks of resident memory (the kernel's high-water mark, VmHWM):
 * load_peak_mb while the checkpoint is opened, train_peak_mb from then on (the high-water mark is
 * reset after loading, so the loader's transient memory does not hide the training's own peak);
 * the process's peak is the larger of the two.
 *   bench_dpo_step MODEL [--reps 3] [--lora] [--len 64] [--bf16_math fast|exact] */
#include "base/err.h"
#include "base/log.h"
#include "base/rng.h"
#include "model/lora.h"
#include "ops/process_env.h"
#include "train/dpo.h"
#include "train/optim.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The resident-memory high-water mark in MiB (0 where /proc is unavailable). */
static double peak_mb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kb = atof(line + 6);
    if (f) fclose(f);
    return kb / 1024.0;
}

/* Restart the high-water mark from the current resident size (Linux's clear_refs "5"). */
static void peak_reset(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) { fputs("5", f); fclose(f); }
}

/* n pairs: P-token prompts, answers of 20..P tokens (P = 64 in the setting; --len P
 * takes a smaller warm-up or a longer one), random ids. */
static void make_pairs(xgd_dpo_tok *t, int n, int V, int P) {
    xgd_rng r;
    xgd_rng_init(&r, 5, 0);
    for (int i = 0; i < n; i++) {
        /* answer lengths by a formula that torch_dpo_step.py repeats, so both sides run the same shapes */
        int lc = 20 + (37 * i + 11) % (P - 19), lr = 20 + (53 * i + 29) % (P - 19);
        t[i].prompt_len = P;
        t[i].c_len = P + lc;
        t[i].r_len = P + lr;
        t[i].c_ids = xgd_malloc(sizeof(int32_t) * (size_t)t[i].c_len);
        t[i].c_labels = xgd_malloc(sizeof(int32_t) * (size_t)t[i].c_len);
        t[i].r_ids = xgd_malloc(sizeof(int32_t) * (size_t)t[i].r_len);
        t[i].r_labels = xgd_malloc(sizeof(int32_t) * (size_t)t[i].r_len);
        for (int k = 0; k < t[i].c_len; k++) { t[i].c_ids[k] = (int32_t)xgd_rng_below(&r, (uint64_t)V); t[i].c_labels[k] = k < P ? -100 : t[i].c_ids[k]; }
        for (int k = 0; k < t[i].r_len; k++) { t[i].r_ids[k] = k < P ? t[i].c_ids[k] : (int32_t)xgd_rng_below(&r, (uint64_t)V); t[i].r_labels[k] = k < P ? -100 : t[i].r_ids[k]; }
    }
}

int main(int argc, char **argv) {
    xgd_process_env(argv);
    int reps = 3, lora = 0, len = 64;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--len") && i + 1 < argc) len = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--lora")) lora = 1;
        else if (!strcmp(argv[i], "--bf16_math") && i + 1 < argc) xgd_ops_set_fast_bf16(!strcmp(argv[++i], "fast"));
        else path = argv[i];
    }
    if (!path || len < 20) { fprintf(stderr, "usage: bench_dpo_step MODEL [--reps R] [--lora] [--len P >= 20] [--bf16_math fast|exact]\n"); return 2; }
    xgd_model *m;
    if (xgd_model_load(&m, path) != 0) { fprintf(stderr, "%s\n", xgd_errmsg()); return 1; }
    double load_peak = peak_mb();
    peak_reset();
    xgd_dpo_tok pairs[4];
    make_pairs(pairs, 4, m->hp.vocab, len);
    const xgd_dpo_tok *pp[4] = {&pairs[0], &pairs[1], &pairs[2], &pairs[3]};
    xgd_dpo_cfg cfg = {XGD_DPO_SIGMOID, 0.1f, 0.0f, 0};
    xgd_dpo_batch b;
    xgd_dpo_batch_build(&b, pp, 4, &cfg);
    const char *base_dtype = xgd_dtype_st_name(m->g.embed.dtype);   /* before full fine-tuning converts it */
    xgd_params p = {0};
    xgd_adapter *a = NULL;
    xgd_pseg *segs;
    int nseg = 0;
    if (lora) {
        if (xgd_adapter_create(&a, m, xgd_lora_default_targets(m), 64, 16, 0, 1) != 0) { fprintf(stderr, "%s\n", xgd_errmsg()); return 1; }
        segs = xgd_malloc(sizeof(xgd_pseg) * (size_t)(2 * a->n));
        for (int i = 0; i < a->n; i++) {
            segs[nseg++] = (xgd_pseg){a->items[i].A, a->items[i].dA, (int64_t)a->r * a->items[i].in, 1};
            segs[nseg++] = (xgd_pseg){a->items[i].B, a->items[i].dB, a->items[i].out * a->r, 1};
        }
    } else {
        xgd_params_init(&p, m);
        segs = xgd_malloc(sizeof(xgd_pseg) * (size_t)p.n_info);
        for (int i = 0; i < p.n_info; i++) segs[nseg++] = (xgd_pseg){p.data + p.info[i].offset, p.grad + p.info[i].offset, p.info[i].numel, 1};
    }
    xgd_tgraph *g = xgd_tgraph_new(m, lora ? NULL : &p, 8, b.L);
    xgd_optim o;
    xgd_optim_init(&o, XGD_OPT_RMSPROP, 0.0f, segs, nseg);
    double rc[4], rr[4], lc[4], lr[4], dc[4], dr[4];
    if (a) xgd_adapter_attach(a, 0);
    xgd_dpo_logps(g, &b, &cfg, rc, rr, NULL, NULL);
    if (a) xgd_adapter_attach(a, 1);
    double best = 1e30;
    for (int k = 0; k < reps; k++) {
        double t0 = xgd_now();
        if (a) xgd_adapter_zero_grad(a); else xgd_params_zero_grad(&p);
        xgd_dpo_metrics met;
        xgd_dpo_logps(g, &b, &cfg, lc, lr, NULL, NULL);
        xgd_dpo_objective(&cfg, 4, lc, lr, rc, rr, &met, dc, dr);
        xgd_dpo_backward(g, &b, &cfg, dc, dr, 1.0);
        xgd_clip_grad_norm(segs, nseg, 10.0);
        xgd_optim_step(&o, segs, nseg, 1e-5f);
        double dt = xgd_now() - t0;
        if (dt < best) best = dt;
    }
    printf("{\"impl\": \"xgd\", \"mode\": \"%s\", \"weights\": \"%s\", \"bf16_math\": \"%s\", \"keeps_activations\": %d, "
           "\"step_s\": %.3f, \"tokens\": %d, "
           "\"load_peak_mb\": %.0f, \"train_peak_mb\": %.0f}\n",
           lora ? "lora" : "full", base_dtype, xgd_ops_fast_bf16() ? "fast" : "exact", xgd_tgraph_keeps_activations(g), best, 8 * b.L, load_peak, peak_mb());
    return 0;
}
