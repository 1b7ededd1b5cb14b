/* Generating for a whole prompt file: encode, sample in groups, detokenise, append resumably. */
#include "generate/run.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/log.h"
#include "generate/detok.h"
#include "generate/output.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Stop ids: the tokenizer's EOS and the config's eos_token_id(s), as vLLM (0.4.3+) uses them. */
int xgd_gen_stop_ids(const xgd_model *m, const xgd_tokenizer *t, int32_t *ids) {
    int n = 0;
    int32_t e = xgd_eos_id(t);
    if (e >= 0) ids[n++] = e;
    for (int i = 0; i < m->hp.n_eos && n < 16; i++) {
        int dup = 0;
        for (int j = 0; j < n; j++) dup |= ids[j] == m->hp.eos_ids[i];
        if (!dup) ids[n++] = m->hp.eos_ids[i];
    }
    return n;
}

int xgd_generate_file(const xgd_gen_file_opts *c, const char *pf, const char *out_path, xgd_progress *bar, xgd_gen_file_stats *stats) {
    xgd_prompts P;
    if (xgd_prompts_read(pf, c->skip_bad, &P) != 0) return -1;
    if (c->limit > 0 && P.n > c->limit) P.n = c->limit;  /* the rest stay allocated until free */
    int64_t all = P.n;
    char *dir = xgd_strdup(out_path);
    *strrchr(dir, '/') = 0;
    xgd_gen_file gf;
    int rc = xgd_mkdir_p(dir);
    free(dir);
    if (rc == 0) rc = xgd_gen_file_open(&gf, out_path, c->o.N, &P, c->overwrite);
    if (rc != 0) { P.n = all; xgd_prompts_free(&P); return -1; }
    int64_t start = gf.done;
    if (start > 0) xgd_info("%s: resuming after %lld complete prompts", out_path, (long long)start);
    xgd_gen_opts o = c->o;
    if (o.group <= 0) o.group = xgd_gen_group(c->m, o.N, o.max_tokens);
    int N = o.N, M = o.max_tokens, G = o.group;
    xgd_encoding *enc = xgd_calloc((size_t)G, sizeof(xgd_encoding));
    const int32_t **ids = xgd_calloc((size_t)G, sizeof(int32_t *));
    int *lens = xgd_calloc((size_t)G, sizeof(int));
    xgd_gen_out go = {xgd_malloc(sizeof(int32_t) * (size_t)G * (size_t)N * (size_t)(M > 0 ? M : 1)),
                      xgd_malloc(sizeof(int) * (size_t)G * (size_t)N)};
    char **texts = xgd_calloc((size_t)N, sizeof(char *));
    if (bar) bar->total += P.n - start;
    for (int64_t p0 = start; rc == 0 && p0 < P.n; p0 += G) {
        int g = (int)(P.n - p0 < G ? P.n - p0 : G);
        for (int i = 0; i < g && rc == 0; i++) {
            const char *txt = P.text[p0 + i];
            rc = xgd_encode(c->tok, txt, strlen(txt), 1, &enc[i]);
            if (rc != 0) xgd_err_context("%s:%ld", pf, P.line[p0 + i]);
            ids[i] = enc[i].ids;
            lens[i] = (int)enc[i].n;
        }
        if (rc == 0 && (rc = xgd_generate_group(c->m, ids, lens, g, p0, &o, &go)) != 0)
            xgd_err_context("%s: prompts %lld-%lld", pf, (long long)p0, (long long)(p0 + g - 1));
        for (int i = 0; i < g && rc == 0; i++) {
            for (int k = 0; k < N && rc == 0; k++) {
                int r = i * N + k;
                texts[k] = xgd_detok_vllm(c->tok, ids[i], lens[i], go.ids + (size_t)r * (size_t)M, go.len[r]);
                if (!texts[k]) rc = -1;
            }
            if (rc == 0) rc = xgd_gen_file_append(&gf, P.text[p0 + i], texts);
            for (int k = 0; k < N; k++) { free(texts[k]); texts[k] = NULL; }
            if (bar) xgd_progress_add(bar, 1);
        }
    }
    int crc = xgd_gen_file_close(&gf);
    if (rc == 0) rc = crc;
    if (stats) { stats->prompts = P.n; stats->resumed_after = start; stats->skipped_lines = P.skipped; }
    for (int i = 0; i < G; i++) xgd_encoding_free(&enc[i]);
    free(enc); free(ids); free(lens); free(go.ids); free(go.len); free(texts);
    P.n = all;
    xgd_prompts_free(&P);
    return rc;
}

