#include "generate/generate.h"
#include "base/err.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static int is_stop(const xgd_gen_opts *o, int32_t id) {
    for (int i = 0; i < o->n_stop; i++)
        if (o->stop_ids[i] == id) return 1;
    return 0;
}

/* Sample one token for each live row of logits (R, V); rows are independent, so threads split
 * them, each with its own scratch from work (one per thread, allocated once per group). */
static void sample_rows(const float *logits, int R, int V, const int *row_of_seq, const xgd_gen_opts *o,
                        xgd_rng *rngs, const uint8_t *live, int32_t *next, xgd_sampler_work *work, int nwork) {
#pragma omp parallel num_threads(nwork)
    {
        xgd_sampler_work *w = &work[omp_get_thread_num()];
#pragma omp for schedule(dynamic, 1)
        for (int r = 0; r < R; r++)
            if (live[r]) next[r] = xgd_sample(logits + (size_t)row_of_seq[r] * (size_t)V, V, &o->sp, w, &rngs[r]);
    }
}

int xgd_gen_group(const xgd_model *m, int N, int max_tokens) {
    const xgd_hparams *hp = &m->hp;
    double row_bytes = 4.0 * 2 * hp->n_layer * (double)hp->n_kv * hp->head_dim * (64 + (max_tokens > 0 ? max_tokens : 0));
    int rows = 400;
    while (rows > N && rows * row_bytes > 4e9) rows /= 2;
    return N >= rows ? 1 : rows / N;
}

int xgd_generate_group(const xgd_model *m, const int32_t *const *prompts, const int *lens, int G, int64_t index0,
                       const xgd_gen_opts *o, xgd_gen_out *out) {
    int N = o->N, R = G * N, V = m->hp.vocab, Tp = 0;
    for (int g = 0; g < G; g++) {
        if (lens[g] <= 0) return xgd_fail("prompt %lld has no tokens", (long long)(index0 + g));
        if (lens[g] > Tp) Tp = lens[g];
    }
    int Tmax = Tp + o->max_tokens;
    /* prefill: the G prompts, left-padded to the longest */
    int32_t *ids = xgd_calloc((size_t)G * (size_t)Tp, sizeof(int32_t));
    uint8_t *mask = xgd_calloc((size_t)G * (size_t)Tp, 1);
    for (int g = 0; g < G; g++) {
        int pad = Tp - lens[g];
        memcpy(ids + (size_t)g * Tp + pad, prompts[g], sizeof(int32_t) * (size_t)lens[g]);
        memset(mask + (size_t)g * Tp + pad, 1, (size_t)lens[g]);
    }
    float *logits = xgd_malloc(sizeof(float) * (size_t)R * (size_t)V);
    xgd_state *pre = xgd_state_new(m, G, Tp);
    xgd_fwd f = {.ids = ids, .mask = mask, .T = Tp, .logits = logits, .hooks = o->hooks};
    int rc = xgd_forward(pre, &f);
    xgd_state *s = NULL;
    int32_t *next = xgd_malloc(sizeof(int32_t) * (size_t)R);
    int *row = xgd_malloc(sizeof(int) * (size_t)R);
    uint8_t *live = xgd_malloc((size_t)R);
    xgd_rng *rngs = xgd_malloc(sizeof(xgd_rng) * (size_t)R);
    int nwork = omp_get_max_threads() < R ? omp_get_max_threads() : R;
    xgd_sampler_work *work = xgd_malloc(sizeof(xgd_sampler_work) * (size_t)nwork);
    for (int i = 0; i < nwork; i++) xgd_sampler_work_init(&work[i], V);
    if (rc != 0) goto done;
    /* every sample of prompt g starts from the prompt's last-position logits (row g) */
    for (int r = 0; r < R; r++) {
        row[r] = r / N;
        live[r] = 1;
        out->len[r] = 0;
        xgd_rng_init(&rngs[r], o->seed, (uint64_t)(index0 * N + r));
    }
    if (o->max_tokens <= 0) goto done;
    sample_rows(logits, R, V, row, o, rngs, live, next, work, nwork);
    s = xgd_state_new(m, R, Tmax);
    for (int r = 0; r < R; r++) xgd_state_copy_from(s, r, pre, r / N);
    s->past = pre->past;
    for (int r = 0; r < R; r++) row[r] = r;
    for (int step = 0;; step++) {
        int any = 0;
        for (int r = 0; r < R; r++) {
            if (!live[r]) continue;
            if (is_stop(o, next[r])) { live[r] = 0; continue; }
            out->ids[(size_t)r * (size_t)o->max_tokens + (size_t)out->len[r]++] = next[r];
            if (out->len[r] >= o->max_tokens) live[r] = 0;
            else any = 1;
        }
        if (!any) break;
        /* finished rows keep decoding a harmless token (their output is no longer read) */
        for (int r = 0; r < R; r++) if (!live[r]) next[r] = 0;
        xgd_fwd d = {.ids = next, .T = 1, .logits = logits, .hooks = o->hooks};
        if ((rc = xgd_forward(s, &d)) != 0) break;
        sample_rows(logits, R, V, row, o, rngs, live, next, work, nwork);
    }
done:
    xgd_state_free(pre);
    xgd_state_free(s);
    for (int i = 0; i < nwork; i++) xgd_sampler_work_free(&work[i]);
    free(ids); free(mask); free(logits); free(next); free(row); free(live); free(rngs); free(work);
    return rc;
}
