/* Causal language-model training (next-token cross-entropy, mean over tokens, as transformers'
 * labels=input_ids loss) over a set of token sequences: AdamW, cosine schedule with warm-up,
 * global-norm clipping. The demo pretrains its miniature model with it. */
#ifndef XGD_TRAIN_LM_H
#define XGD_TRAIN_LM_H
#include <stdint.h>
#include "train/params.h"

typedef struct {
    int batch, max_len;
    int64_t steps, warmup;
    double lr, weight_decay, max_grad_norm;
    uint64_t seed;
    int log_every;           /* 0: quiet */
} xgd_lm_opts;

/* Train p's model on seqs[i] (lens[i] tokens each, truncated to max_len). Returns 0 and the mean
 * loss of the last log window in *final_loss. */
int xgd_lm_train(xgd_params *p, const int32_t *const *seqs, const int *lens, int64_t n, const xgd_lm_opts *o, double *final_loss);

#endif
