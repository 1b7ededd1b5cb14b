/* The DPO objective with TRL 0.8.6's semantics (pipeline-spec §1.3-1.5, §1.7): a batch of B pairs
 * runs as one forward over 2B rows [chosen; rejected] right-padded to the longest, each
 * sequence's log-probability is the sum over its answer tokens (labels != -100, EOS included; the
 * mean for ipo), and the loss compares the policy's margin with the reference's. */
#ifndef XGD_TRAIN_DPO_H
#define XGD_TRAIN_DPO_H
#include "train/dpo_data.h"
#include "train/graph.h"

typedef enum { XGD_DPO_SIGMOID, XGD_DPO_HINGE, XGD_DPO_IPO } xgd_dpo_loss;

typedef struct {
    xgd_dpo_loss loss;
    float beta, label_smoothing;
    int32_t pad_id;              /* TRL pads input ids with the tokenizer's pad (= EOS in the seed) */
} xgd_dpo_cfg;

int xgd_dpo_loss_parse(const char *name, xgd_dpo_loss *out);

/* Batch means, as TRL logs them (rewards/chosen, ..., logits/rejected). */
typedef struct {
    double loss, reward_chosen, reward_rejected, accuracy, margin, logp_chosen, logp_rejected, logits_chosen, logits_rejected;
} xgd_dpo_metrics;

/* A batch of B pairs as 2B rows [chosen; rejected], right-padded to the longest (L): input ids
 * padded with pad_id, targets = the next position's label (-100 on the prompt and padding). */
typedef struct {
    int B, L;
    int32_t *ids, *tgt;   /* (2B, L) */
    uint8_t *mask;        /* (2B, L) */
    int *count;           /* (2B) answer tokens per row */
} xgd_dpo_batch;
void xgd_dpo_batch_build(xgd_dpo_batch *b, const xgd_dpo_tok *const *pairs, int B, const xgd_dpo_cfg *c);
void xgd_dpo_batch_free(xgd_dpo_batch *b);

/* Sequence log-probabilities under the graph's current weights: lp_c, lp_r (B); logits_c/r (may
 * be NULL) get the mean raw logit of each half over [B, L, V], padding included (TRL's metric). */
int xgd_dpo_logps(xgd_tgraph *g, const xgd_dpo_batch *b, const xgd_dpo_cfg *c, double *lp_c, double *lp_r,
                  double *logits_c, double *logits_r);
/* Loss and metrics from policy and reference log-probs; dlp_c/dlp_r (B) get d(mean loss)/d(lp)
 * when non-NULL. */
void xgd_dpo_objective(const xgd_dpo_cfg *c, int B, const double *lp_c, const double *lp_r, const double *ref_c,
                       const double *ref_r, xgd_dpo_metrics *m, double *dlp_c, double *dlp_r);
/* Backward of the last xgd_dpo_logps on b: gradients of scale * sum(dlp * lp) accumulate into the
 * graph's parameters. */
int xgd_dpo_backward(xgd_tgraph *g, const xgd_dpo_batch *b, const xgd_dpo_cfg *c, const double *dlp_c,
                     const double *dlp_r, double scale);

#endif
