/* XLM-RoBERTa sequence classifier (XLMRobertaForSequenceClassification; also RobertaFor...): a
 * post-LN BERT encoder and the RoBERTa classification head.
 *
 *   x = LN(word[ids] + pos[p] + type[0]),  p = pad + cumsum(ids != pad) for real tokens, pad for pads
 *   per layer:  x = LN(x + o(attn(x)));  x = LN(x + down(gelu(up(x))))     (scores scaled 1/sqrt(hd))
 *   head:       logits = out_proj(tanh(dense(x[:, 0])))                     (the <s> token)
 *
 * Probabilities: sigmoid per label for problem_type "multi_label_classification" or a single
 * label (what transformers' text-classification pipeline applies), else softmax. */
#ifndef XGD_MODEL_XLMR_H
#define XGD_MODEL_XLMR_H
#include <jansson.h>
#include <stdint.h>
#include "model/t5_weights.h"

typedef struct {
    xgd_wmat q, k, v, o, up, down;            /* (H,H) x4, (I,H), (H,I) */
    float *q_b, *k_b, *v_b, *o_b, *up_b, *down_b;
    float *ln1_w, *ln1_b, *ln2_w, *ln2_b;     /* attention.output.LayerNorm, output.LayerNorm */
} xgd_xlmr_layer;

typedef struct xgd_xlmr {
    int vocab, hidden, n_layer, n_head, inter, max_pos, n_type, n_labels, pad_id, act;
    float eps;
    int multi_label;                          /* sigmoid instead of softmax */
    char **labels;                            /* (n_labels) id2label names */
    char *path;
    json_t *config;
    xgd_ckpt *ckpt;
    xgd_wbind wb;
    xgd_wmat word, pos, type, cls_dense, cls_out;
    float *emb_ln_w, *emb_ln_b, *cls_dense_b, *cls_out_b;
    xgd_xlmr_layer *layers;
} xgd_xlmr;

int xgd_xlmr_is_config(const json_t *cfg);
/* Load from a folder or a hub id in the local HF cache. Errors name the file and tensor. */
int xgd_xlmr_load(xgd_xlmr **out, const char *path_or_id);
void xgd_xlmr_free(xgd_xlmr *m);
/* B right- (or left-) padded sequences of T tokens; mask (B,T) 1 = real, NULL = all real.
 * Position ids come from ids != pad as transformers computes them (the mask only masks keys).
 * logits (B, n_labels); hidden (n_layer+1, B, T, H) when non-NULL (embeddings, each layer). */
int xgd_xlmr_forward(const xgd_xlmr *m, const int32_t *ids, const uint8_t *mask, int B, int T,
                     float *logits, float *hidden);
/* probs (B, n_labels) from logits: softmax, or sigmoid per label when multi_label. */
void xgd_xlmr_probs(const xgd_xlmr *m, const float *logits, int B, float *probs);
/* The label that means "toxic": id2label name equal to "toxic" (any case), else "toxicity", else
 * label 1 (label 0 for a single-output model). */
int xgd_xlmr_toxic_label(const xgd_xlmr *m);

#endif
