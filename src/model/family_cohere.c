/* Cohere (Aya-23): one LayerNorm per block (mean-centred, weight only), attention and MLP in
 * parallel on the same normed input, interleaved RoPE, optional per-head qk LayerNorm, tied head,
 * logits multiplied by logit_scale. hf-spec §2.d. */
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
    {"model.layers.%d.self_attn.q_norm.weight", offsetof(xgd_layer, q_norm), SLOT_VEC, {DIM_NH, DIM_HD}, WHEN_QK_NORM, INIT_NORM_WEIGHT},
    {"model.layers.%d.self_attn.k_norm.weight", offsetof(xgd_layer, k_norm), SLOT_VEC, {DIM_NKV, DIM_HD}, WHEN_QK_NORM, INIT_NORM_WEIGHT},
    LLAMA_LIKE_ATTN_MLP_ROWS,
    {0},
};

static void defaults(xgd_hparams *hp) {
    hp->vocab = 256000; hp->hidden = 8192; hp->inter = 22528; hp->n_layer = 40; hp->n_head = 64;
    hp->max_pos = 8192; hp->norm_eps = 1e-5f; hp->rope_theta = 10000; hp->act = XGD_ACT_SILU;
    hp->tied = 1; hp->logit_scale = 0.0625f; hp->bos_id = 5; hp->eos_ids[0] = 255001; hp->n_eos = 1; hp->pad_id = 0;
}

static int parse(const json_t *c, xgd_hparams *hp) {
    if (llama_like_parse_shapes(c, hp) != 0) return -1;
    hp->norm_eps = (float)cfg_num(c, hp->norm_eps, "layer_norm_eps", NULL);
    hp->logit_scale = (float)cfg_num(c, hp->logit_scale, "logit_scale", NULL);
    hp->qk_norm = cfg_bool(c, 0, "use_qk_norm", NULL);
    hp->attn_bias = cfg_bool(c, 0, "attention_bias", NULL);
    return 0;
}

static json_t *write(const xgd_hparams *hp) {
    json_t *o = json_object();
    cfg_write_common(o, &xgd_family_cohere, hp);
    llama_like_write_shapes(o, hp);
    json_object_set_new(o, "layer_norm_eps", json_real(hp->norm_eps));
    json_object_set_new(o, "logit_scale", json_real(hp->logit_scale));
    json_object_set_new(o, "use_qk_norm", json_boolean(hp->qk_norm));
    json_object_set_new(o, "attention_bias", json_boolean(hp->attn_bias));
    return o;
}

const xgd_family xgd_family_cohere = {
    .model_type = "cohere", .architecture = "CohereForCausalLM", .prefix = "model.",
    .weight_layout = XGD_W_OUT_IN, .norm = NORM_LAYERNORM, .pos = POS_ROPE_INTERLEAVED, .qkv = QKV_SEPARATE,
    .gated_mlp = 1, .resid = RESID_PARALLEL, .has_embed_norm = 0,
    .globals = globals, .layer = layer, .parse_config = parse, .write_config = write, .defaults = defaults,
};
