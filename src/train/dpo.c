#include "train/dpo.h"
#include "base/err.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

int xgd_dpo_loss_parse(const char *name, xgd_dpo_loss *out) {
    if (!strcmp(name, "sigmoid")) *out = XGD_DPO_SIGMOID;
    else if (!strcmp(name, "hinge")) *out = XGD_DPO_HINGE;
    else if (!strcmp(name, "ipo")) *out = XGD_DPO_IPO;
    else return xgd_fail("unknown DPO loss_type '%s' (known: sigmoid, hinge, ipo)", name);
    return 0;
}

static double log_sigmoid(double x) { return x >= 0 ? -log1p(exp(-x)) : x - log1p(exp(x)); }
static double sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }

void xgd_dpo_batch_build(xgd_dpo_batch *b, const xgd_dpo_tok *const *pairs, int B, const xgd_dpo_cfg *c) {
    int L = 1;
    for (int i = 0; i < B; i++) {
        if (pairs[i]->c_len > L) L = pairs[i]->c_len;
        if (pairs[i]->r_len > L) L = pairs[i]->r_len;
    }
    int R = 2 * B;
    b->B = B;
    b->L = L;
    b->ids = xgd_malloc(sizeof(int32_t) * (size_t)R * L);
    b->tgt = xgd_malloc(sizeof(int32_t) * (size_t)R * L);
    b->mask = xgd_malloc((size_t)R * L);
    b->count = xgd_calloc((size_t)R, sizeof(int));
    for (int r = 0; r < R; r++) {
        const xgd_dpo_tok *p = pairs[r % B];
        const int32_t *sid = r < B ? p->c_ids : p->r_ids, *lab = r < B ? p->c_labels : p->r_labels;
        int len = r < B ? p->c_len : p->r_len;
        for (int t = 0; t < L; t++) {
            size_t k = (size_t)r * L + t;
            b->ids[k] = t < len ? sid[t] : c->pad_id;
            b->mask[k] = t < len;
            int32_t nx = t + 1 < len ? lab[t + 1] : -100;   /* labels[:, 1:] against logits[:, :-1] */
            b->tgt[k] = nx;
            b->count[r] += nx != -100;
        }
    }
}

void xgd_dpo_batch_free(xgd_dpo_batch *b) {
    free(b->ids); free(b->tgt); free(b->mask); free(b->count);
    memset(b, 0, sizeof *b);
}

int xgd_dpo_logps(xgd_tgraph *g, const xgd_dpo_batch *b, const xgd_dpo_cfg *c, double *lp_c, double *lp_r,
                  double *logits_c, double *logits_r) {
    int B = b->B, L = b->L, R = 2 * B;
    /* the logits sums only when a logits metric is asked for (one pass over the head's weight) */
    float *lp = xgd_malloc(sizeof(float) * (size_t)R * L), *ls = xgd_calloc((size_t)R * L, sizeof(float));
    int rc = xgd_tgraph_forward(g, b->ids, b->mask, b->tgt, R, L, lp, logits_c || logits_r ? ls : NULL);
    if (rc == 0) {
        double sl[2] = {0, 0};
        for (int r = 0; r < R; r++) {
            double s = 0, z = 0;
            for (int t = 0; t < L; t++) { s += lp[(size_t)r * L + t]; z += ls[(size_t)r * L + t]; }
            if (c->loss == XGD_DPO_IPO) s /= b->count[r] ? b->count[r] : 1;
            if (r < B) lp_c[r] = s; else lp_r[r - B] = s;
            sl[r >= B] += z;
        }
        double denom = (double)B * L * xgd_tgraph_model(g)->hp.vocab;
        if (logits_c) *logits_c = sl[0] / denom;
        if (logits_r) *logits_r = sl[1] / denom;
    }
    free(lp);
    free(ls);
    return rc;
}

void xgd_dpo_objective(const xgd_dpo_cfg *c, int B, const double *lp_c, const double *lp_r, const double *ref_c,
                       const double *ref_r, xgd_dpo_metrics *m, double *dlp_c, double *dlp_r) {
    double beta = c->beta, eps = c->label_smoothing;
    memset(m, 0, sizeof *m);
    for (int i = 0; i < B; i++) {
        double z = (lp_c[i] - lp_r[i]) - (ref_c[i] - ref_r[i]), loss, dz;
        switch (c->loss) {
        case XGD_DPO_HINGE:
            loss = fmax(0.0, 1.0 - beta * z);
            dz = 1.0 - beta * z > 0 ? -beta : 0.0;
            break;
        case XGD_DPO_IPO: {
            double d = z - 1.0 / (2.0 * beta);
            loss = d * d;
            dz = 2.0 * d;
            break;
        }
        default: /* sigmoid, with cDPO label smoothing */
            loss = -log_sigmoid(beta * z) * (1.0 - eps) - log_sigmoid(-beta * z) * eps;
            dz = -beta * (1.0 - eps) * sigmoid(-beta * z) + beta * eps * sigmoid(beta * z);
        }
        double rc = beta * (lp_c[i] - ref_c[i]), rr = beta * (lp_r[i] - ref_r[i]);
        m->loss += loss / B;
        m->reward_chosen += rc / B;
        m->reward_rejected += rr / B;
        m->accuracy += (rc > rr) / (double)B;
        m->margin += (rc - rr) / B;
        m->logp_chosen += lp_c[i] / B;
        m->logp_rejected += lp_r[i] / B;
        if (dlp_c) dlp_c[i] = dz / B;
        if (dlp_r) dlp_r[i] = -dz / B;
    }
}

int xgd_dpo_backward(xgd_tgraph *g, const xgd_dpo_batch *b, const xgd_dpo_cfg *c, const double *dlp_c,
                     const double *dlp_r, double scale) {
    int B = b->B, L = b->L, R = 2 * B;
    float *d = xgd_malloc(sizeof(float) * (size_t)R * L);
    for (int r = 0; r < R; r++) {
        double w = (r < B ? dlp_c[r] : dlp_r[r - B]) * scale;
        if (c->loss == XGD_DPO_IPO) w /= b->count[r] ? b->count[r] : 1;
        for (int t = 0; t < L; t++) d[(size_t)r * L + t] = b->tgt[(size_t)r * L + t] != -100 ? (float)w : 0.0f;
    }
    int rc = xgd_tgraph_backward(g, d);
    free(d);
    return rc;
}
