/* Optimisers with PyTorch's update rules (torch.optim.AdamW, torch.optim.RMSprop with its
 * defaults), HF Trainer's parameter groups (weight decay on matrices, none on biases and norm
 * weights), global-norm gradient clipping as torch.nn.utils.clip_grad_norm_, and the HF
 * learning-rate schedules (constant_with_warmup, linear, cosine, constant). */
#ifndef XGD_TRAIN_OPTIM_H
#define XGD_TRAIN_OPTIM_H
#include <stdint.h>

/* A run of parameters with its gradient; decay = whether weight decay applies. */
typedef struct { float *data, *grad; int64_t n; int decay; } xgd_pseg;

typedef enum { XGD_OPT_ADAMW, XGD_OPT_RMSPROP } xgd_opt_kind;

typedef struct {
    xgd_opt_kind kind;
    float beta1, beta2, eps;     /* AdamW: 0.9, 0.999, 1e-8 */
    float alpha;                 /* RMSprop smoothing: 0.99 (eps 1e-8) */
    float weight_decay;
    int64_t step;                /* updates done */
    int64_t n;                   /* total parameters */
    float *m, *v;                /* state, (n) each (m NULL for RMSprop) */
} xgd_optim;

/* Defaults as torch's for the kind; state sized for the segments' total. */
int xgd_optim_init(xgd_optim *o, xgd_opt_kind kind, float weight_decay, const xgd_pseg *segs, int nseg);
/* Parse "adamw" / "adamw_torch" / "adamw_hf" / "rmsprop". */
int xgd_optim_parse(const char *name, xgd_opt_kind *kind);
void xgd_optim_free(xgd_optim *o);
/* One update at learning rate lr. */
void xgd_optim_step(xgd_optim *o, const xgd_pseg *segs, int nseg, float lr);

/* Scale the gradients so their global L2 norm is at most max_norm (<= 0: no clipping); returns
 * the norm before clipping. */
double xgd_clip_grad_norm(const xgd_pseg *segs, int nseg, double max_norm);

typedef enum { XGD_SCHED_CONSTANT, XGD_SCHED_CONSTANT_WARMUP, XGD_SCHED_LINEAR, XGD_SCHED_COSINE } xgd_sched_kind;
int xgd_sched_parse(const char *name, xgd_sched_kind *kind);
/* The learning rate for the update that follows `step` completed updates (HF's LambdaLR, stepped
 * after every optimiser step: the first update uses lr_at(0)). */
double xgd_lr_at(xgd_sched_kind kind, double base, int64_t step, int64_t warmup, int64_t total);

#endif
