/* A linear toxicity probe as the seed's probe trainer builds it: p = sigmoid(w·h) with no bias,
 * BCELoss (mean over the batch), torch.optim.Adam defaults (betas 0.9/0.999, eps 1e-8, no weight
 * decay), init U(-1/sqrt(H), 1/sqrt(H)). Trained on features computed once (the LM is frozen). */
#ifndef XGD_INTERP_PROBE_H
#define XGD_INTERP_PROBE_H
#include <stdint.h>

typedef struct {
    int epochs, batch_size;
    double lr;
    uint64_t seed;
} xgd_probe_opts;

typedef struct {
    int epoch;                        /* 1-based */
    double train_loss, train_acc;     /* mean of the batch losses; accuracy of sigmoid > 0.5 */
    double val_loss, val_acc;
    int best;                         /* this epoch has the lowest val loss so far (strict <) */
} xgd_probe_epoch;

/* Called after each epoch with the probe's weights at that point; non-zero stops with an error. */
typedef int (*xgd_probe_cb)(void *user, const xgd_probe_epoch *e, const float *w, int H);

/* Train on X (N, H) with labels y (N, 0/1): rows train[0..ntr) for training (shuffled each epoch
 * by a Philox stream of seed), val[0..nva) for validation (in order). w (H) gets the best probe
 * (lowest val loss). */
int xgd_probe_train(const float *X, const uint8_t *y, int H, const int64_t *train, int64_t ntr,
                    const int64_t *val, int64_t nva, const xgd_probe_opts *o, xgd_probe_cb cb, void *user, float *w);

/* The seed's split when no validation file is given (random_split): a permutation of 0..n-1,
 * the first int(0.9 n) for training, the rest for validation. */
void xgd_probe_split(int64_t n, uint64_t seed, int64_t *perm, int64_t *ntr);

/* BCE loss (mean, log clamped at -100 as torch's BCELoss) and accuracy of probe w on rows idx. */
void xgd_probe_eval(const float *X, const uint8_t *y, int H, const int64_t *idx, int64_t n, int batch,
                    const float *w, double *loss, double *acc);

/* Load a probe vector: a .npy of H floats (any shape with H elements; f32/f64), or a torch
 * zip (.pt) holding one float32 tensor (the seed's english-probe.pt: a pickled nn.Linear whose
 * weight is the only storage). *w is malloc'ed. */
int xgd_probe_load(const char *path, float **w, int *H);

#endif
