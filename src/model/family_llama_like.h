/* The tensor rows and config keys that Llama and Cohere share: separate q/k/v/o projections
 * (GQA shapes) and a SwiGLU MLP of gate/up/down, under the "model." prefix. */
#ifndef XGD_MODEL_FAMILY_LLAMA_LIKE_H
#define XGD_MODEL_FAMILY_LLAMA_LIKE_H
#include "model/config.h"
#include <stddef.h>

#define LLAMA_LIKE_ATTN_MLP_ROWS \
    {"model.layers.%d.self_attn.q_proj.weight", offsetof(xgd_layer, q), SLOT_MAT, {DIM_QD, DIM_H}, WHEN_ALWAYS, INIT_NORMAL}, \
    {"model.layers.%d.self_attn.q_proj.bias", offsetof(xgd_layer, q_b), SLOT_VEC, {DIM_QD}, WHEN_ATTN_BIAS, INIT_BIAS}, \
    {"model.layers.%d.self_attn.k_proj.weight", offsetof(xgd_layer, k), SLOT_MAT, {DIM_KVD, DIM_H}, WHEN_ALWAYS, INIT_NORMAL}, \
    {"model.layers.%d.self_attn.k_proj.bias", offsetof(xgd_layer, k_b), SLOT_VEC, {DIM_KVD}, WHEN_ATTN_BIAS, INIT_BIAS}, \
    {"model.layers.%d.self_attn.v_proj.weight", offsetof(xgd_layer, v), SLOT_MAT, {DIM_KVD, DIM_H}, WHEN_ALWAYS, INIT_NORMAL}, \
    {"model.layers.%d.self_attn.v_proj.bias", offsetof(xgd_layer, v_b), SLOT_VEC, {DIM_KVD}, WHEN_ATTN_BIAS, INIT_BIAS}, \
    {"model.layers.%d.self_attn.o_proj.weight", offsetof(xgd_layer, o), SLOT_MAT, {DIM_H, DIM_QD}, WHEN_ALWAYS, INIT_NORMAL}, \
    {"model.layers.%d.self_attn.o_proj.bias", offsetof(xgd_layer, o_b), SLOT_VEC, {DIM_H}, WHEN_ATTN_BIAS, INIT_BIAS}, \
    {"model.layers.%d.mlp.gate_proj.weight", offsetof(xgd_layer, gate), SLOT_MAT, {DIM_F, DIM_H}, WHEN_ALWAYS, INIT_NORMAL}, \
    {"model.layers.%d.mlp.gate_proj.bias", offsetof(xgd_layer, gate_b), SLOT_VEC, {DIM_F}, WHEN_MLP_BIAS, INIT_BIAS}, \
    {"model.layers.%d.mlp.up_proj.weight", offsetof(xgd_layer, up), SLOT_MAT, {DIM_F, DIM_H}, WHEN_ALWAYS, INIT_NORMAL}, \
    {"model.layers.%d.mlp.up_proj.bias", offsetof(xgd_layer, up_b), SLOT_VEC, {DIM_F}, WHEN_MLP_BIAS, INIT_BIAS}, \
    {"model.layers.%d.mlp.down_proj.weight", offsetof(xgd_layer, down), SLOT_MAT, {DIM_H, DIM_F}, WHEN_ALWAYS, INIT_NORMAL}, \
    {"model.layers.%d.mlp.down_proj.bias", offsetof(xgd_layer, down_b), SLOT_VEC, {DIM_H}, WHEN_MLP_BIAS, INIT_BIAS}

/* Shape keys common to both (LlamaConfig / CohereConfig spellings). */
int llama_like_parse_shapes(const json_t *c, xgd_hparams *hp);
/* Write those keys back. */
void llama_like_write_shapes(json_t *o, const xgd_hparams *hp);

#endif
