/* LoRA (PEFT semantics, hf-spec §3): an adapter wraps a linear layer, y = x·Wᵀ + b + s·(x·Aᵀ)·Bᵀ
 * with A (r, in), B (out, r), s = alpha/r (alpha/sqrt(r) with rslora), or an embedding,
 * y = E[id] + s·A[:, id]ᵀ·Bᵀ with A (r, V), B (H, r). Adapters are f32; the base weights keep
 * their dtype and are never copied. Dropout is not applied: TRL disables every dropout (the
 * seed's lora_dropout 0.05 is 0 in effect).
 *
 * An adapter set is attached to a model by pointers in its layer/global structs, so the shared
 * block code (and the training graph) runs with or without it: detaching gives the base model,
 * which is DPO's reference for LoRA training. */
#ifndef XGD_MODEL_LORA_H
#define XGD_MODEL_LORA_H
#include "model/model.h"

typedef struct xgd_lora {
    float *A, *B;          /* (r, in) and (out, r); embedding: (r, V) and (H, r) */
    float *dA, *dB;        /* gradients, same shapes */
    int r;
    int64_t in, out;       /* linear: in/out features; embedding: in = V, out = H */
    float scale;
    int embedding;
    char *module;          /* module path, e.g. "model.layers.0.self_attn.q_proj" */
    struct xgd_lora **slot;/* where it attaches in the model */
    const xgd_wmat *base;  /* the wrapped weight (for merging) */
    struct xgd_lora_saved *saved; /* the last forward's s·x·Aᵀ, reused once by the backward on the
                                   * same x and rows (training); NULL: never saved */
} xgd_lora;

/* y (M, out) = x·Wᵀ + b [+ LoRA]. */
void xgd_lin(float *y, const float *x, int64_t M, const xgd_wmat *W, const float *b, const xgd_lora *lo);
/* Backward of xgd_lin: dx += ..., dW/db (NULL when frozen) += ..., and the adapter's dA/dB. */
void xgd_lin_backward(float *dx, float *dW, float *db, const float *dy, const float *x, int64_t M, const xgd_wmat *W, xgd_lora *lo);
/* Embedding LoRA: y (N, H) += s·A[:, ids]ᵀ·Bᵀ, and its backward into dA/dB. */
void xgd_lora_embed(float *y, const int32_t *ids, int64_t N, const xgd_lora *lo);
void xgd_lora_embed_backward(const float *dy, const int32_t *ids, int64_t N, xgd_lora *lo);

typedef struct {
    xgd_lora *items;
    int n;
    int r;
    float alpha;
    int rslora;
    char **targets;
    int ntargets;
    float *mem;            /* every A, B, dA, dB in one allocation */
    int64_t nparams;       /* A and B values */
    int attached;
} xgd_adapter;

/* The paper's targets per family (Llama/Aya: q,k,v,o,gate,up,down,embed_tokens,lm_head; BLOOM:
 * word_embeddings,query_key_value,dense,dense_h_to_4h,dense_4h_to_h; GPT-2: c_attn,c_proj,c_fc). */
const char *xgd_lora_default_targets(const xgd_model *m);
/* New adapters on every module whose path equals a target or ends with "." + target, with PEFT's
 * initialisation (linear: A ~ U(-1/sqrt(in), 1/sqrt(in)), B = 0; embedding: A = 0, B ~ N(0,1)). */
int xgd_adapter_create(xgd_adapter **out, xgd_model *m, const char *targets_csv, int r, float alpha, int rslora, uint64_t seed);
/* Read a PEFT adapter folder (adapter_config.json + adapter_model.safetensors) for m, with PEFT's
 * per-module rank_pattern / alpha_pattern (each module's own r and scale). bias other than "none"
 * and modules_to_save are refused with a message. */
int xgd_adapter_load(xgd_adapter **out, xgd_model *m, const char *dir);
/* PEFT's pattern lookup (rank_pattern, alpha_pattern: a JSON object, NULL = empty) for a module
 * name; *value is left as is when no key matches. */
int xgd_lora_pattern(const json_t *patterns, const char *module, double *value);
/* Write a PEFT adapter folder that PEFT loads (and the full embedding/head weights when those are
 * targeted, as PEFT's save_embedding_layers="auto" does). */
int xgd_adapter_save(const xgd_adapter *a, const xgd_model *m, const char *dir, const char *base_name);
/* Merge every adapter into the model's weights: W += s·B·A (transposed for Conv1D and embeddings;
 * a tied embedding/head matrix receives both deltas, as merge_and_unload does). The model's
 * weights must be f32 and writable (xgd_params_init). Detaches the adapters. */
int xgd_adapter_merge(xgd_adapter *a);
/* Attach (on = 1) or detach the adapters from the model. */
void xgd_adapter_attach(xgd_adapter *a, int on);
void xgd_adapter_zero_grad(xgd_adapter *a);
void xgd_adapter_free(xgd_adapter *a);

#endif
