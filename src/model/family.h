/* A model family is a description, not code: which tensors it has (names, shapes, where they go),
 * how its config.json spells the hyperparameters, and which variant of each shared step it uses
 * (norm kind, position scheme, QKV layout, MLP kind, residual wiring). One runtime (forward.c)
 * executes every family from this description. */
#ifndef XGD_MODEL_FAMILY_H
#define XGD_MODEL_FAMILY_H
#include <jansson.h>
#include <stddef.h>
#include "ops/ops.h"

/* Hyperparameters, family-independent. Read from config.json by the family's parse function. */
typedef struct {
    int vocab, hidden, n_layer, n_head, n_kv, head_dim, inter, max_pos;
    float norm_eps;
    int act;                  /* XGD_ACT_* of the MLP */
    float logit_scale;        /* Cohere; 1 otherwise */
    int tied;                 /* lm_head = input embedding */
    int attn_bias, mlp_bias;  /* Llama options (GPT-2/BLOOM always have biases) */
    int qk_norm;              /* Cohere use_qk_norm */
    int post_ln_residual;     /* BLOOM apply_residual_connection_post_layernorm */
    int scale_attn_weights;   /* GPT-2: divide scores by sqrt(hd) (true by default) */
    int scale_attn_by_layer;  /* GPT-2 scale_attn_by_inverse_layer_idx */
    double rope_theta;
    xgd_rope_scaling rope;
    int bos_id, pad_id;
    int eos_ids[8], n_eos;
    xgd_dtype dtype;          /* config's torch_dtype/dtype (informational; tensors keep their own) */
} xgd_hparams;

/* Symbolic dimensions used by tensor shapes. */
typedef enum {
    DIM_NONE = 0, DIM_V, DIM_H, DIM_3H, DIM_F, DIM_QD, DIM_KVD, DIM_QKVD, DIM_POS, DIM_HD, DIM_NH, DIM_NKV,
} xgd_dim;

enum { SLOT_MAT, SLOT_VEC };          /* matrix kept in stored dtype / small vector converted to f32 */
enum { WHEN_ALWAYS, WHEN_ATTN_BIAS, WHEN_MLP_BIAS, WHEN_QK_NORM, WHEN_UNTIED };

/* One tensor of the family: canonical name (printf template with the layer index for per-layer
 * tensors), its stored shape, and the slot (offset into xgd_layer or xgd_globals) it binds to. */
typedef struct {
    const char *name;
    size_t slot;              /* offsetof(...) into xgd_layer (per_layer) or xgd_globals */
    int kind;                 /* SLOT_MAT / SLOT_VEC */
    xgd_dim shape[2];         /* stored shape; DIM_NONE for the second of a vector */
    int when;                 /* WHEN_* condition */
    int init;                 /* how `xgd init` fills it: INIT_NORMAL, INIT_ONE (norm weight), INIT_ZERO-ish */
} xgd_tensor_spec;
enum { INIT_NORMAL = 0, INIT_NORM_WEIGHT, INIT_BIAS };

/* LoRA adapters that can wrap a block's linear layers (model/lora.h); NULL when none. */
enum { XGD_LORA_Q, XGD_LORA_K, XGD_LORA_V, XGD_LORA_O, XGD_LORA_QKV, XGD_LORA_UP, XGD_LORA_GATE, XGD_LORA_DOWN, XGD_LORA_SLOTS };
struct xgd_lora;

/* Weights of one block. Unused slots stay zero/NULL. Matrices have logical shape (out, in). */
typedef struct {
    float *ln1_w, *ln1_b, *ln2_w, *ln2_b;
    xgd_wmat qkv, q, k, v, o;
    float *qkv_b, *q_b, *k_b, *v_b, *o_b;
    float *q_norm, *k_norm;                   /* Cohere qk-norm weights (nH,hd) / (nKV,hd) */
    xgd_wmat up, gate, down;                  /* plain MLP: act(up)·down; gated: act(gate)*up ·down */
    float *up_b, *gate_b, *down_b;
    struct xgd_lora *lora[XGD_LORA_SLOTS];    /* adapters on q, k, v, o, qkv, up, gate, down */
} xgd_layer;

typedef struct {
    xgd_wmat embed, pos_embed, lm_head;
    float *embed_ln_w, *embed_ln_b;           /* BLOOM word_embeddings_layernorm */
    float *final_w, *final_b;
    struct xgd_lora *lora_embed, *lora_head;  /* adapters on the input embedding and the output head */
} xgd_globals;

typedef enum { NORM_LAYERNORM, NORM_RMSNORM } xgd_norm_kind;
typedef enum { POS_LEARNED, POS_ALIBI, POS_ROPE, POS_ROPE_INTERLEAVED } xgd_pos_kind;
typedef enum { QKV_BLOCKS, QKV_PER_HEAD, QKV_SEPARATE } xgd_qkv_kind;
typedef enum { RESID_SEQUENTIAL, RESID_PARALLEL } xgd_resid_kind;

typedef struct xgd_family {
    const char *model_type;       /* config.json model_type */
    const char *architecture;     /* architectures[0] written by `xgd init` */
    const char *prefix;           /* base-model prefix that original checkpoints may lack */
    int weight_layout;            /* XGD_W_OUT_IN (nn.Linear) or XGD_W_IN_OUT (GPT-2 Conv1D) */
    xgd_norm_kind norm;
    xgd_pos_kind pos;
    xgd_qkv_kind qkv;
    int gated_mlp;
    xgd_resid_kind resid;
    int has_embed_norm;
    const xgd_tensor_spec *globals, *layer; /* each terminated by {0} */
    /* Read hyperparameters from config.json (both transformers v4 and v5 spellings). */
    int (*parse_config)(const json_t *cfg, xgd_hparams *hp);
    /* Write a complete config.json object for hp (used by `xgd init`). */
    json_t *(*write_config)(const xgd_hparams *hp);
    /* Default hyperparameters of the family (transformers' config defaults). */
    void (*defaults)(xgd_hparams *hp);
} xgd_family;

/* The families known to the runtime. */
extern const xgd_family xgd_family_gpt2, xgd_family_bloom, xgd_family_llama, xgd_family_cohere;
/* Look up by model_type, or by an architectures[] entry; NULL if unknown. */
const xgd_family *xgd_family_find(const char *model_type);
const xgd_family *xgd_family_from_config(const json_t *cfg);
/* Comma-separated list of known model types (for error messages). */
const char *xgd_family_names(void);
/* Value of a symbolic dimension for hp. */
int64_t xgd_dim_value(const xgd_hparams *hp, xgd_dim d);
/* Whether a spec applies under hp. */
int xgd_spec_applies(const xgd_tensor_spec *s, const xgd_hparams *hp);
/* Visit every tensor the family has under hp, globals first then layer by layer, with its
 * canonical name and the address of its slot in g or layers[l]. Stops at the first non-zero
 * return of fn and returns it. */
typedef int (*xgd_tensor_visit)(const xgd_tensor_spec *s, const char *name, void *slot, int per_layer, void *user);
int xgd_family_foreach(const xgd_family *fam, const xgd_hparams *hp, xgd_globals *g, xgd_layer *layers,
                       xgd_tensor_visit fn, void *user);

#endif
