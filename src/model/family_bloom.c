/* BLOOM: no position embeddings (ALiBi), LayerNorm on the embeddings, fused QKV laid out per head
 * as (nH, 3, hd), LayerNorm with bias, bloom_gelu (tanh) MLP of 4H, tied head. hf-spec §2.b. */
#include "model/config.h"
#include <stddef.h>

#define L(f) offsetof(xgd_layer, f)
#define G(f) offsetof(xgd_globals, f)

static const xgd_tensor_spec globals[] = {
    {"transformer.word_embeddings.weight", G(embed), SLOT_MAT, {DIM_V, DIM_H}, WHEN_ALWAYS, INIT_NORMAL},
    {"transformer.word_embeddings_layernorm.weight", G(embed_ln_w), SLOT_VEC, {DIM_H}, WHEN_ALWAYS, INIT_NORM_WEIGHT},
    {"transformer.word_embeddings_layernorm.bias", G(embed_ln_b), SLOT_VEC, {DIM_H}, WHEN_ALWAYS, INIT_BIAS},
    {"transformer.ln_f.weight", G(final_w), SLOT_VEC, {DIM_H}, WHEN_ALWAYS, INIT_NORM_WEIGHT},
    {"transformer.ln_f.bias", G(final_b), SLOT_VEC, {DIM_H}, WHEN_ALWAYS, INIT_BIAS},
    {"lm_head.weight", G(lm_head), SLOT_MAT, {DIM_V, DIM_H}, WHEN_UNTIED, INIT_NORMAL},
    {0},
};

static const xgd_tensor_spec layer[] = {
    {"transformer.h.%d.input_layernorm.weight", L(ln1_w), SLOT_VEC, {DIM_H}, WHEN_ALWAYS, INIT_NORM_WEIGHT},
    {"transformer.h.%d.input_layernorm.bias", L(ln1_b), SLOT_VEC, {DIM_H}, WHEN_ALWAYS, INIT_BIAS},
    {"transformer.h.%d.self_attention.query_key_value.weight", L(qkv), SLOT_MAT, {DIM_3H, DIM_H}, WHEN_ALWAYS, INIT_NORMAL},
    {"transformer.h.%d.self_attention.query_key_value.bias", L(qkv_b), SLOT_VEC, {DIM_3H}, WHEN_ALWAYS, INIT_BIAS},
    {"transformer.h.%d.self_attention.dense.weight", L(o), SLOT_MAT, {DIM_H, DIM_H}, WHEN_ALWAYS, INIT_NORMAL},
    {"transformer.h.%d.self_attention.dense.bias", L(o_b), SLOT_VEC, {DIM_H}, WHEN_ALWAYS, INIT_BIAS},
    {"transformer.h.%d.post_attention_layernorm.weight", L(ln2_w), SLOT_VEC, {DIM_H}, WHEN_ALWAYS, INIT_NORM_WEIGHT},
    {"transformer.h.%d.post_attention_layernorm.bias", L(ln2_b), SLOT_VEC, {DIM_H}, WHEN_ALWAYS, INIT_BIAS},
    {"transformer.h.%d.mlp.dense_h_to_4h.weight", L(up), SLOT_MAT, {DIM_F, DIM_H}, WHEN_ALWAYS, INIT_NORMAL},
    {"transformer.h.%d.mlp.dense_h_to_4h.bias", L(up_b), SLOT_VEC, {DIM_F}, WHEN_ALWAYS, INIT_BIAS},
    {"transformer.h.%d.mlp.dense_4h_to_h.weight", L(down), SLOT_MAT, {DIM_H, DIM_F}, WHEN_ALWAYS, INIT_NORMAL},
    {"transformer.h.%d.mlp.dense_4h_to_h.bias", L(down_b), SLOT_VEC, {DIM_H}, WHEN_ALWAYS, INIT_BIAS},
    {0},
};

static void defaults(xgd_hparams *hp) {
    hp->vocab = 250880; hp->hidden = 64; hp->n_layer = 2; hp->n_head = 8; hp->norm_eps = 1e-5f;
    hp->act = XGD_ACT_GELU_TANH; hp->tied = 1; hp->bos_id = 1; hp->eos_ids[0] = 2; hp->n_eos = 1; hp->pad_id = 3;
    hp->max_pos = 2048;
}

static int parse(const json_t *c, xgd_hparams *hp) {
    hp->vocab = (int)cfg_int(c, hp->vocab, "vocab_size", NULL);
    hp->hidden = (int)cfg_int(c, hp->hidden, "hidden_size", "n_embed", NULL);
    hp->n_layer = (int)cfg_int(c, hp->n_layer, "n_layer", "num_hidden_layers", NULL);
    hp->n_head = (int)cfg_int(c, hp->n_head, "n_head", "num_attention_heads", NULL);
    hp->norm_eps = (float)cfg_num(c, hp->norm_eps, "layer_norm_epsilon", NULL);
    hp->post_ln_residual = cfg_bool(c, 0, "apply_residual_connection_post_layernorm", NULL);
    hp->max_pos = (int)cfg_int(c, hp->max_pos, "seq_length", "max_position_embeddings", NULL);
    cfg_common(c, hp);
    hp->inter = 4 * hp->hidden;  /* BLOOM ignores n_inner: the MLP is always 4H */
    hp->n_kv = hp->n_head;
    hp->head_dim = hp->n_head ? hp->hidden / hp->n_head : 0;
    return 0;
}

static json_t *write(const xgd_hparams *hp) {
    json_t *o = json_object();
    cfg_write_common(o, &xgd_family_bloom, hp);
    json_object_set_new(o, "hidden_size", json_integer(hp->hidden));
    json_object_set_new(o, "n_layer", json_integer(hp->n_layer));
    json_object_set_new(o, "n_head", json_integer(hp->n_head));
    json_object_set_new(o, "layer_norm_epsilon", json_real(hp->norm_eps));
    json_object_set_new(o, "apply_residual_connection_post_layernorm", json_boolean(hp->post_ln_residual));
    json_object_set_new(o, "pretraining_tp", json_integer(1));
    json_object_set_new(o, "slow_but_exact", json_false());
    json_object_set_new(o, "initializer_range", json_real(0.02));
    return o;
}

const xgd_family xgd_family_bloom = {
    .model_type = "bloom", .architecture = "BloomForCausalLM", .prefix = "transformer.",
    .weight_layout = XGD_W_OUT_IN, .norm = NORM_LAYERNORM, .pos = POS_ALIBI, .qkv = QKV_PER_HEAD,
    .gated_mlp = 0, .resid = RESID_SEQUENTIAL, .has_embed_norm = 1,
    .globals = globals, .layer = layer, .parse_config = parse, .write_config = write, .defaults = defaults,
};
