#include "train/lm.h"
#include "base/err.h"
#include "base/log.h"
#include "base/rng.h"
#include "train/graph.h"
#include "train/optim.h"
#include <stdlib.h>
#include <string.h>

int xgd_lm_train(xgd_params *p, const int32_t *const *seqs, const int *lens, int64_t n, const xgd_lm_opts *o, double *final_loss) {
    if (n <= 0) return xgd_fail("language-model training needs at least one sequence");
    int B = o->batch, T = o->max_len;
    xgd_tgraph *g = xgd_tgraph_new(p->m, p, B, T);
    xgd_pseg *segs = xgd_malloc(sizeof(xgd_pseg) * (size_t)p->n_info);
    for (int i = 0; i < p->n_info; i++)
        segs[i] = (xgd_pseg){p->data + p->info[i].offset, p->grad + p->info[i].offset, p->info[i].numel, p->info[i].is_matrix};
    xgd_optim opt;
    xgd_optim_init(&opt, XGD_OPT_ADAMW, (float)o->weight_decay, segs, p->n_info);
    int32_t *ids = xgd_malloc(sizeof(int32_t) * (size_t)B * T), *tgt = xgd_malloc(sizeof(int32_t) * (size_t)B * T);
    uint8_t *mask = xgd_malloc((size_t)B * T);
    float *lp = xgd_malloc(sizeof(float) * (size_t)B * T), *d = xgd_malloc(sizeof(float) * (size_t)B * T);
    xgd_rng r;
    xgd_rng_init(&r, o->seed, 0x1A0);
    double win = 0;
    int64_t win_n = 0;
    int rc = 0;
    for (int64_t step = 0; step < o->steps && rc == 0; step++) {
        /* a batch of random sequences, right-padded */
        int L = 2, count = 0;
        int64_t pick[256];
        for (int b = 0; b < B; b++) {
            pick[b] = (int64_t)xgd_rng_below(&r, (uint64_t)n);
            int len = lens[pick[b]] < T ? lens[pick[b]] : T;
            if (len > L) L = len;
        }
        for (int b = 0; b < B; b++) {
            int len = lens[pick[b]] < T ? lens[pick[b]] : T;
            for (int t = 0; t < L; t++) {
                int k = b * L + t;
                ids[k] = t < len ? seqs[pick[b]][t] : 0;
                mask[k] = t < len;
                tgt[k] = t + 1 < len ? seqs[pick[b]][t + 1] : -100;
                count += tgt[k] >= 0;
            }
        }
        if ((rc = xgd_tgraph_forward(g, ids, mask, tgt, B, L, lp, NULL)) != 0) break;
        double loss = 0;
        for (int k = 0; k < B * L; k++) {
            loss -= lp[k];
            d[k] = tgt[k] >= 0 ? -1.0f / (float)(count ? count : 1) : 0.0f;  /* d(mean CE)/d(logp) */
        }
        loss /= count ? count : 1;
        xgd_params_zero_grad(p);
        if ((rc = xgd_tgraph_backward(g, d)) != 0) break;
        xgd_clip_grad_norm(segs, p->n_info, o->max_grad_norm);
        xgd_optim_step(&opt, segs, p->n_info, (float)xgd_lr_at(XGD_SCHED_COSINE, o->lr, step, o->warmup, o->steps));
        win += loss;
        win_n++;
        if (o->log_every > 0 && (step + 1) % o->log_every == 0) {
            xgd_info("pretrain: step %lld/%lld, loss %.4f", (long long)(step + 1), (long long)o->steps, win / (double)win_n);
            if (final_loss) *final_loss = win / (double)win_n;
            win = 0;
            win_n = 0;
        }
    }
    if (final_loss && win_n) *final_loss = win / (double)win_n;
    free(ids); free(tgt); free(mask); free(lp); free(d); free(segs);
    xgd_optim_free(&opt);
    xgd_tgraph_free(g);
    return rc;
}
