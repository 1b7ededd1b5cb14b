/* bench_attention: xgd_attention forward/backward at GPT-2-like shapes (prefill, training) and
 * single-query decoding against a KV cache, in GFLOP/s (4·Tq·Tk·hd per head for the forward
 * pass, halved when causal; 8·... for the backward) and the share of the f32 2-core peak (230).
 * Usage: bench_attention [reps] */
#include "ops/ops.h"
#include "ops/process_env.h"
#include "base/log.h"
#include "base/rng.h"
#include <stdio.h>
#include <stdlib.h>

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static float *randn(int64_t n, xgd_rng *r) {
    float *p = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) p[i] = xgd_rng_normal(r);
    return p;
}

int main(int argc, char **argv) {
    xgd_process_env(argv);   /* OpenBLAS core type and GOMP_SPINCOUNT before the libraries start */
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    if (reps < 1 || reps > 64) reps = 5;
    xgd_rng rng;
    xgd_rng_init(&rng, 3, 0);
    printf("threads %d\n%-28s %5s %5s %5s %4s %10s %9s %6s\n", xgd_num_threads(), "case", "B", "Tq", "Tk", "hd", "ms", "GFLOP/s",
           "%peak");
    const struct { const char *name; int B, Tq, Tk, nH, nKV, hd, causal, bwd; } cs[] = {
        {"prefill causal fwd", 1, 512, 512, 12, 12, 64, 1, 0}, {"train causal fwd", 4, 128, 128, 12, 12, 64, 1, 0},
        {"train causal bwd", 4, 128, 128, 12, 12, 64, 1, 1},   {"prefill causal bwd", 1, 512, 512, 12, 12, 64, 1, 1},
        {"decode 1 query, 1024 keys", 1, 1, 1024, 32, 8, 128, 1, 0}, {"decode 25 seqs, 256 keys", 25, 1, 256, 12, 12, 64, 1, 0}};
    for (size_t c = 0; c < sizeof cs / sizeof cs[0]; c++) {
        xgd_attn a = {.B = cs[c].B, .Tq = cs[c].Tq, .Tk = cs[c].Tk, .nH = cs[c].nH, .nKV = cs[c].nKV, .hd = cs[c].hd,
                      .scale = 0.125f, .causal = cs[c].causal, .q_offset = cs[c].Tk - cs[c].Tq};
        const int64_t nq = (int64_t)a.B * a.Tq * a.nH * a.hd, nkv = (int64_t)a.B * a.Tk * a.nKV * a.hd;
        float *q = randn(nq, &rng), *k = randn(nkv, &rng), *v = randn(nkv, &rng), *out = malloc((size_t)nq * 4);
        float *probs = malloc((size_t)a.B * a.nH * a.Tq * a.Tk * 4), *dq = calloc((size_t)nq, 4);
        float *dk = calloc((size_t)nkv, 4), *dv = calloc((size_t)nkv, 4);
        xgd_attention(out, probs, q, k, v, &a);
        double t[64];
        for (int r = 0; r < reps; r++) {
            double t0 = xgd_now();
            if (cs[c].bwd) xgd_attention_backward(dq, dk, dv, NULL, out, probs, q, k, v, &a);
            else xgd_attention(out, cs[c].Tq > 1 ? probs : NULL, q, k, v, &a);
            t[r] = xgd_now() - t0;
        }
        qsort(t, (size_t)reps, sizeof t[0], cmp_d);
        double fl = (cs[c].bwd ? 8.0 : 4.0) * a.B * a.nH * (double)a.Tq * a.Tk * a.hd * (a.causal && a.Tq > 1 ? 0.5 : 1.0);
        double gf = fl / t[reps / 2] * 1e-9;
        printf("%-28s %5d %5d %5d %4d %10.3f %9.1f %5.0f%%\n", cs[c].name, a.B, a.Tq, a.Tk, a.hd, t[reps / 2] * 1e3, gf, gf / 2.30);
        free(q); free(k); free(v); free(out); free(probs); free(dq); free(dk); free(dv);
    }
    return 0;
}
