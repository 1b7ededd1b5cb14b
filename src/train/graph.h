/* The training graph of a decoder: a forward pass that returns each token's log-probability of
 * its target and keeps only each block's input, and a backward pass that recomputes one block at
 * a time from that input (gradient checkpointing per block) and accumulates parameter gradients.
 * One mechanism for every family: it runs the same block code as inference (model/block.h) and
 * the ops' backward functions, in reverse order of the family's description.
 *
 * Logits are never held for the whole batch: the head runs in chunks of rows, in the forward pass
 * to get log-probs, and again in backward to get their gradient. */
#ifndef XGD_TRAIN_GRAPH_H
#define XGD_TRAIN_GRAPH_H
#include "train/params.h"

typedef struct xgd_tgraph xgd_tgraph;

/* A graph for batches of up to B sequences of up to T tokens of model m. p: the trainable
 * parameters (full fine-tuning) whose gradients accumulate in p->grad, or NULL when the base
 * weights are frozen (LoRA: only the attached adapters' dA/dB receive gradients). */
xgd_tgraph *xgd_tgraph_new(xgd_model *m, xgd_params *p, int B, int T);
void xgd_tgraph_free(xgd_tgraph *g);

/* The model the graph trains. */
const xgd_model *xgd_tgraph_model(const xgd_tgraph *g);

/* B <= the graph's B rows of T tokens.
 * ids, targets (B, T); mask (B, T) 1 = real token (left or right padding), NULL = all real.
 * logp (B, T) gets log p(target | prefix) at each position (0 where target < 0, e.g. -100).
 * logit_sum (B, T), if non-NULL, gets the sum of the logits row at each position (TRL's
 * logits/chosen metric needs their mean). */
int xgd_tgraph_forward(xgd_tgraph *g, const int32_t *ids, const uint8_t *mask, const int32_t *targets, int B, int T,
                       float *logp, float *logit_sum);
/* Accumulate into p->grad the gradient of sum(dlogp * logp) for the last forward pass. */
int xgd_tgraph_backward(xgd_tgraph *g, const float *dlogp);

#endif
