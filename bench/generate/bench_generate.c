/* Generation throughput of the engine: N samples of M new tokens for P prompts, (a) as xgd
 * generate runs them (one prefill per prompt, the samples of a group of prompts decoded as one
 * batch) and (b) one sample at a time (prefill + decode per sample, the naive way). Prompts are
 * token ids read from a file (one line of space-separated ids per prompt). Prints one JSON line.
 * The one-by-one side times a subset (--ob_prompts prompts x --ob_samples samples each; tokens/s
 * is a rate, and the naive way of a ~1B model takes minutes per prompt).
 *   bench_generate MODEL PROMPTS.txt [--N 25] [--max_tokens 20] [--prompts 50] [--group G]
 *                  [--ob_prompts 4] [--ob_samples N] [--batched_only 1] */
#include "base/err.h"
#include "base/log.h"
#include "generate/generate.h"
#include "ops/process_env.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    xgd_process_env(argv);
    if (argc < 3) { fprintf(stderr, "usage: bench_generate MODEL PROMPTS.txt [--N 25] [--max_tokens 20] [--prompts 50]\n"); return 2; }
    int N = 25, M = 20, P = 50, group = 0, batched_only = 0, ob_prompts = 4, ob_samples = -1;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--N")) N = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--max_tokens")) M = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--prompts")) P = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--group")) group = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batched_only")) batched_only = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--ob_prompts")) ob_prompts = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--ob_samples")) ob_samples = atoi(argv[i + 1]);
    }
    xgd_model *m;
    if (xgd_model_load(&m, argv[1]) != 0) { fprintf(stderr, "bench_generate: %s\n", xgd_errmsg()); return 1; }
    FILE *f = fopen(argv[2], "r");
    if (!f) { fprintf(stderr, "bench_generate: cannot open %s\n", argv[2]); return 1; }
    int32_t **prompts = xgd_calloc((size_t)P, sizeof(int32_t *));
    int *lens = xgd_calloc((size_t)P, sizeof(int)), n = 0;
    char line[65536];
    while (n < P && fgets(line, sizeof line, f)) {
        prompts[n] = xgd_malloc(sizeof(int32_t) * 1024);
        for (char *p = line, *e; lens[n] < 1024; p = e) {
            long v = strtol(p, &e, 10);
            if (e == p) break;
            prompts[n][lens[n]++] = (int32_t)v;
        }
        if (lens[n] > 0) n++;
    }
    fclose(f);
    P = n;
    xgd_gen_opts o = {.N = N, .max_tokens = M, .sp = {0.9f, 0.8f, -1, 0}, .seed = 1, .group = group > 0 ? group : xgd_gen_group(m, N, M)};
    int32_t *out_ids = xgd_malloc(sizeof(int32_t) * (size_t)o.group * N * M);
    int *out_len = xgd_malloc(sizeof(int) * (size_t)o.group * N);
    xgd_gen_out out = {out_ids, out_len};
    /* (a) batched, as xgd generate */
    double t0 = xgd_now();
    long tokens_a = 0;
    for (int p0 = 0; p0 < P; p0 += o.group) {
        int g = P - p0 < o.group ? P - p0 : o.group;
        if (xgd_generate_group(m, (const int32_t *const *)prompts + p0, lens + p0, g, p0, &o, &out) != 0) { fprintf(stderr, "%s\n", xgd_errmsg()); return 1; }
        for (int r = 0; r < g * N; r++) tokens_a += out_len[r];
    }
    double ta = xgd_now() - t0;
    /* (b) one sample at a time: its own prefill and single-sequence decode */
    xgd_gen_opts one = o;
    one.N = 1;
    one.group = 1;
    long tokens_b = 0;
    int Pb = batched_only ? 0 : P < ob_prompts ? P : ob_prompts;   /* a subset: the naive way is slow */
    int Kb = ob_samples > 0 && ob_samples < N ? ob_samples : N;
    t0 = xgd_now();
    for (int p = 0; p < Pb; p++)
        for (int k = 0; k < Kb; k++) {
            if (xgd_generate_group(m, (const int32_t *const *)prompts + p, lens + p, 1, (int64_t)p * N + k, &one, &out) != 0) return 1;
            tokens_b += out_len[0];
        }
    double tb = xgd_now() - t0, ob = Pb ? tokens_b / tb : 0;
    printf("{\"model\": \"%s\", \"prompts\": %d, \"N\": %d, \"max_tokens\": %d, \"group\": %d, \"batched_tok_s\": %.1f, "
           "\"batched_s\": %.1f, \"one_by_one_tok_s\": %.2f, \"one_by_one_prompts\": %d, \"one_by_one_samples\": %d, "
           "\"one_by_one_s\": %.1f, \"ratio\": %.2f}\n", argv[1], P, N, M, o.group, tokens_a / ta, ta, ob, Pb, Kb, tb,
           ob > 0 ? (tokens_a / ta) / ob : 0.0);
    return 0;
}
