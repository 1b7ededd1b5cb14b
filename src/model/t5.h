/* T5 v1.1 / mT5 encoder-decoder (MT5ForConditionalGeneration, T5ForConditionalGeneration), as
 * hf-spec.md §2.e describes it: RMSNorm everywhere, relative position buckets from block 0 of each
 * stack, no 1/sqrt(d_kv) score scaling, gated-gelu (or relu) feed-forward, an untied head without
 * the d_model^-0.5 rescale for mT5/T5 v1.1 (rescaled only when the config says the head is tied).
 *
 * Everything runs in f32 with the weights in their stored dtype (the ops in ops/ops.h). The
 * teacher-forced calls compute whole sequences: the encoder once, the decoder over all positions.
 * Greedy decoding projects the cross-attention keys/values once and keeps a self-attention KV
 * cache, one token per sequence per step. */
#ifndef XGD_MODEL_T5_H
#define XGD_MODEL_T5_H
#include <jansson.h>
#include <stdint.h>
#include "model/t5_weights.h"

typedef struct {
    float *ln_sa, *ln_ca, *ln_ff;             /* (D) RMSNorm weights before each sub-layer */
    xgd_wmat q, k, v, o;                      /* self-attention: q/k/v (inner, D), o (D, inner) */
    xgd_wmat cq, ck, cv, co;                  /* cross-attention (decoder blocks only) */
    xgd_wmat wi0, wi1, wo;                    /* gated: act(wi0·x) * (wi1·x); plain: act(wi0·x) (wi) */
} xgd_t5_block;

typedef struct {
    int vocab, d_model, d_ff, d_kv, n_head, inner;   /* inner = n_head * d_kv */
    int n_enc, n_dec, buckets, max_dist;
    float eps;
    int gated, act;           /* feed_forward_proj: "gated-gelu" -> gated, gelu_new; "relu" -> plain relu */
    int scale_out;            /* multiply the decoder output by d_model^-0.5 before the head */
    int pad_id, eos_id, start_id;
} xgd_t5_hparams;

typedef struct xgd_t5 {
    xgd_t5_hparams hp;
    char *path;
    json_t *config;
    xgd_ckpt *ckpt;
    xgd_wbind wb;
    xgd_wmat shared, lm_head;                 /* (V, D); lm_head is shared when the file has none */
    float *enc_rel, *dec_rel;                 /* (buckets, nH) relative attention bias tables */
    float *enc_final, *dec_final;             /* (D) */
    xgd_t5_block *enc, *dec;
} xgd_t5;

/* Whether a config.json object describes a T5-family model (model_type "t5" or "mt5"). */
int xgd_t5_is_config(const json_t *cfg);
/* Load from a folder or a hub id in the local HF cache. Errors name the file and tensor. */
int xgd_t5_load(xgd_t5 **out, const char *path_or_id);
void xgd_t5_free(xgd_t5 *m);

/* Encoder over B sequences of T tokens. mask (B,T) 1 = real, NULL = all real. enc (B,T,D) is
 * the final-normed output. hidden, when non-NULL, receives (n_enc+1, B, T, D): the embeddings,
 * each block's output, and the final norm in place of the last block's output (transformers'
 * encoder_hidden_states). */
int xgd_t5_encode(const xgd_t5 *m, const int32_t *ids, const uint8_t *mask, int B, int T, float *enc, float *hidden);
/* Decoder, teacher-forced: dec_ids (B,Td) against the encoder output enc (B,Te,D) with its mask
 * (NULL = all real). logits (B,Td,V); hidden (n_dec+1, B, Td, D) when non-NULL. Causal
 * self-attention, no decoder padding mask (transformers' default with labels). */
int xgd_t5_decode(const xgd_t5 *m, const float *enc, const uint8_t *enc_mask, int B, int Te,
                  const int32_t *dec_ids, int Td, float *logits, float *hidden);
/* shift_right: dec (B,T) = [start, labels[:, :-1]] with -100 replaced by pad. */
void xgd_t5_shift_right(const xgd_t5 *m, const int32_t *labels, int B, int T, int32_t *dec);
/* model(input_ids, attention_mask, labels).loss: mean cross-entropy of logits[b,t] against
 * labels[b,t] over labels != -100 (no further shift). labels (B,Tl). logits (B,Tl,V) may be NULL.
 * NaN when every label is ignored (as torch). */
int xgd_t5_loss(const xgd_t5 *m, const int32_t *ids, const uint8_t *mask, int B, int Te,
                const int32_t *labels, int Tl, double *loss, float *logits);
/* The same loss per sequence: loss (B), each the mean over that row's labels != -100 (NaN when
 * none). A right-padded batch (encoder mask 0 and labels -100 on pads) gives each sequence's own
 * loss: relative position buckets do not see the padding, and causal decoder positions never
 * attend to the later pad positions. This is how many sequences share one pass over the weights. */
int xgd_t5_loss_rows(const xgd_t5 *m, const int32_t *ids, const uint8_t *mask, int B, int Te,
                     const int32_t *labels, int Tl, double *loss);
/* Greedy decoding as generate(do_sample=False, max_new_tokens=n): out (B, 1+n) starts with the
 * decoder start id; a finished sequence (eos emitted) continues with pad; stops early when all
 * finished (the remaining columns are pad). step_logits (n, B, V) may be NULL. Returns the number
 * of generated columns (<= n), or -1. */
int xgd_t5_greedy(const xgd_t5 *m, const int32_t *ids, const uint8_t *mask, int B, int Te, int n,
                  int32_t *out, float *step_logits);

#endif
