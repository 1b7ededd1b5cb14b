/* The training graph of a decoder: a forward pass that returns each token's log-probability of
 * its target, and a backward pass that accumulates parameter gradients. One mechanism for every
 * family: it runs the same block code as inference (model/block.h) and the ops' backward
 * functions, in reverse order of the family's description.
 *
 * Memory against time: the forward pass keeps each block's input; when every block's
 * intermediates for the graph's largest batch fit an activation budget (XGD_TRAIN_ACT_MB, default
 * 3072 MiB; 0 = never), it keeps those too and backward uses them, else backward recomputes one
 * block at a time from its input (gradient checkpointing per block). The head runs only on the
 * rows that have a target (a DPO batch's prompt and padding rows have none); their logits are kept
 * for backward when the blocks' are and the rest of the budget holds them twice (logits and their
 * gradient), else
 * computed in chunks of rows in the forward pass and again in backward. Both ways give the same
 * gradients (tests/train/test_grad.py runs both; XGD_TRAIN_HEAD_ROWS sets the chunk's rows there). */
#ifndef XGD_TRAIN_GRAPH_H
#define XGD_TRAIN_GRAPH_H
#include "train/params.h"

typedef struct xgd_tgraph xgd_tgraph;

/* A graph for batches of up to B sequences of up to T tokens of model m. p: the trainable
 * parameters (full fine-tuning) whose gradients accumulate in p->grad, or NULL when the base
 * weights are frozen (LoRA: only the attached adapters' dA/dB receive gradients). */
xgd_tgraph *xgd_tgraph_new(xgd_model *m, xgd_params *p, int B, int T);
void xgd_tgraph_free(xgd_tgraph *g);

/* 1 when the graph keeps every block's intermediates (no recomputation in backward). */
int xgd_tgraph_keeps_activations(const xgd_tgraph *g);

/* The model the graph trains. */
const xgd_model *xgd_tgraph_model(const xgd_tgraph *g);

/* B <= the graph's B rows of T tokens.
 * ids, targets (B, T); mask (B, T) 1 = real token (left or right padding), NULL = all real.
 * logp (B, T) gets log p(target | prefix) at each position (0 where target < 0, e.g. -100).
 * logit_sum (B, T), if non-NULL, gets the sum of the logits row at each position (TRL's
 * logits/chosen metric needs their mean), as the final-norm output times the column sums of the
 * head, so the rows without a target need no logits. */
int xgd_tgraph_forward(xgd_tgraph *g, const int32_t *ids, const uint8_t *mask, const int32_t *targets, int B, int T,
                       float *logp, float *logit_sum);
/* Accumulate into p->grad the gradient of sum(dlogp * logp) for the last forward pass. */
int xgd_tgraph_backward(xgd_tgraph *g, const float *dlogp);

#endif
