/* One transformer block, shared by inference (runtime.h, with a KV cache) and training
 * (train/graph.h, which keeps what backward needs). Internal to the model and train layers. */
#ifndef XGD_MODEL_BLOCK_H
#define XGD_MODEL_BLOCK_H
#include "model/runtime.h"

/* A block's intermediates for N = B*T rows. Inference leaves the optional ones NULL. */
typedef struct {
    float *h;        /* (N, H)    norm1(x): input of attention (and of the MLP when parallel) */
    float *x1;       /* (N, H)    residual after attention (sequential families) */
    float *h2;       /* (N, H)    norm2(x1): input of the MLP (sequential families) */
    float *qkv;      /* (N, 3H)   fused projection (GPT-2, BLOOM) */
    float *q;        /* (N, nH*hd) after qk-norm and RoPE */
    float *k, *v;    /* (N, nKV*hd) */
    float *q_raw, *k_raw; /* (N, nH*hd), (N, nKV*hd) before qk-norm (training with qk-norm only) */
    float *att;      /* (N, nH*hd) attention context */
    float *ao;       /* (N, H)    attention output after the o-projection */
    float *pre;      /* (N, F)    MLP pre-activation (fc, or gate) */
    float *up;       /* (N, F)    gated MLP up projection */
    float *post;     /* (N, F)    MLP neurons */
    float *mo;       /* (N, H)    MLP output */
    /* saved for backward (NULL in inference) */
    float *ln1_mean, *ln1_rstd, *ln2_mean, *ln2_rstd;   /* (N) */
    float *qn_mean, *qn_rstd, *kn_mean, *kn_rstd;       /* (N*nH), (N*nKV) */
    float *probs;    /* (B, nH, T, Tk) */
} xgd_block_acts;

typedef struct {
    int B, T, past;
    const int32_t *pos;       /* (N) position ids */
    const uint8_t *kmask;     /* (B, Tk) key mask, Tk = past + T */
    const int32_t *kpos;      /* (B, Tk) key positions (ALiBi) */
    float *kc, *vc;           /* keys/values read by attention; this call's rows are written at (b, past+t) */
    int64_t kv_bstride;       /* floats between sequences in kc/vc */
    const xgd_fwd *f;         /* hooks and mask for events; may be NULL */
} xgd_block_io;

/* x (N, H): the block's input, replaced by its output. */
void xgd_block_forward(const xgd_model *m, int l, float *x, xgd_block_acts *a, const xgd_block_io *io);
/* Token embeddings (+ learned positions, + BLOOM's embedding norm) into x (N, H); tmp (N, H).
 * _raw stops before the embedding norm (its input, which backward needs). */
int xgd_model_embed_raw(const xgd_model *m, float *x, float *tmp, const int32_t *ids, const int32_t *pos, int64_t N);
int xgd_model_embed(const xgd_model *m, float *x, float *tmp, const int32_t *ids, const int32_t *pos, int64_t N);
/* The attention score scale of layer l (1/sqrt(hd), GPT-2's options). */
float xgd_attn_scale(const xgd_model *m, int l);
/* norm1/norm2/final norm as the family defines it; mean/rstd may be NULL. */
void xgd_model_norm(const xgd_model *m, float *y, float *mean, float *rstd, const float *x, const float *w,
                    const float *b, int64_t N);

#endif
