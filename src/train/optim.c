#include "train/optim.h"
#include "base/err.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

int xgd_optim_parse(const char *name, xgd_opt_kind *kind) {
    if (!strcmp(name, "rmsprop")) *kind = XGD_OPT_RMSPROP;
    else if (!strcmp(name, "adamw") || !strcmp(name, "adamw_torch") || !strcmp(name, "adamw_hf")) *kind = XGD_OPT_ADAMW;
    else return xgd_fail("unknown optimizer '%s' (known: rmsprop, adamw)", name);
    return 0;
}

int xgd_optim_init(xgd_optim *o, xgd_opt_kind kind, float weight_decay, const xgd_pseg *segs, int nseg) {
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-8f;
    o->alpha = 0.99f;
    o->weight_decay = weight_decay;
    for (int i = 0; i < nseg; i++) o->n += segs[i].n;
    /* RMSprop (torch's defaults: no momentum) keeps one state value per parameter, AdamW two: at
     * mGPT-1.3B each is 5.7 GB */
    if (kind == XGD_OPT_ADAMW) o->m = xgd_calloc((size_t)(o->n ? o->n : 1), sizeof(float));
    o->v = xgd_calloc((size_t)(o->n ? o->n : 1), sizeof(float));
    return 0;
}

void xgd_optim_free(xgd_optim *o) {
    free(o->m);
    free(o->v);
    o->m = o->v = NULL;
}

/* torch.optim.AdamW (decoupled decay): p *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g²;
 * p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps). */
static void adamw(xgd_optim *o, float *p, const float *g, float *m, float *v, int64_t n, float lr, float wd) {
    double bc1 = 1.0 - pow(o->beta1, (double)o->step), bc2 = 1.0 - pow(o->beta2, (double)o->step);
    float step_size = (float)(lr / bc1), bc2_sqrt = (float)sqrt(bc2), b1 = o->beta1, b2 = o->beta2, eps = o->eps;
    float keep = 1.0f - lr * wd;
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; i++) {
        p[i] *= keep;
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        p[i] -= step_size * m[i] / (sqrtf(v[i]) / bc2_sqrt + eps);
    }
}

/* torch.optim.RMSprop (defaults: momentum 0, centered False): g += wd p; v = a v + (1-a) g²;
 * p -= lr * g / (sqrt(v) + eps). */
static void rmsprop(xgd_optim *o, float *p, const float *g, float *v, int64_t n, float lr, float wd) {
    float a = o->alpha, eps = o->eps;
#pragma omp parallel for if (n > 65536)
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i] + wd * p[i];
        v[i] = a * v[i] + (1.0f - a) * gi * gi;
        p[i] -= lr * gi / (sqrtf(v[i]) + eps);
    }
}

void xgd_optim_step(xgd_optim *o, const xgd_pseg *segs, int nseg, float lr) {
    o->step++;
    int64_t off = 0;
    for (int i = 0; i < nseg; i++) {
        float wd = segs[i].decay ? o->weight_decay : 0.0f;
        if (o->kind == XGD_OPT_ADAMW) adamw(o, segs[i].data, segs[i].grad, o->m + off, o->v + off, segs[i].n, lr, wd);
        else rmsprop(o, segs[i].data, segs[i].grad, o->v + off, segs[i].n, lr, wd);
        off += segs[i].n;
    }
}

double xgd_clip_grad_norm(const xgd_pseg *segs, int nseg, double max_norm) {
    double ss = 0;
    for (int i = 0; i < nseg; i++) {
        const float *g = segs[i].grad;
        double s = 0;
#pragma omp parallel for reduction(+ : s) if (segs[i].n > 65536)
        for (int64_t k = 0; k < segs[i].n; k++) s += (double)g[k] * g[k];
        ss += s;
    }
    double norm = sqrt(ss);
    if (max_norm > 0) {
        double coef = max_norm / (norm + 1e-6);
        if (coef < 1.0)
            for (int i = 0; i < nseg; i++)
                for (int64_t k = 0; k < segs[i].n; k++) segs[i].grad[k] = (float)(segs[i].grad[k] * coef);
    }
    return norm;
}

int xgd_sched_parse(const char *name, xgd_sched_kind *kind) {
    if (!strcmp(name, "constant")) *kind = XGD_SCHED_CONSTANT;
    else if (!strcmp(name, "constant_with_warmup")) *kind = XGD_SCHED_CONSTANT_WARMUP;
    else if (!strcmp(name, "linear")) *kind = XGD_SCHED_LINEAR;
    else if (!strcmp(name, "cosine")) *kind = XGD_SCHED_COSINE;
    else return xgd_fail("unknown lr_scheduler_type '%s' (known: constant, constant_with_warmup, linear, cosine)", name);
    return 0;
}

/* HF's lambdas (transformers optimization.py), written from their definitions. */
double xgd_lr_at(xgd_sched_kind kind, double base, int64_t step, int64_t warmup, int64_t total) {
    double s = (double)step, w = (double)warmup;
    if (kind == XGD_SCHED_CONSTANT) return base;
    if (step < warmup) return base * s / (w > 1 ? w : 1);
    if (kind == XGD_SCHED_CONSTANT_WARMUP) return base;
    double rest = (double)(total - warmup) > 1 ? (double)(total - warmup) : 1;
    if (kind == XGD_SCHED_LINEAR) return base * fmax(0.0, (double)(total - step) / rest);
    double progress = (s - w) / rest;   /* cosine with 0.5 cycles */
    return base * fmax(0.0, 0.5 * (1.0 + cos(M_PI * 0.5 * 2.0 * progress)));
}
