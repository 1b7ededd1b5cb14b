/* Llama-2 / Llama-3 / 3.1: RMSNorm, half-split RoPE (with llama3/linear/dynamic scaling), GQA,
 * SwiGLU, optional attention/MLP biases, untied head by default. hf-spec §2.c. */
#include "model/family_llama_like.h"

#define G(f) offsetof(xgd_globals, f)

static const xgd_tensor_spec globals[] = {
    {"model.embed_tokens.weight", G(embed), SLOT_MAT, {DIM_V, DIM_H}, WHEN_ALWAYS, INIT_NORMAL},
    {"model.norm.weight", G(final_w), SLOT_VEC, {DIM_H}, WHEN_ALWAYS, INIT_NORM_WEIGHT},
    {"lm_head.weight", G(lm_head), SLOT_MAT, {DIM_V, DIM_H}, WHEN_UNTIED, INIT_NORMAL},
    {0},
};

static const xgd_tensor_spec layer[] = {
    {"model.layers.%d.input_layernorm.weight", offsetof(xgd_layer, ln1_w), SLOT_VEC, {DIM_H}, WHEN_ALWAYS, INIT_NORM_WEIGHT},
    {"model.layers.%d.post_attention_layernorm.weight", offsetof(xgd_layer, ln2_w), SLOT_VEC, {DIM_H}, WHEN_ALWAYS, INIT_NORM_WEIGHT},
    LLAMA_LIKE_ATTN_MLP_ROWS,
    {0},
};

static void defaults(xgd_hparams *hp) {
    hp->vocab = 32000; hp->hidden = 4096; hp->inter = 11008; hp->n_layer = 32; hp->n_head = 32;
    hp->max_pos = 2048; hp->norm_eps = 1e-6f; hp->rope_theta = 10000; hp->act = XGD_ACT_SILU;
    hp->tied = 0; hp->bos_id = 1; hp->eos_ids[0] = 2; hp->n_eos = 1; hp->pad_id = -1;
}

static int parse(const json_t *c, xgd_hparams *hp) {
    if (llama_like_parse_shapes(c, hp) != 0) return -1;
    hp->norm_eps = (float)cfg_num(c, hp->norm_eps, "rms_norm_eps", NULL);
    hp->attn_bias = cfg_bool(c, 0, "attention_bias", NULL);
    hp->mlp_bias = cfg_bool(c, 0, "mlp_bias", NULL);
    return 0;
}

static json_t *write(const xgd_hparams *hp) {
    json_t *o = json_object();
    cfg_write_common(o, &xgd_family_llama, hp);
    llama_like_write_shapes(o, hp);
    json_object_set_new(o, "rms_norm_eps", json_real(hp->norm_eps));
    json_object_set_new(o, "attention_bias", json_boolean(hp->attn_bias));
    json_object_set_new(o, "mlp_bias", json_boolean(hp->mlp_bias));
    json_object_set_new(o, "pretraining_tp", json_integer(1));
    return o;
}

const xgd_family xgd_family_llama = {
    .model_type = "llama", .architecture = "LlamaForCausalLM", .prefix = "model.",
    .weight_layout = XGD_W_OUT_IN, .norm = NORM_RMSNORM, .pos = POS_ROPE, .qkv = QKV_SEPARATE,
    .gated_mlp = 1, .resid = RESID_SEQUENTIAL, .has_embed_norm = 0,
    .globals = globals, .layer = layer, .parse_config = parse, .write_config = write, .defaults = defaults,
};
