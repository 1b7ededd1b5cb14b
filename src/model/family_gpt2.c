/* GPT-2 (and ai-forever/mGPT): learned positions, Conv1D weights stored (in, out), fused [Q;K;V]
 * blocks, LayerNorm with bias, gelu_new MLP, tied head. hf-spec §2.a. */
#include "model/config.h"
#include <stddef.h>

#define L(f) offsetof(xgd_layer, f)
#define G(f) offsetof(xgd_globals, f)

static const xgd_tensor_spec globals[] = {
    {"transformer.wte.weight", G(embed), SLOT_MAT, {DIM_V, DIM_H}, WHEN_ALWAYS, INIT_NORMAL},
    {"transformer.wpe.weight", G(pos_embed), SLOT_MAT, {DIM_POS, DIM_H}, WHEN_ALWAYS, INIT_NORMAL},
    {"transformer.ln_f.weight", G(final_w), SLOT_VEC, {DIM_H}, WHEN_ALWAYS, INIT_NORM_WEIGHT},
    {"transformer.ln_f.bias", G(final_b), SLOT_VEC, {DIM_H}, WHEN_ALWAYS, INIT_BIAS},
    {"lm_head.weight", G(lm_head), SLOT_MAT, {DIM_V, DIM_H}, WHEN_UNTIED, INIT_NORMAL},
    {0},
};

/* Conv1D shapes are (in, out). */
static const xgd_tensor_spec layer[] = {
    {"transformer.h.%d.ln_1.weight", L(ln1_w), SLOT_VEC, {DIM_H}, WHEN_ALWAYS, INIT_NORM_WEIGHT},
    {"transformer.h.%d.ln_1.bias", L(ln1_b), SLOT_VEC, {DIM_H}, WHEN_ALWAYS, INIT_BIAS},
    {"transformer.h.%d.attn.c_attn.weight", L(qkv), SLOT_MAT, {DIM_H, DIM_3H}, WHEN_ALWAYS, INIT_NORMAL},
    {"transformer.h.%d.attn.c_attn.bias", L(qkv_b), SLOT_VEC, {DIM_3H}, WHEN_ALWAYS, INIT_BIAS},
    {"transformer.h.%d.attn.c_proj.weight", L(o), SLOT_MAT, {DIM_H, DIM_H}, WHEN_ALWAYS, INIT_NORMAL},
    {"transformer.h.%d.attn.c_proj.bias", L(o_b), SLOT_VEC, {DIM_H}, WHEN_ALWAYS, INIT_BIAS},
    {"transformer.h.%d.ln_2.weight", L(ln2_w), SLOT_VEC, {DIM_H}, WHEN_ALWAYS, INIT_NORM_WEIGHT},
    {"transformer.h.%d.ln_2.bias", L(ln2_b), SLOT_VEC, {DIM_H}, WHEN_ALWAYS, INIT_BIAS},
    {"transformer.h.%d.mlp.c_fc.weight", L(up), SLOT_MAT, {DIM_H, DIM_F}, WHEN_ALWAYS, INIT_NORMAL},
    {"transformer.h.%d.mlp.c_fc.bias", L(up_b), SLOT_VEC, {DIM_F}, WHEN_ALWAYS, INIT_BIAS},
    {"transformer.h.%d.mlp.c_proj.weight", L(down), SLOT_MAT, {DIM_F, DIM_H}, WHEN_ALWAYS, INIT_NORMAL},
    {"transformer.h.%d.mlp.c_proj.bias", L(down_b), SLOT_VEC, {DIM_H}, WHEN_ALWAYS, INIT_BIAS},
    {0},
};

static void defaults(xgd_hparams *hp) {
    hp->vocab = 50257; hp->max_pos = 1024; hp->hidden = 768; hp->n_layer = 12; hp->n_head = 12;
    hp->inter = 0; hp->norm_eps = 1e-5f; hp->act = XGD_ACT_GELU_TANH; hp->tied = 1;
    hp->scale_attn_weights = 1; hp->bos_id = 50256; hp->eos_ids[0] = 50256; hp->n_eos = 1; hp->pad_id = -1;
}

static int parse(const json_t *c, xgd_hparams *hp) {
    hp->vocab = (int)cfg_int(c, hp->vocab, "vocab_size", NULL);
    hp->hidden = (int)cfg_int(c, hp->hidden, "n_embd", "hidden_size", NULL);
    hp->n_layer = (int)cfg_int(c, hp->n_layer, "n_layer", "num_hidden_layers", NULL);
    hp->n_head = (int)cfg_int(c, hp->n_head, "n_head", "num_attention_heads", NULL);
    hp->max_pos = (int)cfg_int(c, hp->max_pos, "n_positions", "max_position_embeddings", NULL);
    hp->inter = (int)cfg_int(c, 4 * (int64_t)hp->hidden, "n_inner", NULL);
    hp->norm_eps = (float)cfg_num(c, hp->norm_eps, "layer_norm_epsilon", NULL);
    const char *act = json_string_value(json_object_get(c, "activation_function"));
    if (act) hp->act = cfg_act(act);
    hp->scale_attn_weights = cfg_bool(c, 1, "scale_attn_weights", NULL);
    hp->scale_attn_by_layer = cfg_bool(c, 0, "scale_attn_by_inverse_layer_idx", NULL);
    cfg_common(c, hp);
    hp->n_kv = hp->n_head;
    hp->head_dim = hp->n_head ? hp->hidden / hp->n_head : 0;
    return 0;
}

static json_t *write(const xgd_hparams *hp) {
    json_t *o = json_object();
    cfg_write_common(o, &xgd_family_gpt2, hp);
    json_object_set_new(o, "n_embd", json_integer(hp->hidden));
    json_object_set_new(o, "n_layer", json_integer(hp->n_layer));
    json_object_set_new(o, "n_head", json_integer(hp->n_head));
    json_object_set_new(o, "n_positions", json_integer(hp->max_pos));
    json_object_set_new(o, "n_ctx", json_integer(hp->max_pos));
    json_object_set_new(o, "n_inner", json_integer(hp->inter));
    json_object_set_new(o, "activation_function", json_string(hp->act == XGD_ACT_GELU_ERF ? "gelu" : "gelu_new"));
    json_object_set_new(o, "layer_norm_epsilon", json_real(hp->norm_eps));
    json_object_set_new(o, "scale_attn_weights", json_boolean(hp->scale_attn_weights));
    json_object_set_new(o, "scale_attn_by_inverse_layer_idx", json_boolean(hp->scale_attn_by_layer));
    json_object_set_new(o, "initializer_range", json_real(0.02));
    return o;
}

const xgd_family xgd_family_gpt2 = {
    .model_type = "gpt2", .architecture = "GPT2LMHeadModel", .prefix = "transformer.",
    .weight_layout = XGD_W_IN_OUT, .norm = NORM_LAYERNORM, .pos = POS_LEARNED, .qkv = QKV_BLOCKS,
    .gated_mlp = 0, .resid = RESID_SEQUENTIAL, .has_embed_norm = 0,
    .globals = globals, .layer = layer, .parse_config = parse, .write_config = write, .defaults = defaults,
};
